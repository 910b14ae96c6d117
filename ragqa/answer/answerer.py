"""The `Answerer` service: a question → retrieval → prompt → model or extractive → checked links.

Every adapter (CLI, HTTP, Slack, CI checks) calls `ask` or `stream` and only formats the result.
`stream` yields a `sources` event, then `delta` events whose concatenation is the final answer,
then one `done` event with the whole `Answer` (the contract of `ragqa ask --json` and `/ask`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ragqa.answer import extractive, render
from ragqa.answer.linkguard import ABSTAIN, LinkGuard, LinkTarget, is_abstention
from ragqa.answer.llm import LLM, LLMError, Usage, get_llm
from ragqa.answer.location import Location, build_location
from ragqa.answer.usages import Usages, build_usages
from ragqa.chunking import FileFacts, read_facts
from ragqa.contract import Answer, AnswerEvent, Behind, Source, TokenUsage
from ragqa.errors import (
    AmbiguousProjectError,
    ConfigError,
    DamagedProjectError,
    ProjectNotFoundError,
    RagqaError,
)
from ragqa.freshness import Head, Heads, behind
from ragqa.index import (
    ChunkStore,
    ChunkStoreSnapshot,
    CodeGraph,
    Embedder,
    GraphStore,
    LexicalStore,
    ProjectRecord,
    Registry,
    chroma_client,
    embedder_for,
    get_embedder,
    lexical_doc,
)
from ragqa.index.catalogue import Catalogue, CatalogueView
from ragqa.index.chroma import get_collection, store_errors
from ragqa.index.graph import ChunkSource, file_text
from ragqa.index.graph import build as build_graph
from ragqa.index.lexical import tokenize
from ragqa.index.snapshot import ProjectSnapshot, SnapshotStore, read_back
from ragqa.index.vectors import choose
from ragqa.links import permalink
from ragqa.names import check_name
from ragqa.prompting import ContextSource, count_tokens, pack, render_rerank
from ragqa.query import Intent, Query
from ragqa.retrieve import Filters, Passage, ProjectIndex, Reranker, Retrieval, Retriever
from ragqa.retrieve.across import route
from ragqa.retrieve.rerank import CrossEncoderReranker, LLMReranker
from ragqa.retrieve.retriever import embed_query
from ragqa.retrieve.usages import Relation
from ragqa.settings import Settings

log = logging.getLogger("ragqa.answer")
EXTRACTIVE = "extractive"
LOCATE_TOP_K = 10
ProjectChoice = str | list[str] | None  # a name, several names, "*" (all), or None (the default)
FOLLOW_UP_TERMS = 6  # a question with fewer terms than this is read together with the one before


@dataclass(frozen=True)
class Turn:
    """An earlier message of a conversation (a Slack thread, a chat client)."""

    role: Literal["user", "assistant"]
    content: str


class BadQuestionError(RagqaError):
    """The question is empty, too long or otherwise unusable."""

    code = "bad_question"


class Answerer:
    """Answers questions about indexed projects; one instance serves many threads."""

    def __init__(self, settings: Settings, llm: LLM | Literal["settings"] | None = "settings",
                 catalogue: bool = False) -> None:
        """`catalogue`: read the registry from its local copy while the store is unchanged
        (`ragqa.index.catalogue`), for a process that answers once — `ragqa ask` and `locate`."""
        self.settings = settings
        self._client: Any = None
        self._registry: Registry | None = None
        self.catalogue = Catalogue(settings.snapshot_dir, settings.chroma_dir / "chroma.sqlite3") \
            if catalogue and not settings.chroma_url else None
        self._view: CatalogueView | None = None
        self.lexical = LexicalStore(settings.lexical_dir)
        self.graphs = GraphStore(settings.graph_dir)
        self.snapshots = SnapshotStore(settings.snapshot_dir)
        self.llm = get_llm(settings) if llm == "settings" else llm
        self.retriever = Retriever(settings, get_embedder(settings), get_reranker(settings, self.llm))
        self._projects: dict[str, _Cached] = {}
        self._tuned: dict[str, tuple[str, Retriever]] = {}  # project → (record stamp, its retriever)
        self._heads: dict[str, tuple[float, Head | None]] = {}  # project → (read at, its head)
        # CPU work (retrieval, extractive answers) runs at most this many at once: a server's
        # many threads would otherwise fight over the cores and the GIL (docs/scale.md)
        self.cpu = threading.BoundedSemaphore(settings.answer_workers())
        self._head_store: Heads | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The store's client, opened on first use (an answer from the catalogue and a project's
        snapshot needs none)."""
        if self._client is None:
            self._client = chroma_client(self.settings, create=False)
        return self._client

    @property
    def registry(self) -> Registry:
        """The project registry in the store."""
        if self._registry is None:
            self._registry = Registry(self.client)
        return self._registry

    @property
    def records(self) -> Registry | CatalogueView:
        """Where answering reads project records: the catalogue while it is current, else the store."""
        if self.catalogue is not None:
            if self._view is None:
                self._view = self.catalogue.current()
                if self._view is None:  # stale or missing: read the store from now on, copy it
                    self._heal_catalogue(self.catalogue)
            if self._view is not None:
                return self._view
        return self.registry

    def _heal_catalogue(self, catalogue: Catalogue) -> None:
        self.catalogue = None
        try:
            with store_errors():
                # opening an embedded store, and its collections the first time, writes to it:
                # the stamp is taken after that, and before reading (a write between leaves it stale)
                registry, heads = self.registry, Heads(self.client)
                fingerprint = catalogue.fingerprint()
                catalogue.remember(fingerprint, registry.listing(), heads.all_raw())
        except ProjectNotFoundError:
            raise
        except Exception as error:  # the copy is an optimisation: the store answers all the same
            log.info("catalogue not written (%s)", type(error).__name__)

    def ask(self, question: str, project: ProjectChoice = None, top_k: int | None = None,
            filters: Filters | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Answer `question` in one piece."""
        return final_answer(self.stream(question, project, top_k, filters, history))

    def stream(self, question: str, project: ProjectChoice = None, top_k: int | None = None,
               filters: Filters | None = None, history: Sequence[Turn] = ()) -> Iterator[AnswerEvent]:
        """Answer `question` step by step (see the module docstring).

        `project` is a name, a list of names or `"*"` (every project): several projects are
        searched each on its own, and their passages merged (`merge_projects`).
        `history` holds the conversation's earlier turns: the model sees them, and a short
        follow-up ("and for reads?") is searched together with the user's previous question.
        """
        started = time.perf_counter()
        question = _check_question(question, self.settings.max_question_chars)
        indexes = self.projects_for(project)
        query = Query.parse(_search_text(question, history), self.settings.read_reports)
        k = top_k or self.settings.top_k
        with self.cpu:
            if len(indexes) == 1:
                retriever = self.retriever_for(indexes[0].record)
                retrieval = retriever.retrieve(indexes[0], query, k, filters)
                settings = retriever.settings
            else:
                retrieval, settings = self._retrieve_across(indexes, query, k, filters)
        retrieved = time.perf_counter()
        run = _Run(self, settings, indexes, question, query, retrieval, history)
        run.late = self.behind(run.record)
        yield from run.events()
        assert run.answer is not None
        run.answer.timings_ms = {
            "retrieve": _ms(retrieved - started), "generate": _ms(time.perf_counter() - retrieved),
            "total": _ms(time.perf_counter() - started)}
        yield AnswerEvent("done", answer=run.answer)

    def locate(self, text: str, project: str | None = None, top_k: int | None = None,
               filters: Filters | None = None) -> Location:
        """Where in the project an issue, traceback, log or question points: the files to look
        at first and the functions inside them, each with its reasons (no model involved)."""
        started = time.perf_counter()
        text = _check_question(text, self.settings.max_question_chars)
        index = self.project(project)
        query = Query.parse(text, self.settings.read_reports, always_report=True)
        with self.cpu:
            ranking = self.retriever_for(index.record).rank(index, query, filters)
            location = build_location(index, query, ranking, top_k or LOCATE_TOP_K)
        location.timings_ms = {"total": _ms(time.perf_counter() - started)}
        return location

    def usages(self, name: str, relation: Relation, project: str | None = None, limit: int = 50) -> Usages:
        """Where `name` is used (`references`), what calls it (`callers`) or what it calls
        (`callees`), from the project's code graph, with permalinks."""
        index = self.project(project)
        with self.cpu:
            return build_usages(index, name, relation, limit)

    def behind(self, record: ProjectRecord) -> Behind | None:
        """Whether a newer commit of the project's tracked ref is known (a push, a poll) and not
        indexed yet; read at most every `project_check_s` seconds."""
        with self._lock:
            cached = self._heads.get(record.name)
        if cached is None or time.monotonic() - cached[0] >= self.settings.project_check_s:
            try:
                head = self._head(record.name)
            except Exception:  # freshness is a hint: an unreadable head never fails an answer
                head = None
            cached = (time.monotonic(), head)
            with self._lock:
                self._heads[record.name] = cached
        return behind(record, cached[1])

    def _head(self, name: str) -> Head | None:
        registry = self.records
        if isinstance(registry, CatalogueView):
            stored = registry.head(name)
            return None if stored is None else Head.model_validate_json(stored)
        if self._head_store is None:
            self._head_store = Heads(self.client)
        return self._head_store.get(name)

    def retriever_for(self, record: ProjectRecord) -> Retriever:
        """The retriever with the project's fitted settings (`ragqa tune`), else the default one."""
        if not record.tuning.get("settings"):
            return self.retriever
        with self._lock:
            cached = self._tuned.get(record.name)
            if cached is None or cached[0] != record.stamp:
                tuned = Retriever(record.tuned(self.settings), self.retriever.embedder,
                                  self.retriever.reranker)
                cached = self._tuned[record.name] = (record.stamp, tuned)
        return cached[1]

    def projects_for(self, choice: ProjectChoice) -> list[ProjectIndex]:
        """The projects a question is asked of: one name (or the default), several, or `"*"` for
        every readable project (a damaged one left out)."""
        if isinstance(choice, str) and "," in choice:
            choice = [name.strip() for name in choice.split(",") if name.strip()]
        if choice == "*" or choice == ["*"]:
            indexes = [index for name in self.records.names() if (index := self._readable(name))]
            if not indexes:
                raise ProjectNotFoundError(f"no projects yet in {self.settings.storage_origin()}")
            return indexes
        if isinstance(choice, list):
            return [self.project(name) for name in dict.fromkeys(choice)] or [self.project(None)]
        return [self.project(choice)]

    def _readable(self, name: str) -> ProjectIndex | None:
        """The project, or None when it is damaged (left out of a question to every project).
        Cached projects are not read again: `"*"` costs no more than naming them."""
        try:
            return self.project(name)
        except DamagedProjectError:
            return None

    def _retrieve_across(self, indexes: list[ProjectIndex], query: Query, top_k: int,
                         filters: Filters | None) -> tuple[Retrieval, Settings]:
        """The likely projects (`ragqa.retrieve.across.route`) searched each with its own (tuned)
        settings, then merged."""
        found = []
        for index in route(indexes, query, lambda index: embed_query(
                index.embedder or self.retriever.embedder, query.text), self.settings):
            if filters and filters.path_prefix and not index.has_prefix(filters.path_prefix):
                continue
            retriever = self.retriever_for(index.record)
            found.append((index.record.name, retriever.retrieve(index, query, top_k, filters),
                          retriever.settings.min_confidence))
        if not found:
            indexes[0].check(filters or Filters())  # the error that says what is there instead
        best = max(found, key=lambda item: item[1].confidence.value)
        settings = self.retriever_for(next(i.record for i in indexes if i.record.name == best[0])).settings
        return merge_projects(found, top_k), settings

    def project(self, name: str | None) -> ProjectIndex:
        """The named project (or the default one) as retrieval needs it, cached until re-ingested."""
        with store_errors():
            return self._project(name)

    def forget(self, name: str) -> None:
        """Drop a cached project, so the next question reads its record again (after an ingest)."""
        with self._lock:
            self._projects.pop(name, None)

    def _project(self, name: str | None) -> ProjectIndex:
        name = self._project_name(name)
        with self._lock:
            cached = self._projects.get(name)
        if cached and time.monotonic() - cached.checked < self.settings.project_check_s:
            return cached.index
        stamp = self.records.stamp(name)
        if stamp is None:
            raise ProjectNotFoundError(f"no project named {name!r} (see `ragqa projects`)")
        if cached and cached.stamp == stamp:
            cached.checked = time.monotonic()
            return cached.index
        record = self._record(name)
        if record is None:
            raise ProjectNotFoundError(f"no project named {name!r} (see `ragqa projects`)")
        index = self._open(record)
        with self._lock:  # the stored stamp, as read above: a record written by an older ragqa
            # may store a stamp of another form, which must not look like a change every second
            self._projects[name] = _Cached(stamp, index, time.monotonic())
        return index

    def _record(self, name: str) -> ProjectRecord | None:
        try:
            return self.records.get(name)
        except ValueError as error:  # the catalogue's copy is damaged: the store has the record
            log.info("%s; reading the store", error)
            self.catalogue, self._view = None, None
            return self.records.get(name)

    def _open(self, record: ProjectRecord, snapshot: bool = True) -> ProjectIndex:
        embedder = embedder_for(record.embedder, self.settings)  # the project's own vector space
        started = _start_loading(embedder)  # the model's session starts while the project loads
        store = ChunkStore.lazy(lambda: self._collection(record))
        if self._view is None:  # the store is open anyway: a lost collection is a damaged project
            store.collection  # noqa: B018
        memory: ProjectSnapshot | ChunkStoreSnapshot | None = None
        if record.chunk_count <= self.settings.memory_search_max_chunks:
            memory = self.snapshots.open(record.collection, record.live_ids(), record.stamp) \
                if snapshot else None
            if memory is None:
                memory = read_back(self.snapshots, store, record.collection, record.live_ids(), record.stamp)
                _said_missing(record, len(memory.ids))
        source = memory or store
        lexical = self.lexical.update(
            record.collection, record.live_ids(), {}, None,
            fetch=lambda ids: [lexical_doc(chunk) for chunk in source.get(ids)])
        if memory is not None:
            memory.search.strategy = choose(len(memory.ids), self.settings.vector_search,
                                            self.settings.exact_search_max_chunks)
        if memory is not None and not memory.verified():
            log.warning("snapshot of %s is damaged (%s); rebuilding it from the vector store",
                        record.name, getattr(memory, "problem", ""))
            self.snapshots.discard(record.collection, record.live_ids(), record.stamp)
            return self._open(record, snapshot=False)
        if started is not None:
            started.join()
        return ProjectIndex.open(record, store, lexical, memory, lambda: self._graph(record, source),
                                 embedder)

    def _collection(self, record: ProjectRecord) -> Any:
        collection = get_collection(self.client, record.collection)
        if collection is None:
            raise DamagedProjectError(
                f"project {record.name!r} is damaged (its chunks are missing from the vector store): "
                f"`ragqa ingest {record.name}` rebuilds it, `ragqa remove {record.name}` drops it")
        return collection

    def _graph(self, record: ProjectRecord, source: ChunkSource) -> CodeGraph | None:
        """The project's code graph, its stored facts rebuilt from the indexed files when lost
        or damaged. The graph only helps ranking: when it cannot be had, retrieval goes on without."""
        def again(path: str) -> FileFacts:
            return read_facts(path, file_text(source, record.files[path].chunks))

        try:
            return build_graph(record, self.graphs.update(record, {}, None, again))
        except Exception as error:
            log.warning("project %s: its code graph is not available (%s: %s)", record.name,
                        type(error).__name__, " ".join(str(error).split())[:120])
            return None

    def _project_name(self, name: str | None) -> str:
        if name:
            return check_name(name)
        if self.settings.default_project:
            return self.settings.default_project
        names = self.records.names()
        if len(names) == 1:
            return names[0]
        if not names:
            raise ProjectNotFoundError(f"no projects yet in {self.settings.storage_origin()}: ingest one "
                                       "first (`ragqa ingest <git URL or path>`)")
        raise AmbiguousProjectError(
            f"several projects are indexed ({', '.join(names)}): name one — `--project NAME` on the "
            f"command line, \"project\": \"NAME\" in a request, project:NAME in Slack — or set "
            f"RAGQA_DEFAULT_PROJECT")


@dataclass
class _Cached:
    """A project as last opened, and when its record was last checked for a newer ingest."""

    stamp: str
    index: ProjectIndex
    checked: float


class _Run:
    """The answering of one question after retrieval: model or extractive, then link checks."""

    def __init__(self, answerer: Answerer, settings: Settings, indexes: list[ProjectIndex], question: str,
                 query: Query, retrieval: Retrieval, history: Sequence[Turn]) -> None:
        self.settings = settings
        self.llm = answerer.llm
        self.cpu = answerer.cpu
        self.indexes = {index.record.name: index for index in indexes}
        lead = retrieval.passages[0].project if retrieval.passages and retrieval.passages[0].project else ""
        self.index = self.indexes.get(lead, indexes[0])  # the project of the best passage
        self.record = self.index.record
        self.names = [index.record.name for index in indexes]
        self.late: Behind | None = None  # set by the Answerer: the index is behind its ref
        self.question = question
        self.query = query
        self.retrieval = retrieval
        self.history = history
        self.answer: Answer | None = None

    def events(self) -> Iterator[AnswerEvent]:
        passages = self.retrieval.passages
        if self.retrieval.confidence.vague:
            yield from self._ask_for_more(passages)
        elif not passages or self.retrieval.confidence.value < self.settings.min_confidence:
            yield from self._abstain(passages)
        elif self.llm is None:
            with self.cpu:
                events = list(self._extractive(passages, note=""))
            yield from events
        else:
            yield from self._generate(self.llm, passages)

    def _abstain(self, passages: list[Passage], model: str = EXTRACTIVE,
                 usage: Usage | None = None) -> Iterator[AnswerEvent]:
        sources = self._sources(passages)
        yield AnswerEvent("sources", sources=sources)
        yield AnswerEvent("delta", text=ABSTAIN)
        self.answer = self._answer(ABSTAIN, False, sources, [], model, usage)

    def _ask_for_more(self, passages: list[Passage]) -> Iterator[AnswerEvent]:
        """A question too vague to search for ("help"): say what the project can be asked about."""
        sources = self._sources(passages)
        yield AnswerEvent("sources", sources=sources)
        text = render.vague_reply(", ".join(self.names), self.index.topics())
        yield AnswerEvent("delta", text=text)
        self.answer = self._answer(text, False, sources, [], EXTRACTIVE, None)

    def _extractive(self, passages: list[Passage], note: str) -> Iterator[AnswerEvent]:
        sources = self._sources(passages)
        yield AnswerEvent("sources", sources=sources)
        definitions = self._definitions()
        clues = self._clues()
        marked = [(path, line) for path, line, _ in definitions] + [(path, line) for path, line, _ in clues]
        excerpts = [extractive.excerpt(passage, self.query, self._index_of(passage).lexical.term_idf,
                                       [line for path, line in marked if path == passage.path
                                        and self._index_of(passage) is self.index],
                                       self._index_of(passage).symbols.in_file(passage.path))
                    for passage in passages[: extractive.QUOTED_SOURCES]]
        first = excerpts[0]
        defined = [name for path, line, name in definitions
                   if path == first.path and first.start_line <= line <= first.end_line]
        reasons = [reason for path, line, found in clues
                   if path == first.path and first.start_line <= line <= first.end_line for reason in found]
        body = render.extractive_answer(self.record.name, self.query, excerpts, self._excerpt_links(passages),
                                        defined, list(dict.fromkeys(reasons)))
        # the References list names each source as its quote is named
        guard = LinkGuard(self._targets(passages[: extractive.QUOTED_SOURCES], [e.title for e in excerpts]))
        text = (f"_{note}_\n\n" if note else "") + guard.feed(body) + guard.finish()
        yield AnswerEvent("delta", text=text)
        self.answer = self._answer(text, True, sources, guard.removed, EXTRACTIVE, None)

    def _generate(self, llm: LLM, passages: list[Passage]) -> Iterator[AnswerEvent]:
        context = [self._context_source(label, passage) for label, passage in _labelled(passages)]
        prompt, packed = pack(self.settings.prompts_dir, self._prompt_record(), self.question, context,
                              self.settings.llm_context_window, self.settings.llm_answer_tokens,
                              llm.name, [(turn.role, turn.content) for turn in self.history])
        used = [passage for (label, passage) in _labelled(passages)
                if label in {source.label for source in packed}]
        sources = self._sources(used)
        guard = LinkGuard(self._targets(used))
        usage = Usage()
        raw: list[str] = []
        shown: list[str] = []
        try:
            for piece in llm.stream(prompt, usage):
                raw.append(piece)
                if not shown and _may_be_abstention("".join(raw)):
                    continue  # hold the start back until it cannot be "Hmm, I'm not sure."
                if not shown:
                    yield AnswerEvent("sources", sources=sources)
                text = guard.feed("".join(raw) if not shown else piece)
                shown.append(text)
                if text:
                    yield AnswerEvent("delta", text=text)
        except LLMError as error:
            if not shown:
                yield from self._extractive(passages, note=f"{error}; this answer quotes the sources.")
                return
            note = guard.feed(f"\n\n_(The answer was cut off: {error}.)_\n")
            shown.append(note)
            yield AnswerEvent("delta", text=note)
        if not shown:
            if is_abstention("".join(raw)):
                yield from self._abstain(used, llm.name, _counted(usage, prompt, raw, llm.name))
                return
            yield AnswerEvent("sources", sources=sources)
            shown.append(guard.feed("".join(raw)))
            yield AnswerEvent("delta", text=shown[-1])
        tail = guard.finish()
        yield AnswerEvent("delta", text=tail)
        text = "".join(shown) + tail
        self.answer = self._answer(text, True, sources, guard.removed, llm.name,
                                   _counted(usage, prompt, raw, llm.name))

    def _answer(self, text: str, answered: bool, sources: list[Source], removed: list[str],
                model: str, usage: Usage | None) -> Answer:
        usage = usage or Usage()
        several = len(self.indexes) > 1
        return Answer(
            answer=text, answered=answered, project=",".join(self.names) if several else self.record.name,
            commit="" if several else self.record.commit,
            projects={name: index.record.commit for name, index in self.indexes.items()},
            indexed_at=self.record.indexed_at, behind=self.late,
            sources=sources, links_removed=removed, model=model,
            usage=TokenUsage(prompt_tokens=usage.prompt_tokens,
                             completion_tokens=usage.completion_tokens))

    def _index_of(self, passage: Passage) -> ProjectIndex:
        return self.indexes.get(passage.project, self.index)

    def _link(self, passage: Passage, start: int | None = None, end: int | None = None) -> str:
        """A permalink to the passage's lines (or `start`–`end` of its file) at its project's commit."""
        record = self._index_of(passage).record
        return permalink(record.web_url, record.commit, passage.path, start or passage.start_line,
                         end or passage.end_line)

    def _sources(self, passages: list[Passage]) -> list[Source]:
        return [Source(id=label, project=self._index_of(passage).record.name, path=passage.path,
                       start_line=passage.start_line, end_line=passage.end_line,
                       score=round(passage.score, 4), kind=passage.kind, url=self._link(passage))
                for label, passage in _labelled(passages)]

    def _targets(self, passages: list[Passage], titles: Sequence[str] = ()) -> list[LinkTarget]:
        """Link targets for `passages`, titled by `titles` where given (the labels of their
        quotes), else by each passage's best chunk."""
        return [LinkTarget(label, self._link(passage), passage.path, passage.start_line, passage.end_line,
                           titles[number] if number < len(titles) else _title(passage))
                for number, (label, passage) in enumerate(_labelled(passages))]

    def _context_source(self, label: str, passage: Passage) -> ContextSource:
        return ContextSource(label, passage.path, passage.start_line, passage.end_line, self._link(passage),
                             passage.language, _title(passage), passage.text)

    def _prompt_record(self) -> ProjectRecord:
        """The record the prompt describes; for several projects, their names together."""
        if len(self.indexes) == 1:
            return self.record
        return self.record.model_copy(update={"name": ", ".join(self.names), "web_url": None, "files": {}})

    def _excerpt_links(self, passages: list[Passage]) -> Callable[[extractive.Excerpt], str]:
        """Links for the quoted excerpts: each to its lines in its own passage's project."""
        def link(excerpt: extractive.Excerpt) -> str:
            passage = next((p for p in passages if p.path == excerpt.path and
                            p.start_line <= excerpt.start_line and excerpt.end_line <= p.end_line),
                           passages[0])
            return self._link(passage, excerpt.start_line, excerpt.end_line)
        return link

    def _definitions(self) -> list[tuple[str, int, str]]:
        """(path, line, name) of the definitions of names the question mentions, unless it asks
        how to use something (its answer is in the docs, not at the definition) or is a pasted
        report (its evidence marks the lines instead)."""
        if self.query.intent is Intent.USAGE or self.retrieval.evidence is not None:
            return []
        found: list[tuple[str, int, str]] = []
        lookups = [(name, False) for name in self.query.names] + \
            [(word, True) for word in self.query.capitalised]
        for name, classes_only in lookups:
            found.extend((symbol.path, symbol.start_line, symbol.name)
                         for symbol in self.index.symbols.find(name, classes_only)[:3])
        return found

    def _clues(self) -> list[tuple[str, int, list[str]]]:
        """(path, line, reasons) where a pasted report's evidence points, strongest first: one
        per file, so the quote of a file centres on its strongest clue."""
        evidence = self.retrieval.evidence
        if evidence is None:
            return []
        clues: list[tuple[str, int, list[str]]] = []
        for chunk_id, _ in evidence.ranking():
            path = self.index.chunk_paths.get(chunk_id)
            if path is not None and chunk_id in evidence.lines and all(path != seen for seen, _, _ in clues):
                clues.append((path, evidence.lines[chunk_id], evidence.reasons.get(chunk_id, [])))
        return clues


def get_reranker(settings: Settings, llm: LLM | None) -> Reranker | None:
    """The reranker `settings` select (see `ragqa.retrieve.rerank`), or None for the fused order."""
    choice = settings.reranker
    if choice == "none":
        return None
    if choice == "llm":
        if llm is None:
            raise ConfigError("RAGQA_RERANKER=llm needs a model: set RAGQA_LLM_BASE_URL or OPENAI_API_KEY")
        model = llm

        def complete(prompt: str) -> str:
            return "".join(model.stream(prompt, Usage()))

        return LLMReranker(complete, lambda question, items: render_rerank(
            settings.prompts_dir, question, items))
    if choice == "cross-encoder":
        if not settings.reranker_model:
            raise ConfigError("RAGQA_RERANKER=cross-encoder needs RAGQA_RERANKER_MODEL, a local folder "
                              "holding a cross-encoder (none ships inside a package on the registry)")
        return CrossEncoderReranker(settings.reranker_model)
    raise ConfigError(f"unknown reranker {choice!r} (choose none, llm or cross-encoder)")


def merge_projects(found: list[tuple[str, Retrieval, float]], top_k: int) -> Retrieval:
    """One retrieval from several projects' (name, retrieval, threshold): each passage's score is
    on its project's scale (1 = first in every ranking), weighted by how sure its project is that
    it answers; a project below its threshold gives passages only when no project reaches its own.
    The confidence is the best project's."""
    confident = [item for item in found if item[1].confidence.value >= item[2]] or found
    weighted = []
    for name, retrieval, _ in confident:
        for passage in retrieval.passages:
            passage.project = name
            weighted.append((passage.score * retrieval.confidence.value, passage))
    weighted.sort(key=lambda item: -item[0])
    best = max(found, key=lambda item: item[1].confidence.value)[1]
    return Retrieval([passage for _, passage in weighted[:top_k]], best.confidence, None)


def final_answer(events: Iterable[AnswerEvent]) -> Answer:
    """The answer a stream of events ends with (its `done` event)."""
    for event in events:
        if event.answer is not None:
            return event.answer
    raise AssertionError("an answer stream ended without a done event")  # pragma: no cover


def _labelled(passages: list[Passage]) -> list[tuple[str, Passage]]:
    return [(f"S{number}", passage) for number, passage in enumerate(passages, 1)]


def _title(passage: Passage) -> str:
    """The symbol of a code passage, or the innermost heading of a docs one, as safe Markdown."""
    return render.title(passage.symbol, passage.heading)


def _may_be_abstention(text: str) -> bool:
    """Whether the answer so far may still turn out to be 'Hmm, I'm not sure.' (held back)."""
    stripped = text.lstrip()
    return ABSTAIN.startswith(stripped) or is_abstention(stripped)


def _counted(usage: Usage, prompt: str, raw: list[str], model: str) -> Usage:
    """The server's token counts, or tiktoken's when the server sent none."""
    if usage.prompt_tokens or usage.completion_tokens:
        return usage
    return Usage(count_tokens(prompt, model), count_tokens("".join(raw), model))


def _check_question(question: str, limit: int) -> str:
    question = question.replace("\x00", " ").strip()
    if not question:
        raise BadQuestionError("the question is empty")
    if not _encodable(question):
        raise BadQuestionError("the question is not valid text (it holds unpaired surrogates)")
    if len(question) > limit:
        raise BadQuestionError(f"the question is {len(question)} characters long; {limit} at most")
    return question


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _search_text(question: str, history: Sequence[Turn]) -> str:
    """What retrieval searches for: the question, with the previous one if it is a short follow-up."""
    previous = next((turn.content for turn in reversed(history) if turn.role == "user"), "")
    if previous and len(tokenize(question)) < FOLLOW_UP_TERMS:
        return f"{previous}\n{question}"
    return question


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _start_loading(embedder: Embedder) -> threading.Thread | None:
    """Start loading a local model in a thread (joined before the project is handed out, so no
    process exits while onnxruntime is still loading)."""
    encoder = getattr(type(embedder), "encoder", None)
    if not isinstance(encoder, property) or getattr(embedder, "loaded", True):
        return None

    def load() -> None:
        with contextlib.suppress(Exception):  # a failing model is reported by the question itself
            embedder.encoder  # type: ignore[attr-defined]  # noqa: B018

    thread = threading.Thread(target=load, name="ragqa-model-load")
    thread.start()
    return thread


def _said_missing(record: ProjectRecord, found: int) -> None:
    wanted = record.chunk_count
    if found < wanted:
        log.warning("project %s: %d of its %d chunks are missing from the vector store; answering "
                    "from the rest (`ragqa ingest %s` restores them)", record.name, wanted - found,
                    wanted, record.name)
