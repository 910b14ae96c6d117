"""Localisation: from ranked chunks to the files to change and, inside them, the functions and
classes — each with the reasons the evidence gave (`ragqa locate`, `POST /locate`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ragqa.index import StoredChunk
from ragqa.retrieve.evidence import Evidence
from ragqa.retrieve.project import ProjectIndex
from ragqa.retrieve.retriever import Ranking

SEARCH_REASON = "close to the issue's words and meaning"
CANDIDATE_CHUNKS = 300  # the best-ranked chunks grouped into files


@dataclass
class LocatedSymbol:
    """A function or class (or the lines of a chunk outside any) inside a located file."""

    name: str
    kind: str
    start_line: int
    end_line: int
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class LocatedFile:
    path: str
    score: float
    reasons: list[str] = field(default_factory=list)
    symbols: list[LocatedSymbol] = field(default_factory=list)


def locate(project: ProjectIndex, ranking: Ranking, top_k: int, symbols_per_file: int = 3
           ) -> list[LocatedFile]:
    """The `top_k` best files of `ranking` (a file scores as its best chunk) with their best
    `symbols_per_file` definitions."""
    by_file: dict[str, list[tuple[str, float]]] = {}
    for chunk_id, score in ranking.fused[:CANDIDATE_CHUNKS]:
        path = project.chunk_paths.get(chunk_id)
        if path is not None:
            by_file.setdefault(path, []).append((chunk_id, score))
    evidence = ranking.evidence
    files = sorted(by_file, key=lambda path: -by_file[path][0][1])[:top_k]
    located = []
    for path in files:
        chunks = by_file[path]
        reasons = [reason for chunk_id, _ in chunks for reason in _reasons(evidence, chunk_id)]
        reasons += _reasons(evidence, path)
        located.append(LocatedFile(path, round(chunks[0][1], 4),
                                   list(dict.fromkeys(reasons)) or [SEARCH_REASON],
                                   _symbols(project, path, chunks, evidence, symbols_per_file)))
    return located


@dataclass
class LocatedFunction:
    """A function, method or class anywhere in the project, ranked on its own."""

    path: str
    symbol: LocatedSymbol


def locate_functions(project: ProjectIndex, ranking: Ranking, top_k: int) -> list[LocatedFunction]:
    """The `top_k` best definitions across files (`ragqa locate --functions`): each best-ranked
    chunk stands for the definition it holds (the innermost one holding the line the evidence
    points at, else the one starting in it); lines outside any definition are left out."""
    evidence = ranking.evidence
    candidates = ranking.fused[:top_k * 4]
    stored = {chunk.id: chunk for chunk in project.chunks([chunk_id for chunk_id, _ in candidates])}
    found: dict[tuple[str, str, int], LocatedFunction] = {}
    for chunk_id, score in candidates:
        path = project.chunk_paths.get(chunk_id)
        chunk = stored.get(chunk_id)
        if path is None or chunk is None or project.file_kinds.get(path) != "code":
            continue
        entry = project.record.files[path]
        line = evidence.lines.get(chunk_id) if evidence is not None else None
        name, kind, start, end = _definition(entry.symbols, entry.chunks.index(chunk_id), chunk, line)
        if kind == "lines":
            continue
        key = (path, name, start)
        if key in found:
            reasons = found[key].symbol.reasons
            reasons.extend(r for r in _reasons(evidence, chunk_id) if r not in reasons)
            continue
        found[key] = LocatedFunction(path, LocatedSymbol(name, kind, start, end, round(score, 4),
                                                         _reasons(evidence, chunk_id) or [SEARCH_REASON]))
        if len(found) >= top_k:
            break
    return list(found.values())


def _reasons(evidence: Evidence | None, key: str) -> list[str]:
    return list(evidence.reasons.get(key, [])) if evidence is not None else []


def _symbols(project: ProjectIndex, path: str, chunks: list[tuple[str, float]], evidence: Evidence | None,
             limit: int) -> list[LocatedSymbol]:
    """The definitions the file's best chunks hold, best chunk first; a chunk outside any
    definition is shown as its lines (`<module>`)."""
    entry = project.record.files[path]
    stored = {chunk.id: chunk for chunk in project.chunks([chunk_id for chunk_id, _ in chunks[:limit * 2]])}
    found: dict[tuple[str, int], LocatedSymbol] = {}
    for chunk_id, score in chunks[: limit * 2]:
        chunk = stored.get(chunk_id)
        if chunk is None:
            continue
        line = evidence.lines.get(chunk_id) if evidence is not None else None
        name, kind, start, end = _definition(entry.symbols, entry.chunks.index(chunk_id), chunk, line)
        key = (name, start)
        if key in found:
            found[key].reasons.extend(r for r in _reasons(evidence, chunk_id) if r not in found[key].reasons)
            continue
        found[key] = LocatedSymbol(name, kind, start, end, round(score, 4), _reasons(evidence, chunk_id))
        if len(found) >= limit:
            break
    return list(found.values())


def _definition(symbols: list[tuple[str, str, int, int, int]], position: int, chunk: StoredChunk,
                line: int | None) -> tuple[str, str, int, int]:
    """The definition a chunk stands for: the innermost one holding the line the evidence
    points at; else the outermost one starting in the chunk, or else one enclosing it."""
    start = int(chunk.metadata.get("start_line", 1))
    end = int(chunk.metadata.get("end_line", start))
    definitions = [s for s in symbols if s[1] != "variable"]  # a module constant is not where to work
    holding = [s for s in definitions if line is not None and s[2] <= line <= s[3]]
    if holding:
        name, kind, first, last, _ = min(holding, key=lambda s: s[3] - s[2])
        return name, kind, first, last
    starting = [s for s in definitions if s[4] == position]
    if starting:
        name, kind, first, last, _ = min(starting, key=lambda s: (s[2], -s[3]))
        return name, kind, first, last
    enclosing = [s for s in definitions if s[2] <= start and s[3] >= end]
    if enclosing:
        name, kind, first, last, _ = min(enclosing, key=lambda s: s[3] - s[2])
        return name, kind, first, last
    return "<module>", "lines", start, end
