"""The code graph's ranking of a report: a personalised PageRank seeded by the evidence.

The definitions the evidence points at (a frame's function, the code that raises a quoted
message, a named definition, a named module) and the best chunks of the other rankings are the
seeds; their weight spreads along the graph — to callers and callees, to the containing and
contained definitions, to subclasses and bases, to sibling modules through their package — for a
few iterations, with a restart to the seeds at each step so that the walk stays near them. No
model is involved; the cost is a few sparse products over the graph's edges (numpy).

Each definition the walk ranks carries its reason, read from the strongest seed next to it:
"called by `Session.send` (frame 2 of the traceback …)".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ragqa.index.graph import CALLS, CONTAINS, IMPORTS, INHERITS, CodeGraph, Node

RESTART = 0.35  # share of the walk that returns to the seeds at each step
ITERATIONS = 12
RESULTS = 40  # chunks in the graph's ranking
# Weight of an edge in each direction: (forward, backward), by edge kind.
EDGE_WEIGHTS = {CALLS: (1.0, 0.8), CONTAINS: (0.4, 0.6), INHERITS: (0.6, 0.6), IMPORTS: (0.1, 0.1)}
SEED_RANKED = 0.4  # a top chunk of the other rankings seeds this much (evidence: its strength)


@dataclass(frozen=True)
class _Walk:
    """The graph as a column-normalised transition: from `source` to `target` with `weight`."""

    source: npt.NDArray[np.int32]
    target: npt.NDArray[np.int32]
    weight: npt.NDArray[np.float64]
    size: int


_WALKS: dict[int, tuple[CodeGraph, _Walk]] = {}


def _walk(graph: CodeGraph) -> _Walk:
    cached = _WALKS.get(id(graph))
    if cached is not None and cached[0] is graph:
        return cached[1]
    forward = np.array([EDGE_WEIGHTS[int(kind)][0] for kind in range(4)])[graph.kind]
    backward = np.array([EDGE_WEIGHTS[int(kind)][1] for kind in range(4)])[graph.kind]
    source = np.concatenate([graph.src, graph.dst])
    target = np.concatenate([graph.dst, graph.src])
    weight = np.concatenate([forward * graph.weight, backward * graph.weight]).astype(np.float64)
    size = len(graph)
    total = np.bincount(source, weights=weight, minlength=size)
    weight = weight / np.maximum(total[source], 1e-12)
    walk = _Walk(source.astype(np.int32), target.astype(np.int32), weight, size)
    if len(_WALKS) > 16:
        _WALKS.clear()
    _WALKS[id(graph)] = (graph, walk)
    return walk


def personalised_pagerank(graph: CodeGraph, seeds: dict[int, float], iterations: int = ITERATIONS,
                          restart: float = RESTART) -> npt.NDArray[np.float64]:
    """Every node's visit share of a walk that restarts at `seeds` (node id → weight)."""
    walk = _walk(graph)
    start = np.zeros(walk.size)
    for node, weight in seeds.items():
        start[node] += weight
    if not start.any():
        return start
    start /= start.sum()
    rank = start.copy()
    for _ in range(iterations):
        spread = np.bincount(walk.target, weights=walk.weight * rank[walk.source], minlength=walk.size)
        rank = restart * start + (1 - restart) * spread
    return rank


@dataclass
class GraphRanking:
    """Chunks by the walk's weight of the definitions starting in them, with the reasons of
    the definitions the walk reached from a seed."""

    chunks: list[tuple[str, float]]
    reasons: dict[str, list[str]]
    files: list[tuple[str, float]] = field(default_factory=list)  # per file: its best chunk, its mass


def rank(graph: CodeGraph, seeds: dict[int, tuple[float, str]], limit: int = RESULTS) -> GraphRanking:
    """The graph's ranking from `seeds` (node id → (weight, the seed's reason))."""
    scores = personalised_pagerank(graph, {node: weight for node, (weight, _) in seeds.items()})
    order = np.argsort(-scores)
    chunks: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    for node_id in order[: limit * 3]:
        score = float(scores[node_id])
        if score <= 0 or len(chunks) >= limit:
            break
        node = graph.nodes[int(node_id)]
        if node.kind == "package":
            continue
        first = node.chunk_id not in chunks  # the chunk's best node gives its reason
        chunks[node.chunk_id] = max(chunks.get(node.chunk_id, 0.0), score)
        if first and not seeds.get(node.id, (0.0, ""))[1] and node.kind != "module":
            reason = _reason(graph, node, seeds)
            if reason:
                reasons[node.chunk_id] = [reason]
    return GraphRanking(sorted(chunks.items(), key=lambda item: -item[1]), reasons,
                        _files(graph, scores, order[: limit * 10]))


def _files(graph: CodeGraph, scores: npt.NDArray[np.float64], order: npt.NDArray[np.intp]
           ) -> list[tuple[str, float]]:
    """Files by the walk's mass summed over their definitions, each standing as the chunk of its
    best-visited definition: (chunk id, mass), best first."""
    mass: dict[str, float] = {}
    best: dict[str, str] = {}
    for node_id in order:
        score = float(scores[node_id])
        node = graph.nodes[int(node_id)]
        if score <= 0 or node.kind == "package":
            continue
        mass[node.path] = mass.get(node.path, 0.0) + score
        best.setdefault(node.path, node.chunk_id)
    return sorted(((best[path], total) for path, total in mass.items()), key=lambda item: -item[1])


def _reason(graph: CodeGraph, node: Node, seeds: dict[int, tuple[float, str]]) -> str:
    """Why the walk reached `node`: its strongest seed neighbour (`called by `X` (why X))`),
    a seed the evidence gave before one the other rankings gave."""
    best: tuple[bool, float, Node, str] | None = None
    for other, relation in graph.neighbours(node):
        seed = seeds.get(other.id)
        if seed is None or other.kind in ("module", "package"):
            continue
        candidate = (bool(seed[1]), seed[0], other, relation)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        return ""
    _, _, other, relation = best
    why = seeds[other.id][1]
    return f"{relation} `{other.name}`" + (f" ({why})" if why else "")


def seed_nodes(graph: CodeGraph, chunks: list[tuple[str, str, float, int | None, str]],
               modules: list[tuple[str, float, str]]) -> dict[int, tuple[float, str]]:
    """Seeds from evidence: per chunk (id, path, strength, the line the clue is on, its reason)
    the innermost definition holding that line (else the definitions starting in the chunk); per
    whole file (path, strength, reason) its module."""
    seeds: dict[int, tuple[float, str]] = {}

    def add(node: Node, strength: float, reason: str) -> None:
        if strength > seeds.get(node.id, (0.0, ""))[0]:
            seeds[node.id] = (strength, reason)

    for chunk_id, path, strength, line, reason in chunks:
        held = graph.at(path, line) if line is not None else None
        chosen = [held] if held is not None else \
            [node for node in graph.at_chunk(chunk_id) if node.kind != "package"][:2]
        for node in chosen:
            add(node, strength, reason)
    for path, strength, reason in modules:
        module = graph.module_of(path)
        if module is not None:
            add(module, strength, reason)
    return seeds
