"""Stage 3 — index: embeddings, the Chroma store of chunks, and the project registry."""

from ragqa.index.chroma import StoreUnavailableError, chroma_client
from ragqa.index.embedders import Embedder, embedder_for, embedder_name, get_embedder
from ragqa.index.graph import CodeGraph, GraphStore
from ragqa.index.lexical import LexicalIndex, LexicalStore
from ragqa.index.registry import FileEntry, ProjectRecord, Registry
from ragqa.index.store import (
    ChunkStore,
    ChunkStoreSnapshot,
    StoredChunk,
    chunk_label,
    embedding_text,
    lexical_doc,
)

__all__ = [
    "ChunkStore",
    "ChunkStoreSnapshot",
    "CodeGraph",
    "Embedder",
    "FileEntry",
    "GraphStore",
    "LexicalIndex",
    "LexicalStore",
    "ProjectRecord",
    "Registry",
    "StoreUnavailableError",
    "StoredChunk",
    "chroma_client",
    "chunk_label",
    "embedder_for",
    "embedder_name",
    "embedding_text",
    "get_embedder",
    "lexical_doc",
]
