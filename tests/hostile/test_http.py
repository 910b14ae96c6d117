"""The HTTP door (`/ask`, `/locate`, `/projects`, `/jobs`, `/v1/chat/completions`, `/metrics`)
of the real app under uvicorn: every refusal is a JSON error of one line with a 4xx status, no
response is built from the Host header, every link opens lines that exist, a megabyte body
costs linear CPU time, and the server's log lines are bounded plain text or JSON."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragqa.api import create_app
from ragqa.logs import RagqaHandler, bounded, configure
from tests.hostile.conftest import MEGABYTE, Indexed, assert_links_exist, cpu_budget, one_line
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
ASK, ADMIN = "ask-token", "admin-token"
AUTH = {"Authorization": f"Bearer {ASK}"}
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def url(indexed: Indexed) -> Iterator[str]:
    with LiveServer(create_app(indexed.settings(ask_tokens=ASK, admin_tokens=ADMIN))) as served:
        yield served


def refused(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert "location" not in response.headers
    assert fragment in one_line(response.json()["error"]["message"]), response.text[:300]


CASES = [
    pytest.param(
        "POST", "/ask", {"question": "\ud800 retry?"}, AUTH, 422, "question", id="ask-lone-surrogate-question"
    ),
    pytest.param(
        "POST", "/locate", {"text": "\udfff ValueError"}, AUTH, 422, "text", id="locate-lone-surrogate"
    ),
    pytest.param(
        "POST",
        "/ask",
        {"question": "x", "project": "../etc"},
        AUTH,
        400,
        "is not a project name",
        id="ask-project-traversal",
    ),
    pytest.param(
        "POST", "/ask", {"question": "x", "project": "\ud800"}, AUTH, 400, "", id="ask-lone-surrogate"
    ),
    pytest.param(
        "POST",
        "/ask",
        {"question": "x", "project": ["sample", 5]},
        AUTH,
        422,
        "project",
        id="ask-project-list-with-a-number",
    ),
    pytest.param("POST", "/ask", {"question": "x", "top_k": 10**30}, AUTH, 422, "top_k", id="ask-top-k-huge"),
    pytest.param(
        "POST", "/ask", {"question": "x", "only": "binaries"}, AUTH, 422, "only", id="ask-only-binaries"
    ),
    pytest.param("POST", "/ask", {"question": "x" * 64_001}, AUTH, 400, "64000 at most", id="ask-too-long"),
    pytest.param(
        "POST", "/ask", {"question": "x", "path_prefix": "../../"}, AUTH, 400, "", id="ask-prefix-outside"
    ),
    pytest.param(
        "POST",
        "/ask",
        {"question": "x"},
        {"Authorization": "Bearer \u00e9".encode("latin-1")},
        401,
        "",
        id="ask-latin1-token",
    ),
    pytest.param(
        "POST", "/ask", {"question": "x"}, {"Host": "evil.example"}, 401, "", id="ask-foreign-host-no-token"
    ),
    pytest.param("POST", "/locate", {"text": ""}, AUTH, 422, "text", id="locate-empty"),
    pytest.param(
        "POST",
        "/locate",
        {"text": "x", "project": "ghost"},
        AUTH,
        404,
        "no project named 'ghost'",
        id="locate-ghost",
    ),
    pytest.param("POST", "/locate", {"text": "x", "top_k": 0}, AUTH, 422, "top_k", id="locate-top-k-zero"),
    pytest.param(
        "GET",
        "/projects/..%2F..%2Fetc",
        None,
        AUTH,
        400,
        "is not a project name",
        id="project-encoded-traversal",
    ),
    pytest.param(
        "GET",
        "/projects/" + "a" * 5000,
        None,
        AUTH,
        400,
        "is not a project name",
        id="project-name-five-kilobytes",
    ),
    pytest.param("GET", "/jobs/" + "j" * 5000, None, AUTH, 404, "no job", id="job-id-five-kilobytes"),
    pytest.param("DELETE", "/projects/sample", None, AUTH, 403, "", id="delete-with-an-ask-token"),
    pytest.param("POST", "/projects", {"source": "file:///etc"}, ADMIN_AUTH, 400, "", id="ingest-local-path"),
    pytest.param(
        "POST",
        "/projects",
        {"source": "https://evil.example/x.git"},
        ADMIN_AUTH,
        400,
        "",
        id="ingest-foreign-host",
    ),
    pytest.param(
        "POST",
        "/projects/sample/refresh",
        {"ref": "--upload-pack=touch /tmp/x"},
        ADMIN_AUTH,
        400,
        "",
        id="refresh-option-as-ref",
    ),
    pytest.param(
        "POST",
        "/v1/chat/completions",
        {"model": "ragqa", "messages": "hi"},
        AUTH,
        422,
        "messages",
        id="chat-messages-a-string",
    ),
    pytest.param(
        "POST",
        "/v1/chat/completions",
        {"model": "../x", "messages": [{"role": "user", "content": "x"}]},
        AUTH,
        400,
        "",
        id="chat-model-traversal",
    ),
    pytest.param("GET", "/ask", None, AUTH, 405, "", id="ask-with-get"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "fragment"), CASES)
def test_refusals_are_json_4xx_in_one_line(
    url: str, method: str, path: str, body: Any, headers: dict[str, str], status: int, fragment: str
) -> None:
    content = None if body is None else json.dumps(body).encode()
    response = httpx.request(
        method,
        f"{url}{path}",
        content=content,
        headers={**headers, "Content-Type": "application/json"},
        timeout=60,
    )
    if status in (400, 403) and not fragment:
        assert 400 <= response.status_code < 500, response.text[:300]
        one_line(response.json()["error"]["message"])
    else:
        refused(response, status, fragment)


def test_answers_link_only_lines_that_exist(url: str, indexed: Indexed) -> None:
    for path, body in [
        ("/ask", {"question": "How do I retry with exponential backoff?"}),
        ("/locate", {"text": 'File "src/sample/http.py", line 999999, in connect_timeout'}),
        ("/ask", {"question": "`Session.request` " * 2000}),
    ]:
        response = httpx.post(
            f"{url}{path}",
            content=json.dumps(body),
            timeout=120,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text[:300]
        assert_links_exist(response.json(), indexed)


def test_a_megabyte_body_is_refused_in_linear_time(url: str) -> None:
    body = json.dumps({"question": "é" * MEGABYTE}).encode()
    with cpu_budget(2.0):
        response = httpx.post(
            f"{url}/ask", content=body, headers={**AUTH, "Content-Type": "application/json"}
        )
    refused(response, 413, "bytes")


def test_log_lines_are_bounded_one_line_and_json_on_request() -> None:
    record = logging.LogRecord(
        "ragqa.api", logging.INFO, __file__, 1, "request %s: %s", ("id", "x\n" * MEGABYTE), None
    )
    handler_stream = io.StringIO()
    for log_format in ("plain", "json"):
        configure(log_format)  # type: ignore[arg-type]
        [ours] = [h for h in logging.getLogger().handlers if isinstance(h, RagqaHandler)]
        ours.setStream(handler_stream)
        line = ours.format(record)
        assert "\n" not in line and len(line) < 3_000, line[:300]
        if log_format == "json":
            assert json.loads(line)["message"].startswith("request id: x\\nx")
    configure("plain")
    assert bounded("\ud800\x1b[31m") == "\\ud800\\x1b[31m"


def test_serve_logs_one_format_for_uvicorn_the_mcp_sdk_and_ragqa(indexed: Indexed, tmp_path: Path) -> None:
    """`ragqa serve` with RAGQA_LOG_FORMAT=json: every stderr line is one JSON object, whoever
    logged it, and a foreign Host of 40,000 characters is neither highlighted nor echoed whole."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAGQA_")}
    env.update(
        RAGQA_STORAGE_DIR=str(indexed.storage),
        RAGQA_LLM="none",
        RAGQA_LOG_FORMAT="json",
        RAGQA_PRELOAD_PROJECTS="none",
        RAGQA_ASK_TOKENS=ASK,
        HF_HUB_OFFLINE="1",
    )
    with open(tmp_path / "stderr", "wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "ragqa", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                time.sleep(0.2)
            # a busy machine may take longer than httpx's default 5 s for the first answers
            httpx.post(f"{base}/mcp", json={}, headers={**AUTH, "Host": "h" * 40_000}, timeout=60)
            httpx.post(f"{base}/ask", json={"question": "x", "project": "ghost"}, headers=AUTH, timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
    lines = (tmp_path / "stderr").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON: no Rich, no uvicorn format
    loggers = {record["logger"] for record in records}
    assert {"uvicorn.error", "uvicorn.access", "ragqa.api"} <= loggers, loggers
    assert all(len(line) < 3_000 for line in lines)
