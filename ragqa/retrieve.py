"""Stage 4 — retrieve: dense and BM25 rankings fused, neighbouring chunks merged, confidence scored.

Both rankings only ever see the project's live chunks (those its record names), so an ingest
running in another process never leaks half-written chunks into answers. Projects up to
`memory_search_max_chunks` are searched in memory (exact; loaded once per record); bigger ones
through Chroma's index with the plain client rather than llama-index, whose import alone costs
seconds on a latency-bound path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pathspec

from ragqa.index import ChunkStore, ChunkStoreSnapshot, Embedder, LexicalIndex, ProjectRecord, StoredChunk
from ragqa.index.chroma import store_errors
from ragqa.index.lexical import identifiers, tokenize
from ragqa.settings import Settings

KindFilter = Literal["code", "docs"]
_ABOUT_SECONDARY = re.compile(r"\btest|\bchangelog|\bhistory\b|\brelease notes?\b|\bchanged in\b",
                              re.IGNORECASE)
MAX_MERGED_LINES = 120
COVERAGE_SOURCES = 3  # merging stops here so one source never swallows a whole file


@dataclass(frozen=True)
class Filters:
    """Optional limits on what may be retrieved: a path prefix and code-only or docs-only."""

    path_prefix: str | None = None
    kind: KindFilter | None = None

    def allows(self, path: str, kind: str) -> bool:
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        if self.kind == "code":
            return kind == "code"
        if self.kind == "docs":
            return kind != "code"
        return True


@dataclass
class Passage:
    """A run of lines of one file (one chunk, or neighbouring chunks merged) and its scores."""

    path: str
    start_line: int
    end_line: int
    text: str
    language: str
    kind: str
    symbol: str
    heading: str
    score: float
    chunk_ids: list[str] = field(default_factory=list)
    positions: tuple[int, int] = (-10, -10)


@dataclass
class Retrieval:
    """The passages for a question, best first, and how sure retrieval is that they answer it."""

    passages: list[Passage]
    confidence: float
    signals: dict[str, float]


@dataclass
class ProjectIndex:
    """One project as retrieval sees it: its record, its chunks' store and its BM25 index."""

    record: ProjectRecord
    store: ChunkStore
    lexical: LexicalIndex
    file_kinds: dict[str, str]
    chunk_paths: dict[str, str]
    chunk_positions: dict[str, int]  # a chunk's place among its file's chunks, in line order
    memory: ChunkStoreSnapshot | None = None  # all chunks and vectors, for projects small enough
    _secondary: dict[tuple[str, ...], set[str]] = field(default_factory=dict)

    @classmethod
    def open(cls, record: ProjectRecord, store: ChunkStore, lexical: LexicalIndex,
             memory: ChunkStoreSnapshot | None = None) -> ProjectIndex:
        chunk_paths = {chunk_id: path for path, entry in record.files.items()
                       for chunk_id in entry.chunks}
        positions = {chunk_id: place for entry in record.files.values()
                     for place, chunk_id in enumerate(entry.chunks)}
        file_kinds = {path: entry.kind for path, entry in record.files.items()}
        return cls(record, store, lexical, file_kinds, chunk_paths, positions, memory)

    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        """Stored chunks by id, from memory when the project is held there."""
        if self.memory is not None:
            return self.memory.get(ids)
        with store_errors():
            return self.store.get(ids)

    def secondary(self, patterns: list[str]) -> set[str]:
        """The files matching `patterns` (computed once per project and pattern list)."""
        key = tuple(patterns)
        if key not in self._secondary:
            spec = pathspec.GitIgnoreSpec.from_lines(patterns)
            self._secondary[key] = {path for path in self.file_kinds if spec.match_file(path)}
        return self._secondary[key]

    def allowed(self, chunk_id: str, filters: Filters) -> bool:
        path = self.chunk_paths.get(chunk_id)
        return path is not None and filters.allows(path, self.file_kinds[path])


