"""The Chroma client: embedded under `storage/chroma` by default, a server with RAGQA_CHROMA_URL.

Chroma is never asked to embed anything (its default embedding function downloads a model):
every write passes `embeddings=` and every query passes `query_embeddings=`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from ragqa.errors import ProjectNotFoundError, RagqaError
from ragqa.settings import STORAGE_MARKER, Settings

_clients: dict[str, Any] = {}
_lock = threading.Lock()


class StoreUnavailableError(RagqaError):
    """The vector store cannot be reached or opened."""

    code = "store_unavailable"


def chroma_client(settings: Settings, create: bool = True) -> Any:
    """One client per store location and process (Chroma dislikes several on one path).

    With `create` false an embedded store that does not exist yet is not made: readers say
    there are no projects instead of leaving an empty store behind.
    """
    key = settings.chroma_url or str(settings.chroma_dir.resolve())
    if not create and not settings.chroma_url and not settings.chroma_dir.exists():
        raise ProjectNotFoundError(f"no projects yet in {settings.storage_origin()}: ingest one first "
                                   "(`ragqa ingest <git URL or path>`)")
    with _lock:
        if key not in _clients:
            _clients[key] = _connect(settings)
        return _clients[key]


def _connect(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    options = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_url:
            url = urlsplit(settings.chroma_url)
            if url.scheme not in {"http", "https"} or not url.hostname:
                raise StoreUnavailableError(
                    f"RAGQA_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}")
            client = chromadb.HttpClient(
                host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https", settings=options)
            client.heartbeat()
            return client
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        (settings.storage_dir / STORAGE_MARKER).touch()
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=options)
    except StoreUnavailableError:
        raise
    except Exception as error:
        where = settings.chroma_url or str(settings.chroma_dir)
        raise StoreUnavailableError(f"cannot open the vector store at {where}: {error}") from error


@contextmanager
def store_errors() -> Iterator[None]:
    """An outage of the store — connection refused or reset, a timeout, a server error —
    becomes `StoreUnavailableError` (HTTP 503 + Retry-After). Anything else is not an outage
    and is left as it is: a bug, reported as an internal error, never as "the store is down"."""
    try:
        yield
    except RagqaError:
        raise
    except Exception as error:
        if is_outage(error):
            raise StoreUnavailableError(f"the vector store is unavailable: {_one_line(error)}") from error
        raise


def is_outage(error: BaseException) -> bool:
    """Whether `error` says the store cannot be reached or is failing, rather than that a
    request to it was wrong."""
    import httpx

    if isinstance(error, (ConnectionError, TimeoutError, httpx.TransportError)):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500
    names = {kind.__name__ for kind in type(error).__mro__}
    if names & {"InternalError", "OperationalError", "DatabaseError"}:  # chromadb 5xx, sqlite
        return True
    return "could not connect to a chroma server" in str(error).lower()


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def get_collection(client: Any, name: str) -> Any | None:
    """An existing collection, or None when there is none (reading never creates one)."""
    try:
        return client.get_collection(name=name, embedding_function=None)
    except Exception as error:
        if is_outage(error):
            raise
        if "does not exist" in str(error) or type(error).__name__ == "NotFoundError":
            return None
        raise


def get_or_create_collection(client: Any, name: str, metadata: dict[str, Any]) -> Any:
    """A collection with cosine distance and no embedding function of Chroma's own."""
    return client.get_or_create_collection(
        name=name, embedding_function=None, metadata={"hnsw:space": "cosine", **metadata})


def delete_collection(client: Any, name: str) -> None:
    """Drop a collection if it exists."""
    try:
        client.delete_collection(name)
    except Exception as error:  # chromadb raises different types per mode for "not found"
        if "does not exist" not in str(error) and "not found" not in str(error).lower():
            raise
