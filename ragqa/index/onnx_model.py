"""The local model as an ONNX graph run by onnxruntime: built once, checked at every load.

The first process that needs the model builds its graph from the safetensors weights
(`bert_onnx`, about 2 s, no torch) into `<model cache>/<name>-<digest>.onnx` with a SHA-256
beside it; later processes check the digest and load the file in about half a second. A file
that is missing, truncated or replaced is noticed, reported in one line and built again.

Only sentence-transformers models of the shape Transformer → mean pooling (→ normalise) are run
this way. A model that is not a BERT encoder in safetensors runs on torch (the `torch` extra),
which exports the same graph by tracing it (`export`); the vectors of both routes are the same
as sentence-transformers' own (cosine 1 − 1e-7), so they share one vector space and collection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

EXPORT_VERSION = "onnx-2"  # 2: built from the safetensors weights (bert_onnx), not traced by torch
BATCH = 8  # onnxruntime is as fast as torch per text at this size, slower at 32


class OnnxEncoder:
    """Mean-pooled, normalised sentence embeddings from an exported transformer."""

    def __init__(self, onnx_path: Path, model_dir: Path, max_length: int) -> None:
        import tokenizers

        self.tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.onnx_path = onnx_path
        # One thread per question and no spin-waiting: a server answers many questions at once,
        # one per core; batches of chunks (ingest) get a session with a thread per core.
        self.query_session = self._session(threads=1)
        self._batch_session: Any = None

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if len(texts) == 1:
            return self._encode(texts, self.query_session)
        if self._batch_session is None:
            self._batch_session = self._session(threads=0)
        parts = [self._encode(texts[start:start + BATCH], self._batch_session)
                 for start in range(0, len(texts), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def _session(self, threads: int) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        if threads == 1:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(str(self.onnx_path), options,
                                            providers=["CPUExecutionProvider"])

    def _encode(self, texts: Sequence[str], session: Any) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return result


def exportable(model_dir: Path) -> int | None:
    """The model's max sequence length if it is Transformer → mean pooling (→ normalise)."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in _json(model_dir / "modules.json")]
        pooling = _json(model_dir / "1_Pooling" / "config.json")
        max_length = int(_json(model_dir / "sentence_bert_config.json")["max_seq_length"])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        value for key, value in pooling.items() if key.startswith("pooling_mode_") and
        key != "pooling_mode_mean_tokens")
    if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]) \
            or not mean_only or not (model_dir / "tokenizer.json").exists():
        return None
    return max_length


def onnx_path(cache_dir: Path, model_dir: Path, name: str) -> Path:
    """Where the export of `model_dir` lives: named by the model's config and weights' size."""
    digest = hashlib.sha1(EXPORT_VERSION.encode(), usedforsecurity=False)
    digest.update((model_dir / "config.json").read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return cache_dir / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}-{digest.hexdigest()[:16]}.onnx"


def build(model_dir: Path, target: Path) -> None:
    """Build the model's graph from its weights (`bert_onnx`) into `target`, atomically, with
    its checksum beside it."""
    from ragqa.index import bert_onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(handle)
    try:
        bert_onnx.build(model_dir, Path(temporary))
        os.replace(temporary, target)
        write_checksum(target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def export(sentence_transformer: Any, target: Path) -> bool:
    """Write the transformer of a loaded sentence-transformers model to `target`; False on failure."""
    try:
        import torch
    except ImportError:
        return False
    transformer = sentence_transformer[0].auto_model

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    axes = {0: "batch", 1: "tokens"}
    sample = torch.ones(2, 16, dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder().eval(), (sample, sample, torch.zeros_like(sample)), temporary,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "last_hidden_state": axes})
        os.replace(temporary, target)
        write_checksum(target)
        return True
    except Exception:  # no onnx package, an unsupported model: torch stays in use
        return False
    finally:
        Path(temporary).unlink(missing_ok=True)


def quantize(source: Path, target: Path) -> None:
    """An int8 copy of an export (onnxruntime's dynamic quantisation of the weights): 4× smaller
    and about 1.5× faster on CPU, in a vector space of its own (docs/quality.md)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the model is about other models
    try:
        quantize_dynamic(str(source), str(staging), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    os.replace(staging, target)
    write_checksum(target)


def checksum_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def write_checksum(target: Path) -> None:
    """Record the export's digest beside it, so a damaged or swapped file is noticed, with the
    file's size and modification time: while those are unchanged, a later load trusts the file
    without reading it again (hashing 90 MB costs ~0.4 s of every CLI question)."""
    checksum_path(target).write_text(f"{_sha256(target)} {_stamp(target)}\n", encoding="utf-8")


def damage(target: Path) -> str | None:
    """Why the export at `target` cannot be trusted (missing, truncated, foreign); None if whole."""
    side = checksum_path(target)
    if target.is_dir() or side.is_dir():
        return "a folder is in its place"
    if not target.exists():
        return "it is missing"
    try:
        digest, _, stamp = side.read_text(encoding="utf-8").strip().partition(" ")
        if stamp and stamp == _stamp(target):
            return None
        if digest != _sha256(target):
            return "its checksum does not match (truncated or replaced)"
    except FileNotFoundError:
        return "its checksum file is missing"
    except (OSError, UnicodeDecodeError) as error:
        return f"it cannot be read ({type(error).__name__})"
    with contextlib.suppress(OSError):  # whole: remember its stamp (a read-only cache just hashes again)
        side.write_text(f"{digest} {_stamp(target)}\n", encoding="utf-8")
    return None


def _stamp(path: Path) -> str:
    status = path.stat()
    return f"{status.st_size}:{status.st_mtime_ns}"


def discard(target: Path) -> None:
    """Remove a damaged export and its checksum, whatever is in their place."""
    for path in (target, checksum_path(target)):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
