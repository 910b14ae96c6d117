"""The chunks of one project in one Chroma collection, written through llama-index's
`ChromaVectorStore` and read back with the plain client where llama-index has no call for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ragqa.chunking import Chunk
from ragqa.index.lexical import LexicalDoc
from ragqa.index.vectors import VectorIndex

_PAGE = 5_000


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from the store."""

    id: str
    text: str
    metadata: dict[str, Any]


class ChunkStore:
    """Add, find, list and delete the chunks of one project's collection."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self._opener: Callable[[], Any] | None = None
        self._llama_store: Any = None

    @classmethod
    def lazy(cls, opener: Callable[[], Any]) -> ChunkStore:
        """A store whose collection is opened on first use (a project answered from its
        snapshot may never need it, and then Chroma is never imported)."""
        store = cls(None)
        store._opener = opener
        return store

    @property
    def collection(self) -> Any:
        if self._collection is None and self._opener is not None:
            self._collection = self._opener()
        return self._collection

    @property
    def _vector_store(self) -> Any:
        """llama-index's view of the collection, imported only when chunks are written."""
        if self._llama_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._llama_store = ChromaVectorStore(chroma_collection=self.collection)
        return self._llama_store

    def add(self, chunks: Sequence[Chunk], vectors: Sequence[list[float]], project: str,
            commit: str) -> None:
        """Store chunks with their vectors; `commit` is the commit they were read from.

        A chunk id stands for a path, a line span and its text, so a stored chunk is reused as
        long as those lines are unchanged: its `commit` is then an earlier commit with the very
        same lines, and links are built from the project's current commit instead.
        """
        from llama_index.core.schema import TextNode

        nodes = [
            TextNode(id_=chunk.id, text=chunk.text, embedding=vector,
                     metadata=chunk_metadata(chunk, project, commit))
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        self._vector_store.add(nodes)

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are stored already (say, by an ingest that was killed)."""
        wanted = list(ids)
        found: set[str] = set()
        for start in range(0, len(wanted), _PAGE):
            found.update(self.collection.get(ids=wanted[start:start + _PAGE], include=[])["ids"])
        return found

    def relabel(self, chunks: Sequence[Chunk]) -> int:
        """Give stored chunks the symbol and heading they are labelled with now (a new chunker
        may name the same lines better: `Execute` → `Command.Execute`); their text and vector
        stay. Returns how many were relabelled."""
        wanted = {chunk.id: chunk for chunk in chunks}
        changed: dict[str, dict[str, Any]] = {}
        for stored, _ in self.read(list(wanted), with_vectors=False):
            chunk = wanted[stored.id]
            label = {"symbol": chunk.symbol, "heading": chunk.heading}
            if any(stored.metadata.get(key, "") != value for key, value in label.items()):
                changed[stored.id] = label
        ids = list(changed)
        for start in range(0, len(ids), _PAGE):
            page = ids[start:start + _PAGE]
            self.collection.update(ids=page, metadatas=[changed[id_] for id_ in page])
        return len(ids)

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        offset = 0
        while True:
            page = self.collection.get(include=[], limit=_PAGE, offset=offset)["ids"]
            ids.update(page)
            if len(page) < _PAGE:
                return ids
            offset += _PAGE

    def delete(self, ids: Iterable[str]) -> None:
        doomed = list(ids)
        for start in range(0, len(doomed), _PAGE):
            self._vector_store.delete_nodes(node_ids=doomed[start:start + _PAGE])

    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        """The stored chunks with these ids, in the order given (missing ones left out)."""
        by_id = {chunk.id: chunk for chunk, _ in self.read(ids, with_vectors=False)}
        return [by_id[id_] for id_ in ids if id_ in by_id]

    def read(self, ids: Sequence[str], with_vectors: bool) -> Iterator[tuple[StoredChunk, Any]]:
        """The stored chunks with these ids (in the store's order), with their vectors if asked."""
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        for start in range(0, len(ids), _PAGE):
            found = self.collection.get(ids=list(ids[start:start + _PAGE]), include=include)
            vectors = found["embeddings"] if with_vectors else [None] * len(found["ids"])
            for id_, text, meta, vector in zip(found["ids"], found["documents"], found["metadatas"],
                                               vectors, strict=True):
                yield StoredChunk(id_, text or "", dict(meta or {})), vector


class ChunkStoreSnapshot:
    """All of a project's live chunks and vectors held in memory: search in a few milliseconds
    (`search`: exact, or a projected scan for large projects — `ragqa.index.vectors`) and no
    store round trip per question. Loaded once per project record."""

    def __init__(self, chunks: list[StoredChunk], vectors: npt.NDArray[np.float32]) -> None:
        self.ids = [chunk.id for chunk in chunks]
        self.chunks = {chunk.id: chunk for chunk in chunks}
        self.vectors = vectors
        self.search = VectorIndex(vectors)

    @classmethod
    def load(cls, store: ChunkStore, ids: Sequence[str]) -> ChunkStoreSnapshot:
        """The chunks with these ids (in the order given) read from the store, with their vectors."""
        chunks: list[StoredChunk] = []
        vectors: list[Any] = []
        found = {chunk.id: (chunk, vector) for chunk, vector in store.read(ids, with_vectors=True)}
        for chunk_id in ids:
            if chunk_id in found:
                chunks.append(found[chunk_id][0])
                vectors.append(found[chunk_id][1])
        matrix = np.asarray(vectors, dtype=np.float32) if vectors else np.zeros((0, 1), np.float32)
        return cls(chunks, matrix)

    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        return [self.chunks[id_] for id_ in ids if id_ in self.chunks]

    def verified(self) -> bool:
        """Read from the store just now: nothing to check (see `ProjectSnapshot.verified`)."""
        return True

    def nearest(self, vector: Sequence[float], count: int) -> list[tuple[str, float]]:
        """The `count` chunks most similar to `vector` (cosine; stored vectors are normalised)."""
        return self.search.nearest_ids(self.ids, vector, count)


def chunk_metadata(chunk: Chunk, project: str, commit: str) -> dict[str, Any]:
    """The flat metadata every stored chunk carries."""
    return {
        "project": project,
        "path": chunk.path,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "language": chunk.language,
        "kind": chunk.kind,
        "symbol": chunk.symbol,
        "heading": chunk.heading,
        "commit": commit,
        "content_hash": chunk.content_hash,
    }


def chunk_label(path: str, symbol: str = "", heading: str = "") -> str:
    """Where a chunk lives, in words: `path · symbol · heading` (empty parts left out)."""
    return " · ".join(part for part in (path, symbol, heading) if part)


def embedding_text(chunk: Chunk) -> str:
    """What the embedder reads: where the chunk lives, then the chunk itself."""
    return f"{chunk_label(chunk.path, chunk.symbol, chunk.heading)}\n{chunk.text}"


def lexical_doc(chunk: Chunk | StoredChunk) -> LexicalDoc:
    """What BM25 reads of a chunk, whether just chunked or read back from the store."""
    if isinstance(chunk, StoredChunk):
        meta = chunk.metadata
        return LexicalDoc(chunk.id, chunk.text, str(meta.get("path", "")), str(meta.get("symbol", "")),
                          str(meta.get("heading", "")))
    return LexicalDoc(chunk.id, chunk.text, chunk.path, chunk.symbol, chunk.heading)
