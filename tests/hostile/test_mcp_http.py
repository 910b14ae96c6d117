"""The MCP door over streamable HTTP: `/mcp` of the real app under uvicorn, behind its tokens.
Every refusal is a JSON error (HTTP 4xx, or JSON-RPC −32602 for a client's mistake inside a
well-formed call), nothing is redirected or built from the client's Host header, and 1 MB of
input costs linear CPU time."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ragqa.api import create_app
from tests.hostile.conftest import MEGABYTE, Indexed, assert_links_exist, cpu_budget, one_line
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
TOKEN = "ask-token"
ACCEPT = "application/json, text/event-stream"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": ACCEPT, "Content-Type": "application/json"}
PY = "src/sample/http.py"


@pytest.fixture(scope="module")
def url(indexed: Indexed) -> Iterator[str]:
    with LiveServer(create_app(indexed.settings(ask_tokens=TOKEN))) as served:
        yield served


def call(url: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    response = httpx.post(f"{url}/mcp", json=body, headers=HEADERS, timeout=120)
    assert response.status_code == 200, response.text
    return dict(response.json())


def json_error(response: httpx.Response, status: int, fragment: str) -> None:
    """A refusal of the HTTP door: the status, a JSON error of one line, no redirect."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert "location" not in response.headers
    error = response.json()["error"]
    message = error["message"] if isinstance(error, dict) else ""
    assert fragment in one_line(message), response.text[:300]


@pytest.mark.parametrize(
    ("path", "headers", "status", "fragment"),
    [
        pytest.param(
            "/mcp/", {"Host": "evil.example"}, 421, "loopback Host", id="slash-foreign-host-no-token"
        ),
        pytest.param("/mcp", {"Host": "evil.example"}, 421, "loopback Host", id="foreign-host-no-token"),
        pytest.param(
            "/mcp", {**HEADERS, "Host": "evil.example"}, 421, "loopback Host", id="foreign-host-token"
        ),
        pytest.param(
            "/mcp", {**HEADERS, "Host": "localhost.evil.example"}, 421, "loopback", id="host-prefix"
        ),
        pytest.param(
            "/mcp", {**HEADERS, "Host": "127.0.0.1.evil.example:80"}, 421, "loopback", id="host-ip-prefix"
        ),
        pytest.param("/mcp", {**HEADERS, "Host": "x" * 8000}, 421, "loopback", id="host-eight-kilobytes"),
        pytest.param(
            "/mcp", {**HEADERS, "Origin": "https://evil.example"}, 403, "Origin", id="foreign-origin"
        ),
        pytest.param("/mcp", {**HEADERS, "Origin": "null"}, 403, "Origin", id="null-origin"),
        pytest.param("/mcp", {"Accept": ACCEPT}, 401, "", id="no-token"),
        pytest.param("/mcp", {**HEADERS, "Authorization": "Bearer nope"}, 401, "", id="wrong-token"),
        pytest.param("/mcp", {**HEADERS, "Authorization": "Basic YTpi"}, 401, "", id="basic-auth"),
        pytest.param(
            "/mcp/", {**HEADERS, "Content-Type": "text/plain"}, 415, "application/json", id="text-plain"
        ),
        pytest.param(
            "/mcp",
            {**HEADERS, "Content-Type": "application/x-www-form-urlencoded"},
            415,
            "JSON",
            id="form-body",
        ),
    ],
)
def test_refused_before_the_sdk_as_json(
    url: str, path: str, headers: dict[str, str], status: int, fragment: str
) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    json_error(httpx.post(f"{url}{path}", content=body, headers=headers), status, fragment)


