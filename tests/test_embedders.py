"""Embedders: the local model's two engines (torch, and its ONNX export), and WordLlama."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragqa.answer import Answerer
from ragqa.errors import RagqaError
from ragqa.index.embedders import LocalEmbedder
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo

TEXTS = [
    "How do I set a connect-only timeout?",
    "def connect_timeout(seconds):\n    return (seconds, None)\n" * 60,  # past 256 word pieces
    "x",
]


def test_the_onnx_export_gives_the_torch_models_vectors(tmp_path: Path) -> None:
    torch_engine = LocalEmbedder(None, 32, tmp_path)
    expected = np.array(torch_engine.embed_documents(TEXTS))
    assert torch_engine.engine == "torch"
    exports = list(tmp_path.glob("all-MiniLM-L6-v2-*.onnx"))
    assert len(exports) == 1 and not list(tmp_path.glob("*.tmp"))

    onnx_engine = LocalEmbedder(None, 32, tmp_path)
    got = np.array(onnx_engine.embed_documents(TEXTS))
    assert onnx_engine.engine == "onnx"
    assert got.shape == expected.shape == (3, 384)
    assert np.allclose((got * expected).sum(axis=1), 1.0, atol=1e-5)
    single = np.array(onnx_engine.embed_query(TEXTS[0]))
    assert np.allclose(single, got[0], atol=1e-5), "padding in a batch changes nothing"


def test_a_damaged_export_falls_back_to_torch_and_is_rewritten(tmp_path: Path) -> None:
    LocalEmbedder(None, 32, tmp_path).embed_query("warm up")
    export = next(tmp_path.glob("*.onnx"))
    export.write_bytes(b"not a model")
    embedder = LocalEmbedder(None, 32, tmp_path)
    assert len(embedder.embed_query("still works")) == 384 and embedder.engine == "torch"
    assert export.stat().st_size > 1_000_000


def test_wordllama_backend_end_to_end(tmp_path: Path, repo: GitRepo) -> None:
    settings = Settings(storage_dir=tmp_path / "st", embedder="wordllama", llm="none",
                        _env_file=None)  # type: ignore[call-arg]
    summary = Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    assert summary.embedded == summary.chunks > 0
    record = Ingester(settings).get("sample")
    assert record.embedder == "wordllama:l2_supercat-256"
    answer = Answerer(settings).ask("How do I retry a call with exponential backoff?")
    assert answer.answered and answer.sources[0].path in {"src/sample/http.py", "docs/guide.md"}
    with pytest.raises(RagqaError, match="indexed with the embedder wordllama"):
        Answerer(settings.model_copy(update={"embedder": "local"})).ask("retry?")
