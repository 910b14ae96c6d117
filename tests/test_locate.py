"""Paste an issue or a traceback, get the code to change: `Answerer.locate`, `ragqa locate`,
`POST /locate`, and `/ask` on a pasted report. Real git, real embedded Chroma, the real local
model, the real app under uvicorn."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragqa.answer import Answerer
from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo
from tests.live_server import LiveServer

WEB = "https://github.com/acme/config"
CONFIG_PY = '''"""Reading acme's configuration files."""

from acme.errors import ConfigError


class Config:
    """Settings read from a TOML-like file."""

    def __init__(self, values):
        self.values = values

    @classmethod
    def from_file(cls, path):
        """Read `path`; a missing file is a ConfigError."""
        try:
            with open(path) as handle:
                text = handle.read()
        except FileNotFoundError:
            raise ConfigError(f"Config file not found: {path}") from None
        return cls(dict(_parse_line(line) for line in text.splitlines() if line.strip()))


def _parse_line(line):
    """One `key = value` line."""
    key, sep, value = line.partition("=")
    if not sep:
        raise ValueError(f"Unrecognized config line: {line}")
    return key.strip(), value.strip()
'''
LOADER_PY = '''"""Where the application finds its configuration."""

import os

from acme.config import Config


def load(environ=os.environ):
    """The configuration named by ACME_CONFIG, else ./acme.toml."""
    return Config.from_file(environ.get("ACME_CONFIG", "acme.toml"))
'''
ERRORS_PY = '''"""acme's exceptions."""


class ConfigError(Exception):
    """The configuration cannot be read."""
'''
CLI_PY = '''"""The acme command line."""

import argparse

from acme.loader import load


def main(argv=None):
    parser = argparse.ArgumentParser(prog="acme")
    parser.add_argument("--verbose", action="store_true", help="Say more.")
    args = parser.parse_args(argv)
    config = load()
    if args.verbose:
        print(config.values)
'''
APP_JS = '''export function parsePort(config) {
  return Number(config.server.port);
}
'''
CONFIG_MD = """# Configuration

acme reads its settings from `acme.toml`, or from the file named by `ACME_CONFIG`.
Each line is `key = value`. An unrecognized config line stops the program with an error,
and so does a config file that is not found. Lines that are blank are skipped.
"""
TEST_CONFIG_PY = '''import pytest

from acme.config import _parse_line


def test_unrecognized_config_line():
    with pytest.raises(ValueError, match="Unrecognized config line"):
        _parse_line("no equals sign")
