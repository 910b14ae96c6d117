"""`ragqa ask` and `ragqa locate` through a running `ragqa serve` of the same storage folder: the
real server in a child process advertises itself in `<storage>/server.json`; the real CLI in
child processes finds it, answers through it with the in-process output, and falls back to
answering in its own process when the server is gone, refuses or is switched off."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_environment, run_cli, sample_repo

pytestmark = pytest.mark.slow

QUESTION = "How do I set a timeout on requests?"
TRACE = 'Traceback (most recent call last):\n  File "src/sample/http.py", line 3, in get\nTimeoutError'
HEAVY = ("chromadb", "onnxruntime", "numpy", "fastapi", "uvicorn", "httpx", "typer", "rich",
         "pydantic_settings")
FULL_CLI = "import sys\nfrom ragqa.cli import main\nsys.argv = ['ragqa', *sys.argv[1:]]\nmain()\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, onnx_dir: Path) -> Path:
    """The sample repository ingested once by the real CLI; each test gets a copy of its storage
    (a test writes server.json, kills servers and cleans up after them)."""
    root = tmp_path_factory.mktemp("cli-server")
    repo = sample_repo(root / "sample")
    env = cli_environment(root / "storage", onnx_dir)
    done = run_cli(env, "ingest", repo.url, "--web-url", "https://github.com/acme/sample")
    assert done.returncode == 0, done.stderr
    return root / "storage"


@pytest.fixture
def indexed(ingested: Path, cli_env: dict[str, str]) -> dict[str, str]:
    shutil.copytree(ingested, cli_env["RAGQA_STORAGE_DIR"])
    return cli_env


@pytest.fixture
def served(indexed: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A real `ragqa serve` of the storage folder, once its server.json is written."""
    storage = Path(indexed["RAGQA_STORAGE_DIR"])
    server = subprocess.Popen([sys.executable, "-m", "ragqa", "serve", "--port", str(free_port())],
                              env=indexed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (storage / "server.json").is_file():
        assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if \
            server.stderr else "no server.json"
        time.sleep(0.1)
    yield server
    if server.poll() is None:
        server.kill()
    server.wait(timeout=30)
    if server.stderr:
        server.stderr.close()


def answer_json(env: dict[str, str], *args: str) -> tuple[dict[str, object], str]:
    done = run_cli(env, "ask", QUESTION, "--json", "-v", *args)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    answer.pop("timings_ms")
    return answer, done.stderr


def test_ask_and_locate_through_the_advertised_server(indexed: dict[str, str],
                                                       served: subprocess.Popen[str]) -> None:
    record = json.loads((Path(indexed["RAGQA_STORAGE_DIR"]) / "server.json").read_text())
    assert record["pid"] == served.pid and record["url"].startswith("http://127.0.0.1:")
    assert {"version", "started"} <= record.keys()

    remote, said = answer_json(indexed)
    assert f"answered by {record['url']}" in said
    local, said_locally = answer_json({**indexed, "RAGQA_SERVER": "off"})
    assert "answering in this process: RAGQA_SERVER=off" in said_locally
    assert remote == local and remote["sources"]

    plain = run_cli(indexed, "ask", QUESTION)
    assert plain.returncode == 0 and plain.stderr == ""  # without -v: nothing about the path
    assert plain.stdout == run_cli({**indexed, "RAGQA_SERVER": "off"}, "ask", QUESTION).stdout

    streamed = run_cli({**indexed, "TTY_COMPATIBLE": "1"}, "ask", QUESTION, "-v")
    assert streamed.returncode == 0 and "answered by" in streamed.stderr
    assert "http.py" in streamed.stdout

    located = run_cli(indexed, "locate", TRACE, "--json", "-v")
    assert located.returncode == 0 and "answered by" in located.stderr
    in_process = run_cli({**indexed, "RAGQA_SERVER": "off"}, "locate", TRACE, "--json")
    shown, expected = json.loads(located.stdout), json.loads(in_process.stdout)
    shown.pop("timings_ms"), expected.pop("timings_ms")
    assert shown == expected and shown["files"]


def test_the_server_path_imports_no_store_model_or_web_stack(indexed: dict[str, str],
                                                            served: subprocess.Popen[str]) -> None:
    blocked = "".join(f"sys.modules[{name!r}] = None\n" for name in HEAVY)
    wrapper = (f"import runpy, sys\n{blocked}sys.argv = ['ragqa', *sys.argv[1:]]\n"
               "runpy.run_module('ragqa', run_name='__main__')\n")
    for args in (["ask", QUESTION, "--json", "-v"], ["locate", TRACE, "-v"]):
        done = subprocess.run([sys.executable, "-c", wrapper, *args], env=indexed, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0 and "answered by" in done.stderr, done.stderr


@pytest.mark.parametrize("args", [["ask", QUESTION, "--json", "-v"], ["ask", QUESTION, "-v"],
                                  ["ask", QUESTION, "--project", "nope", "-v"],
                                  ["locate", TRACE, "-v"], ["locate", TRACE, "--json", "--top-k", "2"],
                                  ["locate", TRACE, "--functions", "-v"]])
def test_the_fast_path_prints_what_the_full_cli_prints(indexed: dict[str, str], served: subprocess.Popen[str],
                                                       args: list[str]) -> None:
    fast = run_cli(indexed, *args)
    full = subprocess.run([sys.executable, "-c", FULL_CLI, *args], env=indexed, capture_output=True,
                          text=True, timeout=300, check=False)
    assert (fast.returncode, _timeless(fast.stderr)) == (full.returncode, _timeless(full.stderr))
    if "--json" in args:
        shown, expected = json.loads(fast.stdout), json.loads(full.stdout)
        shown.pop("timings_ms"), expected.pop("timings_ms")
        assert shown == expected
    else:
        assert _timeless(fast.stdout) == _timeless(full.stdout)


def _timeless(text: str) -> str:
    """Output with its timings (`· 12 ms`) left out."""
    import re

    return re.sub(r"\d+ ms", "N ms", text)


def test_a_killed_server_is_stale_and_the_cli_answers_itself(indexed: dict[str, str],
                                                             served: subprocess.Popen[str]) -> None:
    served.kill()
    served.wait(timeout=30)
    server_file = Path(indexed["RAGQA_STORAGE_DIR"]) / "server.json"
    assert server_file.is_file()  # a killed server cannot clean up after itself
    answer, said = answer_json(indexed)
    assert "stale" in said and "answering in this process" in said and answer["sources"]
    assert not server_file.exists()
    located = run_cli(indexed, "locate", TRACE, "-v")
    assert located.returncode == 0 and "answering in this process" in located.stderr


def test_a_clean_shutdown_removes_server_json(indexed: dict[str, str], served: subprocess.Popen[str]) -> None:
    served.send_signal(signal.SIGINT)
    served.wait(timeout=60)
    assert not (Path(indexed["RAGQA_STORAGE_DIR"]) / "server.json").exists()


def test_nothing_answering_at_the_address_falls_back_and_cleans(indexed: dict[str, str]) -> None:
    server_file = Path(indexed["RAGQA_STORAGE_DIR"]) / "server.json"
    from ragqa import __version__

    url = f"http://127.0.0.1:{free_port()}"  # a live pid (this test's), nothing listening
    server_file.write_text(json.dumps({"url": url, "pid": os.getpid(), "version": __version__,
                                       "started": "2026-01-01T00:00:00+00:00"}))
    answer, said = answer_json(indexed)
    assert f"asking {url}" in said and "cannot reach" in said and answer["sources"]
    assert not server_file.exists()


def test_a_configured_server_that_refuses_falls_back(indexed: dict[str, str],
                                                     served: subprocess.Popen[str]) -> None:
    server_file = Path(indexed["RAGQA_STORAGE_DIR"]) / "server.json"
    url = json.loads(server_file.read_text())["url"]
    answer, said = answer_json({**indexed, "RAGQA_SERVER": url})
    assert f"asking {url} (RAGQA_SERVER)" in said and f"answered by {url}" in said
    refused, said = answer_json({**indexed, "RAGQA_SERVER": url + "/elsewhere"})  # HTTP 404
    assert "answered HTTP 404" in said and "answering in this process" in said and refused == answer
    located = run_cli({**indexed, "RAGQA_SERVER": f"http://127.0.0.1:{free_port()}"}, "locate", TRACE, "-v")
    assert located.returncode == 0 and "cannot reach" in located.stderr
    assert server_file.is_file()  # a configured server is never the storage's stale file


def test_discovery_ignores_other_versions_and_process_groups(tmp_path: Path) -> None:
    from ragqa.remote import discover

    server_file = tmp_path / "server.json"
    server_file.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": os.getpid(), "version": "0.0.1"}))
    found = discover(tmp_path, None)
    assert found.url is None and "runs ragqa 0.0.1" in found.why and server_file.is_file()
    server_file.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 0, "version": "0.0.1"}))
    assert discover(tmp_path, None).url is None and not server_file.exists()  # pid 0 is no server
    server_file.write_text("{half a file")
    assert "no running server" in discover(tmp_path, None).why
    assert discover(tmp_path, " OFF ").why == "RAGQA_SERVER=off"
    assert discover(tmp_path, "http://10.0.0.1:8000").url == "http://10.0.0.1:8000"
