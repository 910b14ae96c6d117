"""The `locate` and `ask` doors of the command line, in real `ragqa` processes: standard input
closed, empty, endless, not UTF-8 or a megabyte long, and arguments that try to reach outside
the project. Each refusal is one `error:` line, never a traceback; every link opens lines that
exist; a megabyte costs linear CPU time (measured on the child processes)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.conftest import MEGABYTE, Indexed, assert_links_exist, one_line

pytestmark = pytest.mark.slow
TRACEBACK = (
    'Traceback (most recent call last):\n  File "src/sample/http.py", line 11, in connect_timeout\n'
    '    raise ValueError("timeout must be positive")\nValueError: timeout must be positive\n'
)


@pytest.fixture(scope="module")
def env(indexed: Indexed) -> dict[str, str]:
    values = {key: value for key, value in os.environ.items() if not key.startswith("RAGQA_")}
    values.update(RAGQA_STORAGE_DIR=str(indexed.storage), RAGQA_LLM="none", HF_HUB_OFFLINE="1")
    return values


def ragqa(
    env: dict[str, str], *args: str, stdin: int | bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """`ragqa *args` with `stdin`: bytes to pipe in, a file descriptor, or None for closed."""
    command = [sys.executable, "-m", "ragqa", *args]
    if isinstance(stdin, bytes):
        done = subprocess.run(command, env=env, input=stdin, capture_output=True, timeout=300, check=False)
    elif stdin is None:  # the child starts with fd 0 closed, as `ragqa ask - <&-` does
        done = subprocess.run(
            ["sh", "-c", 'exec "$@" <&-', "sh", *command],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
    else:
        done = subprocess.run(command, env=env, stdin=stdin, capture_output=True, timeout=300, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def error_line(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert done.returncode != 0, done.stdout[:300]
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr[-2000:]
    line = one_line(done.stderr.strip())
    assert line.startswith("error:") and fragment in line, line


@pytest.mark.parametrize("command", ["locate", "ask"])
def test_stdin_closed(env: dict[str, str], command: str) -> None:
    error_line(ragqa(env, command, "-", stdin=None), "standard input is closed")


@pytest.mark.parametrize(
    ("command", "data", "fragment"),
    [
        pytest.param("locate", b"", "empty", id="locate-nothing"),
        pytest.param("ask", b"", "empty", id="ask-nothing"),
        pytest.param("ask", b"\xff\xfe\x00retry", "not UTF-8", id="ask-not-utf8"),
        pytest.param("locate", b"why \xc3", "not UTF-8", id="locate-cut-utf8"),
        pytest.param("locate", b" \n\t\n", "empty", id="locate-only-whitespace"),
        pytest.param("ask", b"x" * 64_001, "64000 at most", id="ask-one-past-the-limit"),
    ],
)
def test_stdin_that_cannot_be_a_question(
    env: dict[str, str], command: str, data: bytes, fragment: str
) -> None:
    error_line(ragqa(env, command, "-", stdin=data), fragment)


def test_stdin_from_dev_null_and_dev_zero(env: dict[str, str]) -> None:
    with open(os.devnull, "rb") as null:
        error_line(ragqa(env, "locate", "-", stdin=null.fileno()), "empty")
    with open("/dev/zero", "rb") as zero:
        done = ragqa(env, "ask", "-", stdin=zero.fileno())
    assert done.returncode != 0 and "Traceback" not in done.stderr
    one_line(done.stderr.strip())


def test_a_megabyte_on_stdin_is_refused_in_linear_time(env: dict[str, str]) -> None:
    def cpu(data: bytes) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        error_line(ragqa(env, "locate", "-", stdin=data), "at most")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    baseline = cpu(b"x" * 64_001)
    spent = cpu(('File "a.py", line 1\n' * (MEGABYTE // 20)).encode())
    assert spent < baseline + 2.0, (baseline, spent)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(
            ("locate", "x", "--project", "../x"), "is not a project name", id="locate-project-traversal"
        ),
        pytest.param(("ask", "x", "--project", "ghost"), "no project named 'ghost'", id="ask-ghost"),
        pytest.param(
            ("locate", "x", "--project", "\u202eevil"), "is not a project name", id="locate-bidi-project"
        ),
        pytest.param(("ask", "x" * 64_001), "64000 at most", id="ask-argument-too-long"),
        pytest.param(("locate", "   "), "empty", id="locate-blank-argument"),
    ],
)
def test_bad_arguments_are_one_line(env: dict[str, str], args: tuple[str, ...], fragment: str) -> None:
    error_line(ragqa(env, *args), fragment)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(TRACEBACK, id="a-real-traceback"),
        pytest.param(TRACEBACK.replace("line 11", "line 100000000000000000000"), id="a-frame-past-the-end"),
        pytest.param('  File "/etc/passwd", line 1, in <module>\nKeyError: root\n', id="a-frame-outside"),
        pytest.param('  File "../../src/sample/http.py", line 3\nValueError\n', id="a-frame-with-dots"),
        pytest.param(TRACEBACK.replace("\n", "\r\n"), id="crlf"),
        pytest.param("ValueError: " + "Session." * 6_000 + "request", id="a-long-dotted-name"),
    ],
)
def test_locations_from_stdin_link_only_lines_that_exist(
    env: dict[str, str], indexed: Indexed, text: str
) -> None:
    done = ragqa(env, "locate", "-", "--json", stdin=text.encode())
    assert done.returncode == 0, done.stderr[-2000:]
    assert_links_exist(json.loads(done.stdout), indexed)


def test_a_path_prefix_outside_is_one_line(env: dict[str, str]) -> None:
    error_line(
        ragqa(env, "locate", TRACEBACK, "--path", "../", "--json"), "no indexed file of sample is under"
    )


def test_the_answer_to_stdin_links_only_lines_that_exist(
    env: dict[str, str], indexed: Indexed, tmp_path: Path
) -> None:
    done = ragqa(env, "ask", "-", "--json", stdin=b"How do I retry with exponential backoff?")
    assert done.returncode == 0, done.stderr[-2000:]
    assert_links_exist(json.loads(done.stdout), indexed)
