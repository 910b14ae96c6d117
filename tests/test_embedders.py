"""The local model's two engines: torch, and the ONNX export it writes for fast start-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ragqa.index.embedders import LocalEmbedder

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
