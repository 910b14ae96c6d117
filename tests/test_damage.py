"""Damaged state is isolated, named and healed: broken records, missing chunks, truncated or
foreign caches, a damaged model export. Real embedded Chroma, real files, real processes."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from ragqa.answer import Answerer
from ragqa.api import create_app
from ragqa.errors import DamagedProjectError
from ragqa.index import chroma_client
from ragqa.index.chroma import delete_collection
from ragqa.index.documents import DocumentCollection
from ragqa.index.embedders import LocalEmbedder
from ragqa.index.lexical import LexicalDoc, LexicalIndex, manifest_key
from ragqa.index.registry import REGISTRY_COLLECTION, ProjectRecord
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo, run_cli
from tests.live_server import LiveServer

QUESTION = "How do I retry a call with exponential backoff?"


@pytest.fixture
def two_projects(tmp_path: Path) -> tuple[Settings, GitRepo]:
    repo = GitRepo(tmp_path / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    settings = Settings(storage_dir=tmp_path / "storage", llm="none", project_check_s=0,
                        _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), name="healthy"))
    return settings, repo


def overwrite_record(settings: Settings, name: str, document: str) -> None:
    records = DocumentCollection(chroma_client(settings), REGISTRY_COLLECTION, ProjectRecord)
    records.collection.upsert(ids=[name], embeddings=[[1.0]], metadatas=[{"stamp": "x"}],
                              documents=[document])


@pytest.mark.parametrize("document", ["{not json", '{"name": "sample"}', "[]"])
def test_a_damaged_record_takes_down_only_its_project(two_projects: tuple[Settings, GitRepo],
                                                      cli_env: dict[str, str], document: str) -> None:
    settings, repo = two_projects
    overwrite_record(settings, "sample", document)
    with pytest.raises(DamagedProjectError, match=r"project 'sample' is damaged .*ragqa remove sample"):
        Answerer(settings).ask(QUESTION, "sample")
    assert Answerer(settings).ask(QUESTION, "healthy").answered
    assert Answerer(settings).ask(QUESTION, "*").projects.keys() == {"healthy"}

    env = {**cli_env, "RAGQA_STORAGE_DIR": str(settings.storage_dir)}
    listed = json.loads(run_cli(env, "projects", "--json").stdout)
    assert [(p["name"], p["state"]) for p in listed] == [("healthy", "ok"), ("sample", "damaged")]
    assert "ragqa remove sample" in listed[1]["error"]
    asked = run_cli(env, "ask", QUESTION, "--project", "sample")
    assert asked.returncode == 1 and asked.stderr.count("\n") == 1 and "is damaged" in asked.stderr
    with LiveServer(create_app(settings)) as url:
        response = httpx.post(f"{url}/ask", json={"question": QUESTION, "project": "sample"})
        assert response.status_code == 409 and response.json()["error"]["code"] == "project_damaged"
        assert httpx.post(f"{url}/ask", json={"question": QUESTION, "project": "healthy"}).status_code == 200
        assert [p["state"] for p in httpx.get(f"{url}/projects").json()] == ["ok", "damaged"]

    rebuilt = run_cli(env, "ingest", str(repo.root), "--name", "sample", "--replace", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert Answerer(settings).ask(QUESTION, "sample").answered
    overwrite_record(settings, "sample", document)
    assert run_cli(env, "remove", "sample", "--yes").returncode == 0
    assert [p["name"] for p in json.loads(run_cli(env, "projects", "--json").stdout)] == ["healthy"]


def test_missing_chunks_are_an_error_naming_the_project_and_nothing_is_created(
        two_projects: tuple[Settings, GitRepo]) -> None:
    settings, _ = two_projects
    record = Ingester(settings).get("sample")
    client = chroma_client(settings)
    delete_collection(client, record.collection)
    with pytest.raises(DamagedProjectError, match="chunks are missing from the vector store"):
        Answerer(settings).ask(QUESTION, "sample")
    assert record.collection not in [collection.name for collection in client.list_collections()]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign", "delete"])
def test_a_damaged_keyword_index_is_rebuilt_and_the_question_answered(
        two_projects: tuple[Settings, GitRepo], caplog: pytest.LogCaptureFixture, damage: str) -> None:
    settings, _ = two_projects
    files = {path.parent.name: path for path in settings.lexical_dir.rglob("*.npz")}
    target = files[Ingester(settings).get("sample").collection]
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "garbage":
        target.write_bytes(b"not a zip file at all")
    elif damage == "foreign":
        LexicalIndex.build([LexicalDoc("x", "another project's text")]).save(target)
    else:
        target.unlink()
    caplog.set_level(logging.WARNING)
    answer = Answerer(settings).ask(QUESTION, "sample")
    assert answer.answered and answer.sources
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if damage == "delete":
        assert warnings == []
    else:
        assert len(warnings) == 1 and "lexical index" in warnings[0] and "rebuilding" in warnings[0]
    record = Ingester(settings).get("sample")
    assert len(LexicalIndex.load(target, manifest_key(record.live_ids()))) == record.chunk_count


def test_a_damaged_model_export_is_rebuilt(tmp_path: Path, onnx_dir: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    first = LocalEmbedder(None, 8, onnx_dir)
    reference = first.embed_query("retry with backoff")
    export = next(onnx_dir.glob("*.onnx"))
    copy_dir = tmp_path / "models"
    copy_dir.mkdir()
    damaged = copy_dir / export.name
    damaged.write_bytes(export.read_bytes()[:1000])
    shutil.copy(export.with_name(export.name + ".sha256"), copy_dir)
    caplog.set_level(logging.WARNING)
    healed = LocalEmbedder(None, 8, copy_dir)
    vector = healed.embed_query("retry with backoff")
    assert float(np.dot(vector, reference)) > 0.9999
    assert any("ONNX export" in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    assert damaged.stat().st_size == export.stat().st_size, "the export was written again"


def test_only_outages_are_reported_as_the_store_being_unavailable() -> None:
    import sqlite3

    from ragqa.index.chroma import StoreUnavailableError, is_outage, store_errors

    request = httpx.Request("GET", "http://127.0.0.1:9/api")
    assert is_outage(httpx.ConnectError("refused", request=request))
    assert is_outage(httpx.ReadTimeout("slow", request=request))
    assert is_outage(ConnectionResetError()) and is_outage(sqlite3.OperationalError("database is locked"))
    assert is_outage(httpx.HTTPStatusError("boom", request=request, response=httpx.Response(502)))
    assert not is_outage(httpx.HTTPStatusError("no", request=request, response=httpx.Response(400)))
    assert not is_outage(UnicodeEncodeError("utf-8", "\udfff", 0, 1, "surrogates not allowed"))
    assert not is_outage(TypeError("str is not valid UTF-8"))
    outage = pytest.raises(StoreUnavailableError, match="vector store is unavailable: ConnectError")
    with outage, store_errors():
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    with pytest.raises(TypeError), store_errors():
        raise TypeError("a bug, not an outage")
