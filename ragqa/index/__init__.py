"""Stage 3 — index: embeddings, the Chroma store of chunks, and the project registry."""

from ragqa.index.chroma import StoreUnavailableError, chroma_client
from ragqa.index.embedders import Embedder, embedder_name, get_embedder
from ragqa.index.registry import FileEntry, ProjectRecord, Registry
from ragqa.index.store import ChunkStore, StoredChunk, embedding_text

__all__ = [
    "ChunkStore",
    "Embedder",
    "FileEntry",
    "ProjectRecord",
    "Registry",
    "StoreUnavailableError",
    "StoredChunk",
    "chroma_client",
    "embedder_name",
    "embedding_text",
    "get_embedder",
]
