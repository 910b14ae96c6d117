"""Serving at scale: projects loaded at start before /readyz turns ready. Real git, real embedded
Chroma, the real local model, the real app under uvicorn."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo
from tests.live_server import LiveServer


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scale")
    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    for name in ("older", "newer"):
        Ingester(_settings(root / "storage")).ingest(IngestRequest(source=str(repo.root), name=name))
    return root / "storage"


def _settings(storage: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"storage_dir": storage, "llm": "none", **changes}
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


def _ready(url: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/readyz")
        if response.status_code == 200:
            return dict(response.json())
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        time.sleep(0.05)
    raise AssertionError("never ready")


@pytest.mark.parametrize(("choice", "loaded"), [
    ("all", {"older", "newer"}), ("1", {"newer"}), ("none", set())])
def test_projects_are_loaded_before_ready(storage: Path, choice: str, loaded: set[str]) -> None:
    app = create_app(_settings(storage, preload_projects=choice))
    with LiveServer(app) as url:
        checks = _ready(url)["checks"]
        assert checks == {"store": "ok", "embedder": "ok"}
        assert app.state.services.preloading is None  # ready only once nothing is loading
        assert set(app.state.services.answerer._projects) == loaded
        if len(loaded) > 1:  # ready to route a question to every project (`*`) without a stall
            assert all(cached.index.memory.search._projected is not None
                       for cached in app.state.services.answerer._projects.values())


def test_a_bad_preload_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="preload_projects"):
        Settings(preload_projects="some", _env_file=None)  # type: ignore[call-arg]


def test_a_record_stamped_by_an_older_ragqa_is_opened_once(storage: Path) -> None:
    """A record whose stored stamp has another form (written before tuning was part of it) is a
    record that has not changed: the project is not read again at every check."""
    from ragqa.answer import Answerer
    from ragqa.index.chroma import chroma_client
    from ragqa.index.registry import REGISTRY_COLLECTION

    settings = _settings(storage, project_check_s=0)
    records = chroma_client(settings).get_collection(REGISTRY_COLLECTION)
    stored = records.get(ids=["older"], include=["metadatas"])["metadatas"][0]
    records.update(ids=["older"], metadatas=[{**stored, "stamp": "older-form"}])
    try:
        answerer = Answerer(settings, llm=None)
        assert answerer.project("older") is answerer.project("older")
    finally:
        records.update(ids=["older"], metadatas=[stored])
