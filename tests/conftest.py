"""Shared fixtures: real git repositories in temp dirs and settings with a temp storage dir."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragqa.settings import Settings
from tests.fake_llm import FakeLLM

os.environ.setdefault("HF_HUB_OFFLINE", "1")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.environ.get("HOME", "/tmp"),
}


class GitRepo:
    """A real git repository built file by file, commit by commit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        done = subprocess.run(["git", *args], cwd=self.root, env=env, check=True,
                              capture_output=True, text=True)
        return done.stdout.strip()

    def write(self, path: str, content: str | bytes) -> GitRepo:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        return self

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def show(self, commit: str, path: str) -> str:
        return self.git("show", f"{commit}:{path}")

    @property
    def url(self) -> str:
        return self.root.as_uri()


SAMPLE_PY = '''"""Tiny HTTP helpers used by the tests."""

import time

DEFAULT_TIMEOUT = 30


def connect_timeout(seconds):
    """Return a timeout that bounds only the connect phase."""
    if seconds <= 0:
        raise ValueError("timeout must be positive")
    return (seconds, None)


def retry_with_backoff(call, attempts=3, backoff=0.5):
    """Call `call` until it succeeds, sleeping longer after each failure."""
    for attempt in range(attempts):
        try:
            return call()
        except ConnectionError:
            time.sleep(backoff * 2 ** attempt)
    raise ConnectionError("gave up")


class Session:
    """Keeps settings across requests."""

    def __init__(self):
        self.headers = {}
        self.timeout = DEFAULT_TIMEOUT

    def request(self, method, url):
        """Send one request."""
        return (method, url, self.timeout)
'''

SAMPLE_MD = """# Sample project

Intro text for the sample project.

## Timeouts

Use `connect_timeout(5)` to bound only the connect phase.
A read timeout is separate.

## Retries

Wrap calls in `retry_with_backoff` to retry with exponential backoff.

### Details

The backoff doubles after every failed attempt.
"""


def sample_repo(root: Path) -> GitRepo:
    """The sample repository (code, docs, one commit) built at `root`."""
    built = GitRepo(root)
    built.write("src/sample/http.py", SAMPLE_PY)
    built.write("docs/guide.md", SAMPLE_MD)
    built.write("README.rst", "Sample\n======\n\nA sample project.\n\nUsage\n-----\n\nImport it.\n")
    built.write("pyproject.toml", '[project]\nname = "sample"\nversion = "1.0"\n')
    built.commit("initial")
    return built


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A small repository with code, docs and one commit."""
    return sample_repo(tmp_path / "sample")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    """A scripted OpenAI-compatible server on loopback, one per test module."""
    with FakeLLM() as server:
        yield server


def ingest_sample(root: Path, web_url: str | None = None, files: dict[str, str] | None = None) -> Path:
    """The sample repository (its code and guide, plus `files`) committed under `root` and
    ingested offline into `root/storage`, which is returned."""
    from ragqa.ingest import Ingester, IngestRequest

    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD)
    for path, content in (files or {}).items():
        repo.write(path, content)
    repo.commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=web_url))
    return root / "storage"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(storage_dir=tmp_path / "storage", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export of the local model shared by the child processes of a test run."""
    return tmp_path_factory.mktemp("onnx")


def cli_environment(storage: Path, onnx_dir: Path) -> dict[str, str]:
    """Environment for running `python -m ragqa` against `storage`: no RAGQA_ setting of the caller."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAGQA_")}
    env.update(RAGQA_STORAGE_DIR=str(storage), RAGQA_ONNX_DIR=str(onnx_dir), HF_HUB_OFFLINE="1")
    return env


@pytest.fixture
def cli_env(tmp_path: Path, onnx_dir: Path) -> Iterator[dict[str, str]]:
    """Environment for running `python -m ragqa` against a temp storage dir."""
    yield cli_environment(tmp_path / "storage", onnx_dir)


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real `ragqa` command in a child process."""
    return subprocess.run([sys.executable, "-m", "ragqa", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


# The modules that cost the most (measured with `--durations`: real processes, servers, kills),
# first. With `--dist loadscope` a module runs whole on one worker, in this order: a long module
# started last would run alone while the other worker idles. Order within a module is kept.
LONGEST_FIRST = (
    "tests/test_first_hour.py", "tests/test_hostile.py", "tests/test_crash_and_server.py",
    "tests/test_cli_server.py", "tests/test_questions.py", "tests/test_damage.py", "tests/test_docs.py",
    "tests/hostile/test_locate.py", "tests/hostile/test_drift.py", "tests/test_cli.py", "tests/test_drift.py",
    "tests/hostile/test_mcp_stdio.py", "tests/hostile/test_tune.py", "tests/test_lint.py",
    "tests/test_api.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the longest modules first (a stable sort: every other module keeps its place)."""
    rank = {path: place for place, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(item.path).relative_to(config.rootpath).as_posix(),
                                         len(LONGEST_FIRST)))


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """A socket a test leaves open must fail that test, not whichever test runs when the
    collector happens to find it (warnings are errors)."""
    yield
    import gc

    gc.collect()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than there are cores (at most `--maxprocesses`). A third of the
    suite's time is spent waiting on real processes and servers, so a spare worker keeps the
    cores busy: on 2 cores, 3 workers ran the suite in 7 min 15 s against 9 min 19 s for 2."""
    return (os.cpu_count() or 1) + 1