def test_trailing_slashes_are_never_redirected(url: str) -> None:
    for path in ("/ask/", "/projects/", "/healthz/"):
        response = httpx.get(f"{url}{path}", headers={"Host": "evil.example", **HEADERS})
        assert 400 <= response.status_code < 500 and "location" not in response.headers, path


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        pytest.param("localhost", None, id="localhost"),
        pytest.param("[::1]:8000", "http://[::1]:8000", id="ipv6-loopback"),
        pytest.param("127.0.0.1:1", "http://localhost:3000", id="loopback-origin"),
    ],
)
def test_loopback_hosts_are_served(url: str, host: str, origin: str | None) -> None:
    headers = {**HEADERS, "Host": host, **({"Origin": origin} if origin else {})}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for path in ("/mcp", "/mcp/"):
        response = httpx.post(f"{url}{path}", json=body, headers=headers)
        assert response.status_code == 200 and response.json()["result"]["tools"], response.text[:300]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(b"not json", "Parse error", id="not-json"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search",'
            b'"arguments":{"query":"\\ud800"}}}',
            "",
            id="lone-surrogate",
        ),
        pytest.param(b"[" * 5000 + b"]" * 5000, "", id="nested-deep"),
    ],
)
def test_malformed_messages_are_json_rpc_errors(url: str, body: bytes, fragment: str) -> None:
    response = httpx.post(f"{url}/mcp", content=body, headers=HEADERS)
    assert response.status_code == 400, response.text[:300]
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("tool", "arguments", "fragment"),
    [
        pytest.param(
            "read_lines",
            {"project": "sample", "path": PY, "start_line": 10**9, "end_line": 10**9},
            "past its end",
            id="read-lines-a-billion",
        ),
        pytest.param(
            "read_lines",
            {"project": "sample", "path": PY, "start_line": "one", "end_line": 2},
            "start_line",
            id="read-lines-wrong-type",
        ),
        pytest.param(
            "read_lines", {"project": "sample", "path": PY}, "start_line is required", id="read-lines-missing"
        ),
        pytest.param(
            "search",
            {"query": "x", "project": "\u202egnp.exe"},
            "is not a project name",
            id="bidi-project-name",
        ),
        pytest.param("find_symbol", {"project": "ghost", "name": "Session"}, "no project named", id="ghost"),
        pytest.param("teleport", {}, "no tool named", id="unknown-tool"),
    ],
)
def test_a_clients_mistake_is_invalid_params(
    url: str, tool: str, arguments: dict[str, Any], fragment: str
) -> None:
    error = call(url, tool, arguments)["error"]
    assert error["code"] == -32602 and fragment in one_line(error["message"]), error


def test_the_unknown_resource_is_invalid_params(url: str) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "resources/read",
        "params": {"uri": "ragqa://projects/ghost"},
    }
    error = httpx.post(f"{url}/mcp", json=body, headers=HEADERS).json()["error"]
    assert error["code"] == -32602 and "no project named 'ghost'" in error["message"]


def test_answers_link_only_lines_that_exist(url: str, indexed: Indexed) -> None:
    for tool, arguments in [
        ("search", {"query": "retry with backoff"}),
        ("ask", {"question": "How do I bound the connect phase?"}),
        ("read_lines", {"project": "sample", "path": PY, "start_line": 20, "end_line": 390}),
    ]:
        result = call(url, tool, arguments)["result"]
        assert not result["isError"], result
        assert_links_exist(result["structuredContent"], indexed)


def test_a_megabyte_body_is_refused_in_linear_time(url: str) -> None:
    name = "x." * (MEGABYTE // 2)
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "find_symbol", "arguments": {"project": "sample", "name": name}},
    }
    with cpu_budget(2.0):
        response = httpx.post(f"{url}/mcp", json=body, headers=HEADERS)
    json_error(response, 413, "bytes")


def test_logs_of_a_foreign_host_are_bounded(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    httpx.post(f"{url}/mcp", json={}, headers={**HEADERS, "Host": "h" * 40_000})
    root = logging.getLogger()
    assert not [handler for handler in root.handlers if type(handler).__module__.startswith("rich")]
    from ragqa.logs import RagqaHandler

    [ours] = [handler for handler in root.handlers if isinstance(handler, RagqaHandler)]
    for record in caplog.records:
        assert len(ours.format(record)) < 3_000
