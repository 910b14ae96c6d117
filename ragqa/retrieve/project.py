"""One project as retrieval sees it: its record, chunks, BM25 index and symbol table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pathspec

from ragqa.errors import BadRequestError
from ragqa.index import ChunkStore, ChunkStoreSnapshot, LexicalIndex, ProjectRecord, StoredChunk
from ragqa.index.chroma import store_errors
from ragqa.index.symbols import SymbolTable

KindFilter = Literal["code", "docs"]
TOPIC_COUNT = 8
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
    memory: ChunkStoreSnapshot | None = None  # all chunks and vectors, for projects small enough
    _matches: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    _topics: list[str] | None = None

    @classmethod
    def open(cls, record: ProjectRecord, store: ChunkStore, lexical: LexicalIndex,
             memory: ChunkStoreSnapshot | None = None) -> ProjectIndex:
        chunk_paths = {chunk_id: path for path, entry in record.files.items()
                       for chunk_id in entry.chunks}
        positions = {chunk_id: place for entry in record.files.values()
                     for place, chunk_id in enumerate(entry.chunks)}
        file_kinds = {path: entry.kind for path, entry in record.files.items()}
        return cls(record, store, lexical, SymbolTable.of(record), file_kinds, chunk_paths,
                   positions, memory)

    def chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        """Stored chunks by id, from memory when the project is held there."""
        if self.memory is not None:
            return self.memory.get(ids)
        with store_errors():
            return self.store.get(ids)

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
        if prefix and not any(path.startswith(prefix) for path in self.file_kinds):
            folders = sorted({path.split("/", 1)[0] + "/" for path in self.file_kinds if "/" in path})
            shown = ", ".join(folders[:12]) or "(only files at the top)"
            raise BadRequestError(f"no indexed file of {self.record.name} is under {prefix!r}; "
                                  f"its top-level folders are {shown}")

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
