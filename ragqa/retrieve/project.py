"""One project as retrieval sees it: its record, chunks, BM25 index, symbol table and code graph."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pathspec

from ragqa.errors import BadRequestError
from ragqa.index import (
    ChunkStore,
    ChunkStoreSnapshot,
    CodeGraph,
    Embedder,
    LexicalIndex,
    ProjectRecord,
    StoredChunk,
)
from ragqa.index.chroma import store_errors
from ragqa.index.lexical import tokenize
from ragqa.index.snapshot import ProjectSnapshot
from ragqa.index.symbols import SymbolTable

KindFilter = Literal["code", "docs"]
TOPIC_COUNT = 8
PHRASE_CANDIDATES = 300  # chunks holding a phrase's words read to find the phrase itself
_NOT_TOPICS = ("change", "history", "release", "license", "licence", "contribut", "code of conduct",
               "authors", "security", "support", "sponsor", "funding", "thank", "credits")


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
class ProjectIndex:
    """A project opened for questions (cached by the `Answerer` until it is re-ingested)."""

    record: ProjectRecord
    store: ChunkStore
    lexical: LexicalIndex
    symbols: SymbolTable
    file_kinds: dict[str, str]
    chunk_paths: dict[str, str]
    chunk_positions: dict[str, int]  # a chunk's place among its file's chunks, in line order
    memory: ProjectSnapshot | ChunkStoreSnapshot | None = None  # all chunks and vectors (small enough)
    doc_chunks: set[str] = field(default_factory=set)  # code chunks that are mostly doc comment
    graph_source: CodeGraph | Callable[[], CodeGraph | None] | None = None  # see `graph`
    embedder: Embedder | None = None  # the model of the project's vector space (else the retriever's)
    _matches: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    _topics: list[str] | None = None
    _by_file_name: dict[str, list[str]] = field(default_factory=dict)
    _graph_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def graph(self) -> CodeGraph | None:
        """Who calls whom (`ragqa.index.graph`); None: not available. Built on first use: only a
        pasted report, `locate` and usages read it, and building it is most of a big project's
        load (a plain question never waits for it)."""
        with self._graph_lock:
            if callable(self.graph_source) and not isinstance(self.graph_source, CodeGraph):
                self.graph_source = self.graph_source()
            return self.graph_source

    def __post_init__(self) -> None:
        for path in self.file_kinds:
            self._by_file_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)

    @classmethod
    def open(cls, record: ProjectRecord, store: ChunkStore, lexical: LexicalIndex,
             memory: ProjectSnapshot | ChunkStoreSnapshot | None = None,
             graph: CodeGraph | Callable[[], CodeGraph | None] | None = None,
             embedder: Embedder | None = None) -> ProjectIndex:
        chunk_paths = {chunk_id: path for path, entry in record.files.items()
                       for chunk_id in entry.chunks}
        positions = {chunk_id: place for entry in record.files.values()
                     for place, chunk_id in enumerate(entry.chunks)}
        file_kinds = {path: entry.kind for path, entry in record.files.items()}
        doc_chunks = {entry.chunks[place] for entry in record.files.values()
                      for place in entry.doc_chunks if 0 <= place < len(entry.chunks)}
        return cls(record, store, lexical, SymbolTable.of(record), file_kinds, chunk_paths,
                   positions, memory, doc_chunks, graph, embedder)

    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        """Stored chunks by id, from memory when the project is held there."""
        if self.memory is not None:
            return self.memory.get(ids)
        with store_errors():
            return self.store.get(ids)

    def resolve_path(self, written: str) -> str | None:
        """The project file a path from elsewhere stands for: a frame's path on someone's machine
        (`/usr/lib/python3/site-packages/astropy/io/ascii/core.py`), a `src/` layout, a
        relative or bare file name. The file sharing the longest tail of folders wins, and it
        must share its folder too (one shared file name could be the standard library's); a
        bare name must be unique."""
        parts = [part for part in written.replace("\\", "/").split("/") if part not in ("", ".")]
        if not parts:
            return None
        best: tuple[int, str] | None = None
        for path in self._by_file_name.get(parts[-1], []):
            shared = _shared_tail(parts, path.split("/"))
            if best is None or shared > best[0]:
                best = (shared, path)
            elif shared == best[0]:
                best = (shared, "")  # a tie: ambiguous
        if best is None or not best[1]:
            return None
        shared, path = best
        if len(parts) == 1:  # a bare file name
            return path if len(self._by_file_name[parts[-1]]) == 1 else None
        return path if shared >= min(2, path.count("/") + 1) else None

    def module_path(self, module: str) -> str | None:
        """The file of a dotted module (`astropy.io.ascii.qdp` → `astropy/io/ascii/qdp.py`, or a
        package's `__init__.py`), under any folder (`src/`)."""
        tail = module.replace(".", "/")
        for candidate in (f"{tail}.py", f"{tail}/__init__.py"):
            path = self.resolve_path(candidate)
            if path is not None and path.endswith(candidate):
                return path
        return None

    def read_lines(self, path: str, start: int, end: int) -> tuple[str, int]:
        """Lines `start`–`end` of an indexed file as indexed (secrets redacted), and the last line
        number given (`end`, or the file's last indexed line). The file is put together from its
        chunks: the chunker leaves only empty lines between them."""
        entry = self.record.files[path]
        lines: dict[int, str] = {}
        for chunk in self.chunks(entry.chunks):
            first = int(chunk.metadata.get("start_line", 1))
            for offset, text in enumerate(chunk.text.split("\n")):
                lines[first + offset] = text
        last = min(end, max(lines, default=0))
        return "\n".join(lines.get(number, "") for number in range(start, last + 1)), last

    def chunk_at(self, path: str, line: int) -> str | None:
        """The chunk of `path` that holds `line`."""
        entry = self.record.files.get(path)
        if entry is None:
            return None
        for chunk in self.chunks(entry.chunks):
            if int(chunk.metadata.get("start_line", 0)) <= line <= int(chunk.metadata.get("end_line", 0)):
                return chunk.id
        return None

    def find_phrase(self, phrase: str, filters: Filters, limit: int = PHRASE_CANDIDATES
                    ) -> list[tuple[str, str, int]]:
        """Chunks whose text holds `phrase` (case aside), each with the line that holds it and
        that line's number.
        The BM25 index narrows the search to chunks holding every word of it first."""
        ids = self.lexical.holding_all(tokenize(phrase), limit)
        wanted = phrase.lower()
        found = []
        for chunk in self.chunks([chunk_id for chunk_id in ids if self.allowed(chunk_id, filters)]):
            at = chunk.text.lower().find(wanted)
            if at >= 0:
                start = chunk.text.rfind("\n", 0, at) + 1
                end = chunk.text.find("\n", at)
                number = int(chunk.metadata.get("start_line", 1)) + chunk.text.count("\n", 0, at)
                found.append((chunk.id, chunk.text[start:end if end >= 0 else None], number))
        return found

    def matching(self, patterns: Sequence[str]) -> set[str]:
        """The files matching gitignore-style `patterns` (computed once per pattern list)."""
        key = tuple(patterns)
        if key not in self._matches:
            spec = pathspec.GitIgnoreSpec.from_lines(patterns)
            self._matches[key] = {path for path in self.file_kinds if spec.match_file(path)}
        return self._matches[key]

    def check(self, filters: Filters) -> None:
        """A path prefix no indexed file is under is an error that says what is there instead."""
        prefix = filters.path_prefix
        if prefix and not self.has_prefix(prefix):
            folders = sorted({path.split("/", 1)[0] + "/" for path in self.file_kinds if "/" in path})
            shown = ", ".join(folders[:12]) or "(only files at the top)"
            raise BadRequestError(f"no indexed file of {self.record.name} is under {prefix!r}; "
                                  f"its top-level folders are {shown}")

    def packages(self, folders: Sequence[str]) -> dict[str, str]:
        """A monorepo's packages: each subfolder of `folders` (`packages/server/`) by its name
        (`server`), with its path prefix; its README and `docs/` are that package's docs."""
        key = ("\0packages", *folders)
        if key not in self._matches:
            self._matches[key] = {f"{top}/{name}/" for top, name, *_ in
                                  (path.split("/", 2) for path in self.file_kinds if path.count("/") >= 2)
                                  if top in folders}
        return {prefix.split("/")[1]: prefix for prefix in self._matches[key]}

    def has_prefix(self, prefix: str) -> bool:
        """Whether any indexed file is under the path `prefix`."""
        return any(path.startswith(prefix) for path in self.file_kinds)

    def allowed(self, chunk_id: str, filters: Filters) -> bool:
        path = self.chunk_paths.get(chunk_id)
        return path is not None and filters.allows(path, self.file_kinds[path])

    def topics(self) -> list[str]:
        """The project's main topics: the titles of its largest docs, for a vague question's
        reply (changelogs, licences and the like left out)."""
        if self._topics is None:
            docs = [chunk_id for chunk_id, path in self.chunk_paths.items()
                    if self.file_kinds[path] == "docs"]
            titles: Counter[str] = Counter()
            for chunk in self.chunks(docs):
                title = str(chunk.metadata.get("heading", "")).split(" > ", 1)[0].strip()
                if title and not any(word in title.lower() for word in _NOT_TOPICS):
                    titles[title] += 1
            self._topics = [title for title, _ in titles.most_common(TOPIC_COUNT)]
        return self._topics


def _shared_tail(left: list[str], right: list[str]) -> int:
    """How many trailing path parts two paths share."""
    shared = 0
    for a, b in zip(reversed(left), reversed(right), strict=False):
        if a != b:
            break
        shared += 1
    return shared
