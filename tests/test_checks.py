"""`ragqa check` (CI docs checks) against the real server under uvicorn, and in process."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo, run_cli
from tests.live_server import LiveServer
from tests.test_cli import assert_one_line_error

pytestmark = pytest.mark.slow
PASSING = """\
project: sample
checks:
  - name: retries are documented
    question: How do I retry a call with exponential backoff?
    answered: true
    cites: ["src/sample/*.py", "docs/**"]
    mentions: ["retry_with_backoff"]
    max_links_removed: 0
  - question: How do I configure a Kafka producer to wait for all in-sync replicas?
    answered: false
"""
FAILING = """\
- question: How do I retry a call with exponential backoff?
  project: sample
  cites: ["README.*"]
  mentions: ["circuit breaker"]
- question: How do I configure a Kafka producer to wait for all in-sync replicas?
  project: sample
  answered: true
- question: Anything?
  project: ghost
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("checks")
    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", ask_tokens="t0ken",
                        _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url="https://github.com/acme/sample"))
    with LiveServer(create_app(settings)) as url:
        yield url, settings.storage_dir


def test_passing_and_failing_checks_against_the_server(server: tuple[str, Path], cli_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    url, _ = server
    passing, failing = tmp_path / "pass.yaml", tmp_path / "fail.yaml"
    passing.write_text(PASSING)
    failing.write_text(FAILING)

    done = run_cli(cli_env, "check", str(passing), "--server", url, "--token", "t0ken",
                   "--junit", str(tmp_path / "pass.xml"))
    assert done.returncode == 0, done.stderr
    assert "retries are documented" in done.stdout and "FAIL" not in done.stdout
    suite = ET.parse(tmp_path / "pass.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"

    failed = run_cli(cli_env, "check", str(failing), "--server", url, "--token", "t0ken",
                     "--junit", str(tmp_path / "fail.xml"), "--json")
    assert failed.returncode == 1
    assert_one_line_error(failed, "3 of 3 checks failed")
    report = json.loads(failed.stdout)
    reasons = [check["reasons"] for check in report["checks"]]
    assert any("no source matches README.*" in r for r in reasons[0])
    assert any("does not mention 'circuit breaker'" in r for r in reasons[0])
    assert reasons[1] == ["expected an answer, got 'Hmm, I'm not sure.'"]
    assert "no project named 'ghost'" in reasons[2][0]
    root = ET.parse(tmp_path / "fail.xml").getroot()
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 3 and all(case.find("failure") is not None for case in cases)
    assert "question: Anything?" in (cases[2].find("failure").text or "")  # type: ignore[union-attr]

    assert_one_line_error(run_cli(cli_env, "check", str(passing), "--server", url, "--token", "bad"),
                          "2 of 2 checks failed")


def test_checks_in_process_and_bad_files(server: tuple[str, Path], cli_env: dict[str, str],
                                         tmp_path: Path) -> None:
    _, storage = server
    env = {**cli_env, "RAGQA_STORAGE_DIR": str(storage)}
    passing = tmp_path / "pass.yaml"
    passing.write_text(PASSING)
    assert run_cli(env, "check", str(passing)).returncode == 0
    typo = "check 1: unknown key 'answerd' (did you mean 'answered'?)"
    for content, fragment in [("- question: q\n  answerd: true\n", typo),
                              ("{{ not yaml", "not valid YAML"), ("[]", "holds no checks")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(content)
        assert_one_line_error(run_cli(env, "check", str(bad)), fragment)
