"""Shared parts of the hostile suite: one small project ingested once (real git, real Chroma, the
real local model), CPU-time budgets measured on processes (never wall time), and the checks every
door shares — one line, no traceback, nothing linked outside lines that exist."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo

WEB = "https://github.com/acme/sample"
MEGABYTE = 1_000_000
README = "# Sample\n\nHelpers for HTTP calls.\n"


@dataclass(frozen=True)
class Indexed:
    """A project ingested into `storage`: its repository and commit."""

    storage: Path
    repo: GitRepo
    commit: str

    def settings(self, **changes: object) -> Settings:
        values: dict[str, object] = dict(storage_dir=self.storage, llm="none", rate_limit_per_minute=0)
        values.update(changes)
        return Settings(**values, _env_file=None)  # type: ignore[arg-type]

    def lines(self, path: str) -> list[str]:
        return self.repo.show(self.commit, path).split("\n")


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    """The sample project (code, a guide, a README), ingested once for the suite's read-only doors."""
    root = tmp_path_factory.mktemp("hostile-shared")
    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).write("README.md", README)
    commit = repo.commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    return Indexed(root / "storage", repo, commit)


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever a case sends, nothing in this process is logged with a traceback."""
    caplog.set_level(logging.INFO)
    yield
    traced = [record for record in caplog.records if record.exc_info or "Traceback" in record.getMessage()]
    assert not traced, [record.getMessage()[:300] for record in traced]


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, all threads, or of the process `pid`."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def cpu_budget(seconds: float, pid: int | None = None) -> Iterator[None]:
    """Fails when the block costs more than `seconds` of CPU (this process, or the process `pid`)."""
    before = cpu_seconds(pid)
    yield
    spent = cpu_seconds(pid) - before
    assert spent < seconds, f"{spent:.2f} CPU-seconds (budget {seconds})"


def one_line(message: str) -> str:
    """`message`, checked to be one line of reasonable length with no traceback in it."""
    assert message.strip(), "an empty message"
    assert "\n" not in message.strip(), message[:500]
    assert "Traceback" not in message and len(message) < 2_000, message[:500]
    return message


def assert_links_exist(data: object, indexed: Indexed) -> None:
    """Every permalink anywhere in `data` opens lines that exist at the indexed commit."""
    for url in re.findall(r"https://github\.com/acme/sample/blob/[^\s\"')\]|>]+", str(data)):
        match = re.fullmatch(rf"{WEB}/blob/(\w+)/(.+)#L(\d+)-L(\d+)", url)
        assert match, url
        commit, path, start, end = match.group(1), match.group(2), int(match.group(3)), int(match.group(4))
        assert commit == indexed.commit, url
        assert 1 <= start <= end <= len(indexed.lines(path)), url