class Retriever:
    """Hybrid retrieval over one project at a time."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder

    def retrieve(self, project: ProjectIndex, question: str, top_k: int,
                 filters: Filters | None = None) -> Retrieval:
        filters = filters or Filters()
        with store_errors():
            dense = self._dense(project, question, filters)
        lexical = self._lexical(project, question, filters)
        weights = [self.settings.dense_weight, self.settings.lexical_weight]
        fused = self._fuse([dense[0], lexical], weights)
        if not _ABOUT_SECONDARY.search(question):
            fused = self._demote(project, fused)
        wanted = [chunk_id for chunk_id, _ in fused[: max(3 * top_k, 10)]]
        chunks = project.chunks(wanted)
        best_fused = max_fused(self.settings, weights)
        scores = {chunk_id: score / best_fused for chunk_id, score in fused}
        passages = merge_neighbours(chunks, scores, project.chunk_positions)[:top_k]
        signals = confidence_signals(project.lexical, question, passages, dense[1])
        return Retrieval(passages, combine(signals), signals)

    def _dense(self, project: ProjectIndex, question: str, filters: Filters
               ) -> tuple[list[str], float]:
        """Chunk ids by embedding similarity, and the best cosine similarity seen."""
        vector = self.embedder.embed_query(question)
        wanted = self.settings.retrieve_candidates * (4 if filters.path_prefix else 1)
        count = min(wanted, project.record.chunk_count)
        if count == 0:
            return [], 0.0
        if project.memory is not None:
            nearest = project.memory.nearest(vector, count * (1 if filters.kind is None else 4))
        else:
            nearest = self._query_store(project, vector, count, filters)
        ranked = [(chunk_id, similarity) for chunk_id, similarity in nearest
                  if project.allowed(chunk_id, filters)]
        return [chunk_id for chunk_id, _ in ranked], max((sim for _, sim in ranked), default=0.0)

    def _query_store(self, project: ProjectIndex, vector: list[float], count: int, filters: Filters
                     ) -> list[tuple[str, float]]:
        """Chroma's approximate nearest neighbours, for projects too big to hold in memory."""
        where: dict[str, Any] | None = None
        if filters.kind == "code":
            where = {"kind": "code"}
        elif filters.kind == "docs":
            where = {"kind": {"$ne": "code"}}
        found = project.store.collection.query(
            query_embeddings=[vector], n_results=count, where=where, include=["distances"])
        return [(chunk_id, 1.0 - distance)
                for chunk_id, distance in zip(found["ids"][0], found["distances"][0], strict=True)]

    def _lexical(self, project: ProjectIndex, question: str, filters: Filters) -> list[str]:
        """Chunk ids by BM25 score (only chunks that hold a question term)."""
        scores = project.lexical.scores(question)
        count = min(len(scores), self.settings.retrieve_candidates * 4)
        if count == 0:
            return []
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        ids = [project.lexical.ids[row] for row in top if scores[row] > 0]
        ranked = [chunk_id for chunk_id in ids if project.allowed(chunk_id, filters)]
        return ranked[: self.settings.retrieve_candidates]

    def _demote(self, project: ProjectIndex, fused: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Tests and changelogs mention everything but rarely answer a question: rank them lower."""
        secondary = project.secondary(self.settings.secondary_paths)
        weight = self.settings.secondary_weight
        demoted = [(chunk_id, score * weight if project.chunk_paths.get(chunk_id) in secondary else score)
                   for chunk_id, score in fused]
        return sorted(demoted, key=lambda item: -item[1])

    def _fuse(self, rankings: Sequence[list[str]], weights: Sequence[float]) -> list[tuple[str, float]]:
        """Weighted reciprocal rank fusion: robust to the two scores' different scales."""
        fused: dict[str, float] = {}
        for ranking, weight in zip(rankings, weights, strict=True):
            for rank, chunk_id in enumerate(ranking, 1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (self.settings.rrf_k + rank)
        return sorted(fused.items(), key=lambda item: -item[1])


def max_fused(settings: Settings, weights: Sequence[float]) -> float:
    """The fused score of a chunk ranked first by every retriever (scores are divided by it)."""
    return sum(weights) / (settings.rrf_k + 1) or 1.0


def merge_neighbours(chunks: Sequence[StoredChunk], scores: dict[str, float],
                     positions: dict[str, int]) -> list[Passage]:
    """Passages from chunks, best first; chunks that follow each other in a file become one.

    Chunks are consecutive when they are next to each other in the file's chunk list; the
    chunker leaves only blank lines between consecutive chunks, so the merged text is exact.
    """
    passages: list[Passage] = []
    for chunk in sorted(chunks, key=lambda c: -scores.get(c.id, 0.0)):
        passage = _passage(chunk, scores.get(chunk.id, 0.0), positions.get(chunk.id, -10))
        for kept in passages:
            if _consecutive(kept, passage):
                _absorb(kept, passage)
                break
        else:
            passages.append(passage)
    return passages


def _passage(chunk: StoredChunk, score: float, position: int) -> Passage:
    meta = chunk.metadata
    return Passage(
        path=str(meta["path"]), start_line=int(meta["start_line"]), end_line=int(meta["end_line"]),
        text=chunk.text, language=str(meta.get("language", "")), kind=str(meta.get("kind", "")),
        symbol=str(meta.get("symbol", "")), heading=str(meta.get("heading", "")), score=score,
        chunk_ids=[chunk.id], positions=(position, position))


def _consecutive(kept: Passage, new: Passage) -> bool:
    first, last = kept.positions
    span = max(kept.end_line, new.end_line) - min(kept.start_line, new.start_line) + 1
    return (kept.path == new.path and new.positions[0] in (first - 1, last + 1)
            and span <= MAX_MERGED_LINES)


def _absorb(kept: Passage, new: Passage) -> None:
    """Grow `kept` to cover `new` too; lines between them (blank) are filled in."""
    before = new.start_line < kept.start_line
    first, second = (new, kept) if before else (kept, new)
    gap = max(0, second.start_line - first.end_line - 1)
    kept.text = first.text + "\n" * (gap + 1) + second.text
    kept.start_line, kept.end_line = first.start_line, second.end_line
    kept.positions = (first.positions[0], second.positions[1])
    kept.chunk_ids.extend(new.chunk_ids)
    kept.symbol = first.symbol or second.symbol
    kept.heading = first.heading or second.heading


def confidence_signals(lexical: LexicalIndex, question: str, passages: Sequence[Passage],
                       best_similarity: float) -> dict[str, float]:
    """What the abstention decision looks at.

    - `similarity`: the best cosine similarity between the question and a chunk;
    - `coverage`: the share of the question's terms (weighted by rarity) found in the passages;
    - `unknown_names`: code names in the question that occur nowhere in the project (`torch.compile`
      asked of an HTTP library): 0 for none, 0.5 for one, 1 for two or more. A count, not a
      share: the known names in such questions tend to be the generic ones (`requests.Session`).
    """
    terms = set(tokenize(question))
    found = lexical.chunk_terms(chunk_id for passage in passages[:COVERAGE_SOURCES]
                                for chunk_id in passage.chunk_ids)
    total = sum(lexical.term_idf(term) for term in terms)
    covered = sum(lexical.term_idf(term) for term in terms & found)
    unknown = [name for name in identifiers(question) if not lexical.has_term(name)]
    return {
        "similarity": round(best_similarity, 4),
        "coverage": round(covered / total, 4) if total else 0.0,
        "unknown_names": min(len(unknown), 2) / 2,
    }


def combine(signals: dict[str, float]) -> float:
    """One confidence in [0, 1] from the signals; calibrated on the dev set (see README)."""
    raw = 0.5 * signals["similarity"] + 0.5 * signals["coverage"] - 0.5 * signals["unknown_names"]
    return round(min(1.0, max(0.0, raw)), 4) if not math.isnan(raw) else 0.0
