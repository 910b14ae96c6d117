"""Embedders: the local model on onnxruntime (its graph built from the weights), and WordLlama."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragqa.answer import Answerer
from ragqa.errors import ConfigError
from ragqa.index import get_embedder
from ragqa.index.embedders import LocalEmbedder
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo
from tests.fake_llm import FakeLLM

REFERENCE = Path(__file__).parent / "fixtures" / "minilm_reference.json"
INT8_REFERENCE = Path(__file__).parent / "fixtures" / "minilm_int8_reference.json"


def test_the_graph_built_from_the_weights_gives_sentence_transformers_vectors(tmp_path: Path) -> None:
    """53 texts — code, prose, empty, unicode, past 256 word pieces — against vectors computed by
    sentence-transformers on torch (the fixture)."""
    reference = json.loads(REFERENCE.read_text())
    embedder = LocalEmbedder(None, 32, tmp_path)
    got = np.array(embedder.embed_documents(reference["texts"]))
    expected = np.array(reference["vectors"])
    assert embedder.engine == "onnx" and got.shape == expected.shape == (53, 384)
    cosines = (got * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.9999, cosines.min()
    exports = list(tmp_path.glob("all-MiniLM-L6-v2-*.onnx"))
    assert len(exports) == 1 and not list(tmp_path.glob("*.tmp"))
    assert (tmp_path / (exports[0].name + ".sha256")).exists()
    again = LocalEmbedder(None, 32, tmp_path)
    single = np.array(again.embed_query(reference["texts"][0]))
    assert again.engine == "onnx" and np.allclose(single, got[0], atol=1e-5), "padding changes nothing"


def test_the_default_engine_never_imports_torch(tmp_path: Path) -> None:
    """With torch and sentence-transformers made unimportable, the model still builds and embeds."""
    program = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['sentence_transformers'] = None\n"
        "from pathlib import Path\n"
        "from ragqa.index.embedders import LocalEmbedder\n"
        f"embedder = LocalEmbedder(None, 8, Path({str(tmp_path)!r}))\n"
        "print(len(embedder.embed_query('no torch here')), embedder.engine)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["384", "onnx"]


def test_a_damaged_export_is_built_again(tmp_path: Path) -> None:
    LocalEmbedder(None, 32, tmp_path).embed_query("warm up")
    export = next(tmp_path.glob("*.onnx"))
    export.write_bytes(b"not a model")
    embedder = LocalEmbedder(None, 32, tmp_path)
    assert len(embedder.embed_query("still works")) == 384 and embedder.engine == "onnx"
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
    # settings that select another model still ask the project in its own vector space
    other = Answerer(settings.model_copy(update={"embedder": "local"}))
    assert other.project("sample").embedder is not None
    assert other.project("sample").embedder.name == "wordllama:l2_supercat-256"
    assert other.ask("How do I retry a call with exponential backoff?").answered


def test_the_int8_copy_of_the_bundled_model(tmp_path: Path) -> None:
    from ragqa.index import get_embedder
    from ragqa.index.embedders import embedder_name
    from ragqa.settings import Settings

    settings = Settings(storage_dir=tmp_path, embedder="local-int8", _env_file=None)  # type: ignore[call-arg]
    assert embedder_name(settings) == "local-int8:all-MiniLM-L6-v2"
    embedder = get_embedder(settings)
    vectors = np.array(embedder.embed_documents(["How do I set a timeout?", "def connect_timeout(seconds):"]))
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    exported = sorted(path.name for path in (tmp_path / "models").iterdir())
    assert any(name.endswith("-int8.onnx") for name in exported)
    assert any(name.endswith("-int8.onnx.sha256") for name in exported)
    fp32 = np.array(get_embedder(Settings(storage_dir=tmp_path, _env_file=None)).embed_documents(  # type: ignore[call-arg]
        ["How do I set a timeout?"]))
    assert 0.85 < float(vectors[0] @ fp32[0]) < 0.9999  # close, but a vector space of its own


def test_openai_compatible_embeddings_server_with_batches_in_flight(tmp_path: Path,
                                                                    repo: GitRepo) -> None:
    """The `openai` backend against an OpenAI-compatible server on loopback (the fake speaks the
    real wire protocol): batches go out concurrently, vectors come back in order."""
    with FakeLLM(embed_delay=0.05) as server:
        settings = Settings(storage_dir=tmp_path / "st", embedder="openai", llm="none",
                            embed_batch_size=1, embed_concurrency=4,
                            openai_base_url=server.base_url, _env_file=None)  # type: ignore[call-arg]
        summary = Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
        assert summary.embedded == summary.chunks > 4
        assert server.embed_requests >= summary.chunks and server.most_in_flight > 1
        answer = Answerer(settings).ask("How do I retry a call with exponential backoff?")
        assert answer.answered and answer.sources[0].path in {"src/sample/http.py", "docs/guide.md"}

        embedder = get_embedder(settings)
        texts = [f"text number {index}" for index in range(9)]
        assert embedder.embed_documents(texts) == [embedder.embed_query(text) for text in texts]
        one_at_a_time = get_embedder(settings.model_copy(update={"embed_concurrency": 1}))
        assert one_at_a_time is not embedder
        server.most_in_flight = 0
        sequential = one_at_a_time.embed_documents(texts)
        assert server.most_in_flight == 1 and sequential == embedder.embed_documents(texts)


def test_the_int8_copy_gives_its_pinned_vectors(tmp_path: Path) -> None:
    """The int8 model (the quantised copy ragqa builds from the bundled weights) against vectors
    it gave when it became the default: a change of onnxruntime's quantiser shows here."""
    reference = json.loads(INT8_REFERENCE.read_text())
    embedder = LocalEmbedder(None, 32, tmp_path, int8=True)
    got = np.array(embedder.embed_documents(reference["texts"]))
    expected = np.array(reference["vectors"])
    assert got.shape == expected.shape == (len(reference["texts"]), 384)
    cosines = (got * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.999, cosines.min()


def test_a_project_keeps_its_vector_space_until_reembedded(tmp_path: Path, repo: GitRepo) -> None:
    """Indexed with fp32, a project answers and re-ingests in fp32 under settings that select
    int8 (nothing embedded again); `--reembed` moves it over and drops the old collection."""
    fp32 = Settings(storage_dir=tmp_path / "st", embedder="local", llm="none",
                    _env_file=None)  # type: ignore[call-arg]
    first = Ingester(fp32).ingest(IngestRequest(source=str(repo.root)))
    int8 = fp32.model_copy(update={"embedder": "local-int8"})
    project = Answerer(int8).project("sample")
    assert project.embedder is not None and project.embedder.name == "local:all-MiniLM-L6-v2"
    assert Answerer(int8).ask("How do I retry a call with exponential backoff?").answered
    again = Ingester(int8).ingest(IngestRequest(source="sample"))
    assert again.embedded == 0 and Ingester(int8).get("sample").embedder == "local:all-MiniLM-L6-v2"
    old_collection = Ingester(int8).get("sample").collection
    moved = Ingester(int8).ingest(IngestRequest(source="sample", reembed=True))
    record = Ingester(int8).get("sample")
    assert moved.embedded == first.chunks and record.embedder == "local-int8:all-MiniLM-L6-v2"
    assert record.collection != old_collection
    assert old_collection not in {c.name for c in Ingester(int8).client.list_collections()}
    answer = Answerer(fp32).ask("How do I retry a call with exponential backoff?")
    assert answer.answered and Answerer(fp32).project("sample").embedder is not None


def test_a_local_model_the_settings_cannot_find_is_named(tmp_path: Path) -> None:
    from ragqa.index import embedder_for

    settings = Settings(storage_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"indexed with the local model 'my-model'.*--reembed"):
        embedder_for("local:my-model", settings)
    with pytest.raises(ConfigError, match="unknown embedder 'nope'"):
        embedder_for("nope:x", settings)


def test_an_export_is_trusted_by_its_stamp_and_hashed_when_it_changes(tmp_path: Path) -> None:
    """A checksum file of the older form (digest only) is accepted and given the file's stamp;
    a same-size change with a new modification time is caught by hashing again."""
    from ragqa.index import onnx_model

    LocalEmbedder(None, 32, tmp_path).embed_query("warm up")
    export = next(tmp_path.glob("*.onnx"))
    side = onnx_model.checksum_path(export)
    digest, stamp = side.read_text().split()
    assert stamp == f"{export.stat().st_size}:{export.stat().st_mtime_ns}"
    side.write_text(digest + "\n")
    assert onnx_model.damage(export) is None and side.read_text().split() == [digest, stamp]
    data = bytearray(export.read_bytes())
    data[-1] ^= 0xFF
    export.write_bytes(bytes(data))
    assert onnx_model.damage(export) == "its checksum does not match (truncated or replaced)"
