"""Hybrid retrieval: three rankings fused, shifted by what the question asks for, then merged.

1. **Rankings**, fused by weighted reciprocal rank (robust to their different scales):
   - dense: the question's embedding against the chunks' (exact, in memory, for projects up to
     `memory_search_max_chunks`; else through Chroma's index);
   - lexical: BM25F over identifier-aware tokens, with matches in a chunk's path, symbol and
     heading path weighted apart from its body (`field_weights`);
   - symbols: the chunks that *define* the code names the question mentions (the symbol table
     from the tree-sitter pass), above the many chunks that merely use them.
2. **Priors** from the question's intent (`ragqa.query.Intent`): a how-to leans to docs, a
   "where is" to code (`intent_docs_bias`); tests and changelogs rank lower unless the
   question is about them (then up).
3. **File evidence**: a file with several matching chunks lifts each of them a little.
4. Neighbouring chunks are merged into passages, at most `max_sources_per_file` per file while
   other files have candidates, then an optional reranker (`RAGQA_RERANKER`) may reorder them.

Both rankings only ever see the project's live chunks (those its record names), so an ingest
running in another process never leaks half-written chunks into answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragqa.errors import ModelError, RagqaError
from ragqa.index import Embedder
from ragqa.index.chroma import store_errors
from ragqa.query import Query
from ragqa.retrieve.confidence import Confidence, assess
from ragqa.retrieve.passages import Passage, diversify, merge_neighbours
from ragqa.retrieve.project import Filters, ProjectIndex
from ragqa.retrieve.rerank import Reranker
from ragqa.settings import Settings

SYMBOL_CANDIDATES = 10
_DOTTED, _PLAIN, _CAPITALISED = 1.0, 0.6, 0.4  # how strongly a name's definition is matched


@dataclass
class Retrieval:
    """The passages for a question, best first, and how sure retrieval is that they answer it."""

    passages: list[Passage]
    confidence: Confidence

    @property
    def signals(self) -> dict[str, float]:
        return self.confidence.signals


class Retriever:
    """Hybrid retrieval over one project at a time."""

    def __init__(self, settings: Settings, embedder: Embedder, reranker: Reranker | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.reranker = reranker

    def retrieve(self, project: ProjectIndex, query: Query, top_k: int,
                 filters: Filters | None = None) -> Retrieval:
        filters = filters or Filters()
        project.check(filters)
        with store_errors():
            dense, best_similarity = self._dense(project, query, filters)
        lexical = self._lexical(project, query, filters)
        symbols = self._symbols(project, query, filters)
        weights = [self.settings.dense_weight, self.settings.lexical_weight, self.settings.symbol_weight]
        fused = fuse([dense, lexical, [chunk_id for chunk_id, _ in symbols]], weights,
                     self.settings.rrf_k, strengths=dict(symbols))
        fused = self._priors(project, query, fused)
        fused = self._file_evidence(project, fused)
        wanted = [chunk_id for chunk_id, _ in fused[: max(3 * top_k, 10)]]
        rankings = (dense, lexical, symbols)
        best = max_fused(self.settings.rrf_k,
                         [weight for weight, ranking in zip(weights, rankings, strict=True) if ranking])
        best *= self._largest_prior(query) * (1 + 2 * self.settings.file_evidence)
        scores = {chunk_id: score / best for chunk_id, score in fused}
        merged = merge_neighbours(project.chunks(wanted), scores, project.chunk_positions)
        if self.reranker is not None:
            merged = self.reranker.rerank(query, merged[: self.settings.reranker_candidates]) + \
                merged[self.settings.reranker_candidates:]
        passages = diversify(merged, top_k, self.settings.max_sources_per_file)
        return Retrieval(passages, assess(project, query, passages, best_similarity))

    def _dense(self, project: ProjectIndex, query: Query, filters: Filters) -> tuple[list[str], float]:
        """Chunk ids by embedding similarity, and the best cosine similarity seen."""
        wanted = self.settings.retrieve_candidates * (4 if filters.path_prefix else 1)
        count = min(wanted, project.record.chunk_count)
        if count == 0:
            return [], 0.0
        vector = embed_query(self.embedder, query.text)
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

    def _lexical(self, project: ProjectIndex, query: Query, filters: Filters) -> list[str]:
        """Chunk ids by BM25F score (only chunks that hold a question term)."""
        scores = project.lexical.scores(query.terms, self.settings.field_weights)
        count = min(len(scores), self.settings.retrieve_candidates * 4)
        if count == 0:
            return []
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        ids = [project.lexical.ids[row] for row in top if scores[row] > 0]
        ranked = [chunk_id for chunk_id in ids if project.allowed(chunk_id, filters)]
        return ranked[: self.settings.retrieve_candidates]

    def _symbols(self, project: ProjectIndex, query: Query, filters: Filters) -> list[tuple[str, float]]:
        """The chunks that define the names in the question, best match first, each with the
        strength of its match: a dotted name found whole counts fully, a plain code name less,
        a capitalised word of prose that names a class least."""
        found: dict[str, float] = {}
        lookups = [(name, False) for name in query.names] + [(word, True) for word in query.capitalised]
        for name, classes_only in lookups:
            strength = _DOTTED if "." in name else _CAPITALISED if classes_only else _PLAIN
            for symbol in project.symbols.find(name, classes_only)[:3]:
                if project.allowed(symbol.chunk_id, filters):
                    found[symbol.chunk_id] = max(found.get(symbol.chunk_id, 0.0), strength)
        return sorted(found.items(), key=lambda item: -item[1])[:SYMBOL_CANDIDATES]

    def _priors(self, project: ProjectIndex, query: Query, fused: list[tuple[str, float]]
                ) -> list[tuple[str, float]]:
        """Shift scores by what the question asks for: docs or code; tests and changelogs down,
        or up when the question is about them."""
        settings = self.settings
        docs_bias = settings.intent_docs_bias.get(query.intent, 1.0)
        secondary = settings.secondary_weight or 1.0
        demoted: list[tuple[set[str], float]] = [
            (project.matching(settings.test_paths), 1 / secondary if query.about_tests else secondary),
            (project.matching(settings.changelog_paths), 1 / secondary if query.about_changes else secondary)]
        shifted = []
        for chunk_id, score in fused:
            path = project.chunk_paths.get(chunk_id, "")
            if project.file_kinds.get(path) == "docs":
                score *= docs_bias
            for paths, weight in demoted:
                if path in paths:
                    score *= weight
            shifted.append((chunk_id, score))
        return sorted(shifted, key=lambda item: -item[1])

    def _largest_prior(self, query: Query) -> float:
        """The largest factor `_priors` can apply for `query` (so that scores stay within 1)."""
        settings = self.settings
        promoted = 1 / (settings.secondary_weight or 1.0) if query.about_tests or query.about_changes else 1.0
        return max(1.0, settings.intent_docs_bias.get(query.intent, 1.0), promoted)

    def _file_evidence(self, project: ProjectIndex, fused: list[tuple[str, float]]
                       ) -> list[tuple[str, float]]:
        """A file's other matching chunks count for each of its chunks (`file_evidence` of the
        next two best), so a file that answers in several places rises."""
        weight = self.settings.file_evidence
        if weight <= 0:
            return fused
        by_file: dict[str, list[float]] = {}
        for chunk_id, score in fused:  # best first, so each file's list is too
            by_file.setdefault(project.chunk_paths.get(chunk_id, ""), []).append(score)
        lifted = []
        for chunk_id, score in fused:
            others = by_file[project.chunk_paths.get(chunk_id, "")][:3]
            others = [*others[:others.index(score)], *others[others.index(score) + 1:]] \
                if score in others else others
            lifted.append((chunk_id, score + weight * sum(others[:2])))
        return sorted(lifted, key=lambda item: -item[1])


def embed_query(embedder: Embedder, text: str) -> list[float]:
    """The question's vector; a failing model is a `ModelError` that names the model."""
    try:
        return embedder.embed_query(text)
    except RagqaError:
        raise
    except Exception as error:
        raise ModelError(f"the embedding model ({embedder.name}) failed: {type(error).__name__}: "
                         f"{' '.join(str(error).split())[:200]}") from error


def fuse(rankings: Sequence[list[str]], weights: Sequence[float], rrf_k: int,
         strengths: dict[str, float] | None = None) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: robust to the rankings' different scales. The last
    ranking's entries may carry a `strength` in (0, 1] that scales their contribution."""
    fused: dict[str, float] = {}
    strengths = strengths or {}
    for index, (ranking, weight) in enumerate(zip(rankings, weights, strict=True)):
        last = index == len(rankings) - 1
        for rank, chunk_id in enumerate(ranking, 1):
            scale = strengths.get(chunk_id, 1.0) if last else 1.0
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * scale / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])


def max_fused(rrf_k: int, weights: Sequence[float]) -> float:
    """The fused score of a chunk ranked first by every ranking (scores are divided by it)."""
    return sum(weights) / (rrf_k + 1) or 1.0