'''
TRACEBACK_ISSUE = """\
acme crashes on a config file with a comment line

After upgrading to 2.1, `acme --verbose` crashes as soon as the config file has a comment:

```
$ acme --verbose
Traceback (most recent call last):
  File "/home/me/.venv/bin/acme", line 8, in <module>
    sys.exit(main())
  File "/home/me/.venv/lib/python3.11/site-packages/acme/cli.py", line 11, in main
    config = load()
  File "/home/me/.venv/lib/python3.11/site-packages/acme/loader.py", line 10, in load
    return Config.from_file(environ.get("ACME_CONFIG", "acme.toml"))
  File "/home/me/.venv/lib/python3.11/site-packages/acme/config.py", line 20, in from_file
    return cls(dict(_parse_line(line) for line in text.splitlines() if line.strip()))
  File "/home/me/.venv/lib/python3.11/site-packages/acme/config.py", line 27, in _parse_line
    raise ValueError(f"Unrecognized config line: {line}")
ValueError: Unrecognized config line: # the server's port
```

The docs on configuration do not say comments are not allowed. Expected: comment lines are
skipped like blank lines.
"""
MESSAGE_ISSUE = """\
Error message when the file is missing

We deploy with ACME_CONFIG pointing at a mounted volume. When the volume is late the program
stops with `Config file not found: /etc/acme/acme.toml` and exits. It would be nicer to retry a
few times before giving up, since the volume usually appears a second later. Is there a setting
for that? We looked through the documentation and the command line options but found nothing
about retries or waiting for the file to appear.
"""


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("locate")
    repo = GitRepo(root / "config")
    files = {"src/acme/config.py": CONFIG_PY, "src/acme/loader.py": LOADER_PY,
             "src/acme/errors.py": ERRORS_PY, "src/acme/cli.py": CLI_PY,
             "src/acme/__init__.py": '"""acme."""\n',
             "web/static/app.js": APP_JS, "docs/configuration.md": CONFIG_MD,
             "tests/test_config.py": TEST_CONFIG_PY}
    for path, content in files.items():
        repo.write(path, content)
    repo.commit("initial")
    Ingester(_settings(root / "storage")).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    return root / "storage"


def _settings(storage: Path, **changes: object) -> Settings:
    return Settings(storage_dir=storage, llm="none", _env_file=None, **changes)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def answerer(storage: Path) -> Answerer:
    return Answerer(_settings(storage), llm=None)


def test_a_traceback_leads_to_its_deepest_project_frame(answerer: Answerer) -> None:
    location = answerer.locate(TRACEBACK_ISSUE)
    first = location.files[0]
    assert first.path == "src/acme/config.py"
    top = first.symbols[0]
    assert top.name == "_parse_line" and top.kind == "function"
    assert "the traceback's deepest frame in the project (`_parse_line`, line 27)" in top.reasons
    assert any(reason.startswith("raises 'Unrecognized config line'") for reason in top.reasons)
    assert top.url.startswith(f"{WEB}/blob/{location.commit}/src/acme/config.py#L")
    lines = CONFIG_PY.splitlines()
    assert (top.start_line, top.end_line) == (lines.index("def _parse_line(line):") + 1, len(lines))
    paths = [found.path for found in location.files]
    assert paths.index("src/acme/loader.py") < paths.index("docs/configuration.md")
    assert paths.index("src/acme/config.py") < paths.index("tests/test_config.py")
    assert location.read.tracebacks == 1 and location.read.frames == 5
    assert location.read.frames_in_project == 4  # the console script is not in the repo
    assert location.read.errors == ["ValueError: Unrecognized config line: # the server's port"]


def test_a_quoted_message_leads_to_the_code_that_raises_it(answerer: Answerer) -> None:
    location = answerer.locate(MESSAGE_ISSUE)
    first = location.files[0]
    assert first.path == "src/acme/config.py"
    assert first.symbols[0].name == "Config.from_file"
    assert "raises 'Config file not found', quoted in the issue" in first.symbols[0].reasons


def test_frames_from_other_machines_and_layouts_map_onto_the_repo(answerer: Answerer) -> None:
    index = answerer.project(None)
    assert index.resolve_path("/usr/lib/python3/site-packages/acme/config.py") == "src/acme/config.py"
    assert index.resolve_path("C:\\Users\\me\\acme\\src\\acme\\loader.py") == "src/acme/loader.py"
    assert index.resolve_path("/srv/app/node_modules/acme/web/static/app.js") == "web/static/app.js"
    assert index.resolve_path("errors.py") == "src/acme/errors.py"  # a bare name, unique
    assert index.resolve_path("/usr/lib/python3.11/argparse.py") is None
    assert index.resolve_path("other/config.py") is None  # one shared part is not enough
    assert index.module_path("acme.config") == "src/acme/config.py"
    assert index.module_path("acme") == "src/acme/__init__.py"
    assert index.module_path("yaml.loader") is None


def test_a_plain_question_is_located_too(answerer: Answerer) -> None:
    location = answerer.locate("Where is a config line parsed?")
    assert location.files[0].path == "src/acme/config.py"
    assert location.read.tracebacks == 0


def test_ask_on_a_pasted_issue_starts_at_the_right_file(answerer: Answerer) -> None:
    answer = answerer.ask(TRACEBACK_ISSUE)
    assert answer.answered
    assert answer.sources[0].path == "src/acme/config.py"
    assert answer.sources[0].start_line <= 27 <= answer.sources[0].end_line
    lead, _, rest = answer.answer.partition("\n\n")
    assert lead == ("Start at `_parse_line` in `src/acme/config.py`: it is the traceback's deepest frame "
                    "in the project (`_parse_line`, line 27); raises 'Unrecognized config line', quoted "
                    "in the issue.")
    first_quote = rest.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'raise ValueError(f"Unrecognized config line: {line}")' in first_quote


def test_long_input_is_normal_input(answerer: Answerer) -> None:
    log = "\n".join(f"2024-05-01 12:00:{i % 60:02d} INFO request {i} served" for i in range(900))
    pasted = f"{TRACEBACK_ISSUE}\n\nThe server log before the crash:\n\n{log}\n"
    assert 40_000 < len(pasted) < 64_000
    assert answerer.locate(pasted).files[0].path == "src/acme/config.py"
    assert answerer.ask(pasted).sources


def test_cli_locate_and_ask_read_stdin(storage: Path, onnx_dir: Path) -> None:
    env = {"RAGQA_STORAGE_DIR": str(storage), "RAGQA_ONNX_DIR": str(onnx_dir), "PATH": "/usr/bin:/bin",
           "HF_HUB_OFFLINE": "1", "RAGQA_LLM": "none"}
    done = _cli(env, TRACEBACK_ISSUE, "locate", "-")
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("1. src/acme/config.py — ") and "deepest frame in the project" in first
    assert f"{WEB}/blob/" in done.stdout and "_parse_line (function, lines 23–28)" in done.stdout
    assert "1 traceback (4 of 5 frames in the project)" in done.stderr
    as_json = json.loads(_cli(env, TRACEBACK_ISSUE, "locate", "-", "--json", "--top-k", "2").stdout)
    assert as_json["files"][0]["path"] == "src/acme/config.py"
    assert len(as_json["files"]) == 2
    asked = _cli(env, TRACEBACK_ISSUE, "ask", "-")
    assert asked.returncode == 0 and "src/acme/config.py" in asked.stdout
    too_long = _cli({**env, "RAGQA_MAX_QUESTION_CHARS": "100"}, TRACEBACK_ISSUE, "locate", "-")
    assert too_long.returncode == 1
    assert too_long.stderr.strip().startswith("error: the question is ") and "100 at most" in too_long.stderr
    assert "Traceback" not in too_long.stderr.replace(TRACEBACK_ISSUE, "")


def _cli(env: dict[str, str], stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragqa", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def server(storage: Path) -> Iterator[str]:
    with LiveServer(create_app(_settings(storage, max_question_chars=20_000))) as url:
        yield url


def test_post_locate_and_long_questions_over_http(server: str) -> None:
    found = httpx.post(f"{server}/locate", json={"text": TRACEBACK_ISSUE, "top_k": 3}, timeout=60)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["files"][0]["path"] == "src/acme/config.py"
    assert len(body["files"]) == 3 and body["read"]["frames_in_project"] == 4
    assert body["files"][0]["symbols"][0]["reasons"]
    long_issue = TRACEBACK_ISSUE + "\n" + "More context from the reporter. " * 400  # ~17k characters
    asked = httpx.post(f"{server}/ask", json={"question": long_issue}, timeout=60)
    assert asked.status_code == 200 and asked.json()["sources"][0]["path"] == "src/acme/config.py"
    too_long = httpx.post(f"{server}/locate", json={"text": "x" * 20_001}, timeout=60)
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"].endswith("20000 at most")
    over_body = httpx.post(f"{server}/locate", content=b'{"text": "' + b"x" * (6 * 20_000 + 65_536) + b'"}',
                           headers={"content-type": "application/json"}, timeout=60)
    assert over_body.status_code == 413
    empty = httpx.post(f"{server}/locate", json={"text": ""}, timeout=60)
    assert empty.status_code == 422 or empty.status_code == 400


def test_another_commit_under_another_name_reuses_vectors(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "config")
    repo.write("src/acme/config.py", CONFIG_PY).write("src/acme/loader.py", LOADER_PY)
    first = repo.commit("one")
    repo.write("src/acme/loader.py", LOADER_PY.replace("acme.toml", "acme.ini"))
    second = repo.commit("two")
    ingester = Ingester(_settings(tmp_path / "storage"))
    old = ingester.ingest(IngestRequest(source=str(repo.root), name="config-1", ref=first))
    new = ingester.ingest(IngestRequest(source=str(repo.root), name="config-2", ref=second))
    loader_chunks = len(ingester.get("config-2").files["src/acme/loader.py"].chunks)
    assert old.reused == 0 and old.embedded == old.chunks
    assert new.embedded == loader_chunks and new.reused == new.chunks - loader_chunks
    other = ingester.ingest(IngestRequest(source=str(tmp_path / "config"), name="config-3", ref=first,
                                          include=["src/acme/config.py"]))
    assert other.embedded == 0 and other.reused == other.chunks  # a narrower selection, still reused
    answerer = Answerer(_settings(tmp_path / "storage"), llm=None)
    for name in ("config-1", "config-2"):
        assert answerer.locate(MESSAGE_ISSUE, name).files[0].path == "src/acme/config.py"
