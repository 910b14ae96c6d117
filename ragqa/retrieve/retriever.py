"""Hybrid retrieval: three rankings fused, shifted by what the question asks for, then merged.

1. **Rankings**, fused by weighted reciprocal rank (robust to their different scales):
   - dense: the question's embedding against the chunks' (exact, in memory, for projects up to
     `memory_search_max_chunks`; else through Chroma's index);
   - lexical: BM25F over identifier-aware tokens, with matches in a chunk's path, symbol and
     heading path weighted apart from its body (`field_weights`);
   - symbols: the chunks that *define* the code names the question mentions (the symbol table
     from the tree-sitter pass), above the many chunks that merely use them; an option-like
     name the table does not hold (`timeout_keep_alive`, `--log-level`) leads to the chunks
     that define it as a setting, field or flag (`ragqa.index.symbols.defines_option`).
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

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragqa.errors import ModelError, RagqaError
from ragqa.index import Embedder
from ragqa.index.chroma import store_errors
from ragqa.index.lexical import tokenize
from ragqa.index.symbols import defines_option
from ragqa.query import Intent, Query
from ragqa.report import Report
from ragqa.retrieve import spread
from ragqa.retrieve.confidence import Confidence, assess
from ragqa.retrieve.evidence import Evidence, fragments, gather, raises
from ragqa.retrieve.passages import Passage, diversify, merge_neighbours
from ragqa.retrieve.project import Filters, ProjectIndex
from ragqa.retrieve.rerank import Reranker
from ragqa.retrieve.usages import usage_evidence
from ragqa.settings import Settings

SYMBOL_CANDIDATES = 10
OPTION_CANDIDATES = 40  # chunks holding an option's name read for its definition
EVIDENCE_CANDIDATES = 30
USAGE_LIFT = 3.0  # a usage question's lines from the graph outweigh dense and BM25 together
TESTING_DOCS_LIFT = 1.3  # docs about testing, for a question on how to test one's own code
FILE_LIFT = 0.5  # a file a report names or imports: its chunks × (1 + weight × strength × this)
EMBEDDED_KEPT = 64  # question vectors kept (by model and text)
_DOTTED, _PLAIN, _CAPITALISED = 1.0, 0.6, 0.4  # how strongly a name's definition is matched


_embedded: dict[tuple[int, str], tuple[Embedder, tuple[float, ...]]] = {}
_embedded_lock = threading.Lock()


@dataclass
class Ranking:
    """Candidate chunks, best first, with fused scores in (0, 1]; what a report pointed at."""

    fused: list[tuple[str, float]]
    best_similarity: float
    evidence: Evidence | None = None

    @property
    def scores(self) -> dict[str, float]:
        return dict(self.fused)


@dataclass
class Retrieval:
    """The passages for a question, best first, and how sure retrieval is that they answer it."""

    passages: list[Passage]
    confidence: Confidence
    evidence: Evidence | None = None

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
        ranking = self.rank(project, query, filters)
        wanted = [chunk_id for chunk_id, _ in ranking.fused[: max(3 * top_k, 10)]]
        merged = merge_neighbours(project.chunks(wanted), ranking.scores, project.chunk_positions)
        if self.reranker is not None:
            merged = self.reranker.rerank(query, merged[: self.settings.reranker_candidates]) + \
                merged[self.settings.reranker_candidates:]
        passages = diversify(merged, top_k, self.settings.max_sources_per_file)
        confidence = assess(project, query, passages, ranking.best_similarity, ranking.evidence)
        return Retrieval(passages, confidence, ranking.evidence)

    def rank(self, project: ProjectIndex, query: Query, filters: Filters | None = None) -> Ranking:
        """Every candidate chunk with its fused score (1 for a chunk first in every ranking)."""
        filters = filters or Filters()
        project.check(filters)
        report = _report(self.settings, query)
        with store_errors():
            dense, best_similarity = self._dense(project, query, filters)
        lexical = self._lexical(project, query, filters)
        symbols = self._symbols(project, query, filters) if report is None else []
        evidence = gather(project, report, filters) if report is not None else None
        usage = None if report is not None or query.usage is None else \
            usage_evidence(project, query.usage[0], query.usage[1], filters)  # type: ignore[arg-type]
        if usage is not None:  # "what calls X?": the lines the graph found lead, X's definition follows
            evidence, symbols = usage, []
        settings = self.settings
        rankings: list[list[tuple[str, float]]] = [
            [(chunk_id, 1.0) for chunk_id in dense], [(chunk_id, 1.0) for chunk_id in lexical], symbols,
            evidence.ranking()[:EVIDENCE_CANDIDATES] if evidence else []]
        weights = [settings.dense_weight, settings.lexical_weight, settings.symbol_weight,
                   settings.evidence_weight * (USAGE_LIFT if usage is not None else 1.0)]
        fused = fuse(rankings, weights, settings.rrf_k)
        walked = None if report is None else self._graph(project, evidence, fused, filters, query.locating)
        if walked:
            chunks, files = walked
            rankings += [chunks, files]
            weights += [settings.graph_weight, settings.graph_file_weight]
            fused = fuse(rankings, weights, settings.rrf_k)
        packages = named_packages(project.packages(settings.package_folders), query.text)
        testing = _testing_docs(project, query)
        fused = self._priors(project, query, fused, evidence, packages, testing)
        file_evidence = settings.locate_file_evidence if query.locating else settings.file_evidence
        fused = self._file_evidence(project, fused, file_evidence)
        best = max_fused(settings.rrf_k, [weight for weight, ranking in zip(weights, rankings, strict=True)
                                          if ranking])
        best *= self._largest_prior(query, evidence, bool(testing)) * (1 + 2 * file_evidence)
        best *= settings.package_lift if packages else 1.0
        return Ranking([(chunk_id, score / best) for chunk_id, score in fused], best_similarity, evidence)

    def _graph(self, project: ProjectIndex, evidence: Evidence | None, fused: list[tuple[str, float]],
               filters: Filters, locating: bool
               ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]] | None:
        """The code graph's ranking of a report (`ragqa.retrieve.spread`): the evidence and the
        best chunks so far, spread to their callers, callees, classes, subclasses and sibling
        modules. Its reasons join the evidence's (`called by `Session.send` (…)`). For `locate`
        (`graph_normalise`) its strengths are scaled to 1 at its best chunk."""
        graph = project.graph
        if graph is None or evidence is None or \
                self.settings.graph_weight + self.settings.graph_file_weight <= 0:
            return None
        clues = [(chunk_id, project.chunk_paths.get(chunk_id, ""), strength, evidence.lines.get(chunk_id),
                  (evidence.reasons.get(chunk_id) or [""])[0])
                 for chunk_id, strength in evidence.ranking()[:EVIDENCE_CANDIDATES]]
        known = {chunk_id for chunk_id, *_ in clues}
        clues += [(chunk_id, project.chunk_paths.get(chunk_id, ""), spread.SEED_RANKED * score, None, "")
                  for chunk_id, score in fused[:self.settings.graph_seed_chunks] if chunk_id not in known]
        modules = [(path, strength, (evidence.reasons.get(path) or [""])[0])
                   for path, strength in evidence.files.items()]
        seeds = spread.seed_nodes(graph, clues, modules)
        if not seeds:
            return None
        walked = spread.rank(graph, seeds)
        for chunk_id, reasons in walked.reasons.items():
            if chunk_id not in evidence.reasons:
                evidence.reasons[chunk_id] = reasons[:1]
        scaled = locating and self.settings.graph_normalise
        return (_strengths(project, walked.chunks, filters, scaled),
                _strengths(project, walked.files, filters, scaled))

    def _dense(self, project: ProjectIndex, query: Query, filters: Filters) -> tuple[list[str], float]:
        """Chunk ids by embedding similarity, and the best cosine similarity seen. A report is
        embedded by its parts (`Report.parts`: the title and first paragraph, then errors and
        code blocks up to `report_parts`), their rankings fused, never as one truncated text."""
        report = _report(self.settings, query)
        parts = (report.parts(self.settings.report_parts) if report is not None else []) or [query.text]
        if len(parts) == 1:
            return self._nearest(project, parts[0], filters)
        found = [self._nearest(project, part, filters) for part in parts]
        fused = fuse([[(chunk_id, 1.0) for chunk_id in ids] for ids, _ in found], [1.0] * len(found),
                     self.settings.rrf_k)
        return [chunk_id for chunk_id, _ in fused][: self.settings.retrieve_candidates], \
            max(similarity for _, similarity in found)

    def _nearest(self, project: ProjectIndex, text: str, filters: Filters) -> tuple[list[str], float]:
        wanted = self.settings.retrieve_candidates * (4 if filters.path_prefix else 1)
        count = min(wanted, project.record.chunk_count)
        if count == 0:
            return [], 0.0
        vector = embed_query(project.embedder or self.embedder, text)
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
            symbols = project.symbols.find(name, classes_only)[:3]
            for symbol in symbols:
                if project.allowed(symbol.chunk_id, filters):
                    found[symbol.chunk_id] = max(found.get(symbol.chunk_id, 0.0), strength)
            if not symbols and not classes_only:
                for chunk_id in _option_definitions(project, name, filters):
                    found[chunk_id] = max(found.get(chunk_id, 0.0), _PLAIN)
        for chunk_id, strength in message_sites(project, query.messages, filters):
            found[chunk_id] = max(found.get(chunk_id, 0.0), strength)
        return sorted(found.items(), key=lambda item: -item[1])[:SYMBOL_CANDIDATES]

    def _priors(self, project: ProjectIndex, query: Query, fused: list[tuple[str, float]],
                evidence: Evidence | None = None, packages: Sequence[str] = (),
                testing: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        """Shift scores by what the question asks for: docs or code; tests and changelogs down,
        or up when the question is about them (tests twice down for a question on how to test
        one's own code). Code read like docs — `.d.ts` declarations, chunks that are mostly doc
        comment — gains what docs gain, never loses. A pasted report ranks docs — and the
        example code kept with them — lower (unless it is about them), and a file it names or
        imports lifts that file's chunks. The files of a package the question names rise, and
        so do docs about testing (`docs/testing.md`) for a question on how to test one's code."""
        settings = self.settings
        docs_bias = _docs_bias(settings, query)
        secondary = settings.secondary_weight or 1.0
        tests = 1 / secondary if query.about_tests else secondary ** 2 if query.about_testing else secondary
        api_docs = project.matching(settings.api_docs_paths)
        demoted: list[tuple[set[str], float]] = [
            (project.matching(settings.test_paths) - api_docs, tests),
            (project.matching(settings.changelog_paths), 1 / secondary if query.about_changes else secondary)]
        report = _report(settings, query)
        examples = project.matching(settings.example_paths) if report is not None else set()
        shifted = []
        for chunk_id, score in fused:
            path = project.chunk_paths.get(chunk_id, "")
            kind = project.file_kinds.get(path)
            if kind == "docs" or (report is not None and (kind != "code" or path in examples)):
                score *= docs_bias
            elif path in api_docs or chunk_id in project.doc_chunks:
                score *= max(docs_bias, 1.0)
            if packages and path.startswith(tuple(packages)):
                score *= settings.package_lift
            if path in testing:
                score *= TESTING_DOCS_LIFT
            for paths, weight in demoted:
                if path in paths:
                    score *= weight
            if evidence is not None and path in evidence.files:
                score *= 1 + settings.evidence_weight * evidence.files[path] * FILE_LIFT
            shifted.append((chunk_id, score))
        return sorted(shifted, key=lambda item: -item[1])

    def _largest_prior(self, query: Query, evidence: Evidence | None = None, testing: bool = False
                       ) -> float:
        """The largest factor `_priors` can apply for `query` (so that scores stay within 1)."""
        settings = self.settings
        promoted = 1 / (settings.secondary_weight or 1.0) if query.about_tests or query.about_changes else 1.0
        lifted = 1 + settings.evidence_weight * max(evidence.files.values(), default=0.0) * FILE_LIFT \
            if evidence is not None else 1.0
        lift = TESTING_DOCS_LIFT if testing else 1.0
        return max(1.0, _docs_bias(settings, query) * lift, promoted) * lifted

    def _file_evidence(self, project: ProjectIndex, fused: list[tuple[str, float]], weight: float
                       ) -> list[tuple[str, float]]:
        """A file's other matching chunks count for each of its chunks (`file_evidence` of the
        next two best), so a file that answers in several places rises."""
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


def _option_definitions(project: ProjectIndex, name: str, filters: Filters) -> list[str]:
    """Chunks that define `name` as an option, setting or flag (`defines_option`): a name the
    symbol table does not hold (`timeout_keep_alive`) is defined there, not in code that reads it."""
    terms = tokenize(name)
    if not terms or not re.search(r"[_-]", name.strip("-")):
        return []  # only option-like names (snake_case, --flag-name): a plain word is everywhere
    ids = [chunk_id for chunk_id in project.lexical.holding_all(terms, OPTION_CANDIDATES)
           if project.allowed(chunk_id, filters)]
    return [chunk.id for chunk in project.chunks(ids)
            if any(defines_option(line, name) for line in chunk.text.split("\n"))][:3]


def embed_query(embedder: Embedder, text: str) -> list[float]:
    """The question's vector; a failing model is a `ModelError` that names the model. The last
    `EMBEDDED_KEPT` are kept, so a question to many projects in one vector space is embedded once."""
    key = (id(embedder), text)  # the entry holds the embedder, so its id is not reused meanwhile
    with _embedded_lock:
        kept = _embedded.get(key)
    if kept is not None and kept[0] is embedder:
        return list(kept[1])
    try:
        vector = embedder.embed_query(text)
    except RagqaError:
        raise
    except Exception as error:
        raise ModelError(f"the embedding model ({embedder.name}) failed: {type(error).__name__}: "
                         f"{' '.join(str(error).split())[:200]}") from error
    with _embedded_lock:
        _embedded[key] = (embedder, tuple(vector))
        while len(_embedded) > EMBEDDED_KEPT:
            _embedded.pop(next(iter(_embedded)))
    return vector


def _strengths(project: ProjectIndex, ranking: list[tuple[str, float]], filters: Filters, scaled: bool
               ) -> list[tuple[str, float]]:
    """The allowed entries of a graph ranking, their strengths the walk's visit shares or, when
    `scaled`, those over the best one's."""
    kept = [(chunk_id, score) for chunk_id, score in ranking if project.allowed(chunk_id, filters)]
    top = kept[0][1] if kept and scaled else 1.0
    return [(chunk_id, score / top) for chunk_id, score in kept]


def fuse(rankings: Sequence[Sequence[tuple[str, float]]], weights: Sequence[float], rrf_k: int
         ) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: robust to the rankings' different scales. Each entry
    carries a strength in (0, 1] that scales its contribution (1 for plain rankings)."""
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (chunk_id, strength) in enumerate(ranking, 1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * strength / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])


def _report(settings: Settings, query: Query) -> Report | None:
    """The question read as a pasted report, when it is one and reports are read."""
    return query.report if settings.read_reports else None


def _docs_bias(settings: Settings, query: Query) -> float:
    """What docs chunks' scores are multiplied by for `query`: a report given to `locate` (a
    bug, a feature request) or a bug report asked as a question (a traceback, an error, words
    of a failure) asks for code, unless its title is about the docs. A question that is long or
    carries code but reports no failure ("How do I …? here is my setup: ```…```") is a how-to
    like any other: real users' questions are mostly of that kind (bench/questions/real)."""
    bias = settings.intent_docs_bias.get(query.intent, 1.0)
    report = _report(settings, query)
    if report is not None and not report.about_docs and (query.locating or report.tracebacks):
        bias = min(bias, 1.0) * settings.report_demotion
    return bias


def message_sites(project: ProjectIndex, messages: Sequence[str], filters: Filters
                  ) -> list[tuple[str, float]]:
    """The code chunks holding a message the question quotes (its fixed parts, as a format
    string has them): fully where the line throws, defines or logs it (the language's error
    patterns, `raise`, `throw`, `errors.New`, `#[error(…)]`), less where it only appears."""
    found: list[tuple[str, float]] = []
    for message in messages[:3]:
        for fragment in fragments(message)[:2]:
            for chunk_id, line, _ in project.find_phrase(fragment, filters):
                path = project.chunk_paths.get(chunk_id, "")
                if project.file_kinds.get(path) == "code":
                    found.append((chunk_id, _DOTTED if raises(path, line) else _PLAIN))
    return found


def _testing_docs(project: ProjectIndex, query: Query) -> frozenset[str]:
    """The docs about testing (`docs/testing.md`, `Guides/Testing.md`), for a how-to question on
    testing one's own code; none for any other question."""
    if not query.about_testing or query.intent != Intent.USAGE:
        return frozenset()
    return frozenset(path for path, kind in project.file_kinds.items()
                     if kind == "docs" and "test" in path.lower())


def named_packages(packages: dict[str, str], question: str) -> list[str]:
    """The path prefixes of the packages `question` names: as `@scope/name`, `packages/name`,
    in backticks, as "the name package" (or crate, module, plugin), with a project prefix
    (`grep-searcher` for `crates/searcher`), or — for a name no word of prose could be
    (`react-query`) — bare."""
    named = []
    for name, prefix in packages.items():
        word = re.escape(name)
        forms = [rf"@[\w.-]+/{word}\b", rf"\b{re.escape(prefix)}", rf"`{word}`",
                 rf"\b{word}\s+(package|crate|module|plugin|library)\b"]
        if re.search(r"[-_.]", name) and len(name) >= 4:
            forms.append(rf"(?<![\w/-]){word}(?![\w-])")
        if len(name) >= 5:  # a crate named after its folder with a prefix: `grep-searcher`
            forms.append(rf"`?\b[a-z0-9]+-{word}`?(?![\w-])")
        if any(re.search(form, question, re.IGNORECASE) for form in forms):
            named.append(prefix)
    return named


def max_fused(rrf_k: int, weights: Sequence[float]) -> float:
    """The fused score of a chunk ranked first by every ranking (scores are divided by it)."""
    return sum(weights) / (rrf_k + 1) or 1.0
