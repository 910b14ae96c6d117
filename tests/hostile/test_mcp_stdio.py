"""The MCP door over stdio: a real `ragqa mcp` child process spoken to line by line, as an agent
would — including lines the SDK's own client would never send (lone surrogates, broken JSON,
deep nesting). Every request line gets exactly one reply, a client's mistake is JSON-RPC −32602
(or −32700/−32600 for a line that is not a request) in one line, and no link leaves the lines
that exist at the indexed commit."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.conftest import MEGABYTE, Indexed, assert_links_exist, cpu_budget, one_line

pytestmark = pytest.mark.slow
PY = "src/sample/http.py"
INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR = -32602, -32600, -32700


class StdioAgent:
    """A `ragqa mcp` child process and the lines exchanged with it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ragqa", "mcp"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.next_id = 100
        reply = self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "hostile", "version": "1"},
            },
        )
        assert "result" in reply, reply
        self.send_line(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))

    def send_line(self, line: str | bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line.encode() if isinstance(line, str) else line) + b"\n")
        self.process.stdin.flush()

    def reply(self, timeout: float = 120) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, "no reply: the client would wait forever"
        return dict(json.loads(self.process.stdout.readline()))

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        self.send_line(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
        answer = self.reply()
        assert answer.get("id") == self.next_id, answer
        return answer

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.request("tools/call", {"name": tool, "arguments": arguments})


@pytest.fixture(scope="module")
def agent(indexed: Indexed, onnx_dir: Path) -> Iterator[StdioAgent]:
    env = {
        "RAGQA_STORAGE_DIR": str(indexed.storage),
        "RAGQA_ONNX_DIR": str(onnx_dir),
        "RAGQA_LLM": "none",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HF_HUB_OFFLINE": "1",
    }
    started = StdioAgent(env)
    yield started
    assert started.process.stdin is not None and started.process.stderr is not None
    started.process.stdin.close()
    started.process.wait(timeout=30)
    stderr = started.process.stderr.read().decode("utf-8", "replace")
    started.process.stdout.close()  # type: ignore[union-attr]
    started.process.stderr.close()
    assert "Traceback" not in stderr, stderr[-3000:]


def refused(answer: dict[str, Any], code: int, fragment: str) -> None:
    assert "error" in answer, answer
    assert answer["error"]["code"] == code, answer
    assert fragment in one_line(answer["error"]["message"]), answer


READ = {"project": "sample", "path": PY}
TOOL_CASES = [
    pytest.param(
        "read_lines",
        {**READ, "start_line": 10**9, "end_line": 10**9 + 3},
        "past its end",
        id="read-lines-start-a-billion",
    ),
    pytest.param(
        "read_lines",
        {**READ, "start_line": 2**64, "end_line": 2**64 + 1},
        "past its end",
        id="read-lines-start-two-to-the-64",
    ),
    pytest.param(
        "read_lines",
        {**READ, "start_line": 35, "end_line": 40},
        "past its end",
        id="read-lines-one-past-the-last-line",
    ),
    pytest.param(
        "read_lines",
        {**READ, "start_line": 9, "end_line": 3},
        "start_line ≤ end_line",
        id="read-lines-end-before-start",
    ),
    pytest.param(
        "read_lines", {**READ, "start_line": 0, "end_line": 3}, "1 ≤ start_line", id="read-lines-zero"
    ),
    pytest.param(
        "read_lines", {**READ, "start_line": -5, "end_line": 3}, "1 ≤ start_line", id="read-lines-negative"
    ),
    pytest.param(
        "read_lines", {**READ, "start_line": 1, "end_line": 402}, "at most 400", id="read-lines-over-400"
    ),
    pytest.param(
        "read_lines",
        {**READ, "path": "../../etc/passwd", "start_line": 1, "end_line": 2},
        "is not a file of sample",
        id="read-lines-path-traversal",
    ),
    pytest.param(
        "read_lines",
        {**READ, "path": "/etc/passwd", "start_line": 1, "end_line": 2},
        "is not a file of sample",
        id="read-lines-absolute-path",
    ),
    pytest.param(
        "read_lines", {**READ, "start_line": "x", "end_line": 2}, "start_line", id="read-lines-wrong-type"
    ),
    pytest.param(
        "read_lines", {**READ, "start_line": 1}, "end_line is required", id="read-lines-missing-argument"
    ),
    pytest.param(
        "read_lines", {**READ, "start_line": 1.5, "end_line": 2}, "start_line", id="read-lines-float"
    ),
    pytest.param("search", {"query": "retry", "project": "\ud800"}, "", id="lone-surrogate-project"),
    pytest.param(
        "search", {"query": "retry", "project": "ghost"}, "no project named 'ghost'", id="unknown-project"
    ),
    pytest.param("search", {"query": "retry", "top_k": 0}, "top_k must be between 1 and 50", id="top-k-zero"),
    pytest.param(
        "search", {"query": "retry", "top_k": 10**20}, "top_k must be between 1 and 50", id="top-k-huge"
    ),
    pytest.param("search", {"query": "   "}, "the query is empty", id="empty-query"),
    pytest.param("search", {"query": "retry", "kind": "binary"}, "kind", id="kind-not-allowed"),
    pytest.param("search", {"query": ["retry"]}, "query", id="query-a-list"),
    pytest.param(
        "find_symbol",
        {"project": "../x", "name": "Session"},
        "is not a project name",
        id="find-symbol-bad-project",
    ),
    pytest.param(
        "locate",
        {"text": "ValueError", "top_k": 51},
        "top_k must be between 1 and 50",
        id="locate-top-k-over",
    ),
    pytest.param("nope", {}, "no tool named 'nope'", id="unknown-tool"),
    pytest.param(
        "ask", {"question": "retry?", "project": "sample,../b"}, "project", id="ask-projects-with-a-bad-name"
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "fragment"), TOOL_CASES)
def test_a_clients_mistake_is_invalid_params_in_one_line(
    agent: StdioAgent, tool: str, arguments: dict[str, Any], fragment: str
) -> None:
    refused(agent.call(tool, arguments), INVALID_PARAMS, fragment)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        pytest.param(
            '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search",'
            '"arguments":{"query":"\\ud800"}}}',
            INVALID_PARAMS,
            id="lone-surrogate-in-a-query",
        ),
        pytest.param("not json at all", PARSE_ERROR, id="not-json"),
        pytest.param("", PARSE_ERROR, id="an-empty-line"),
        pytest.param("[1, 2]", INVALID_REQUEST, id="a-json-array"),
        pytest.param('{"jsonrpc":"2.0","id":7,"method":5}', INVALID_REQUEST, id="method-not-a-string"),
        pytest.param(
            '{"jsonrpc":"1.0","id":7,"method":"tools/list"}', INVALID_REQUEST, id="wrong-jsonrpc-version"
        ),
        pytest.param(
            '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":' + "[" * 5000 + "]" * 5000 + "}",
            PARSE_ERROR,
            id="nested-five-thousand-deep",
        ),
    ],
)
def test_every_line_gets_a_reply(agent: StdioAgent, line: str, code: int) -> None:
    agent.send_line(line)
    answer = agent.reply(timeout=60)
    assert answer["error"]["code"] == code, answer
    one_line(answer["error"]["message"])
    assert answer["id"] in (7, None)


def test_a_malformed_notification_gets_no_reply_and_the_next_request_its_own(agent: StdioAgent) -> None:
    agent.send_line('{"jsonrpc":"2.0","method":"notifications/x","params":"\\ud800"}')
    answer = agent.call("list_projects", {})
    assert answer["result"]["structuredContent"]["result"][0]["name"] == "sample"


def test_bytes_that_are_not_utf8_are_read_as_replacement_characters(agent: StdioAgent) -> None:
    agent.send_line(
        b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"search",'
        b'"arguments":{"query":"retry","project":"\xff\xfe"}}}'
    )
    answer = agent.reply()
    refused(answer, INVALID_PARAMS, "is not a project name")


def test_the_unknown_resource_is_invalid_params(agent: StdioAgent) -> None:
    refused(
        agent.request("resources/read", {"uri": "ragqa://projects/ghost"}),
        INVALID_PARAMS,
        "no project named 'ghost'",
    )
    refused(
        agent.request("resources/read", {"uri": "ragqa://projects/..%2Fx"}),
        INVALID_PARAMS,
        "Unknown resource",
    )


def test_read_lines_clips_the_end_and_links_only_lines_that_exist(
    agent: StdioAgent, indexed: Indexed
) -> None:
    answer = agent.call("read_lines", {**READ, "start_line": 30, "end_line": 300})
    result = answer["result"]["structuredContent"]
    assert result["end_line"] == len(indexed.lines(PY)) and result["url"].endswith(
        f"#L30-L{result['end_line']}"
    )
    assert result["text"] == "\n".join(indexed.lines(PY)[29:])
    assert_links_exist(result, indexed)


def test_search_and_locate_link_only_lines_that_exist(agent: StdioAgent, indexed: Indexed) -> None:
    for tool, arguments in [
        ("search", {"query": "retry backoff"}),
        ("locate", {"text": "ValueError: timeout"}),
        ("find_symbol", {"project": "sample", "name": "Session.request"}),
    ]:
        answer = agent.call(tool, arguments)
        assert not answer["result"]["isError"], answer
        assert_links_exist(answer["result"]["structuredContent"], indexed)


def test_a_huge_dotted_name_costs_linear_time(agent: StdioAgent, indexed: Indexed) -> None:
    name = "x." * (MEGABYTE // 2) + "Session.request"
    with cpu_budget(3.0, agent.process.pid):
        answer = agent.call("find_symbol", {"project": "sample", "name": name})
    [found] = answer["result"]["structuredContent"]["result"]
    assert found["name"] == "Session.request"
    assert_links_exist(found, indexed)


def test_a_megabyte_locate_text_is_refused_in_linear_time(agent: StdioAgent) -> None:
    with cpu_budget(3.0, agent.process.pid):
        answer = agent.call("locate", {"text": 'File "x.py", line 1\n' * (MEGABYTE // 20)})
    refused(answer, INVALID_PARAMS, "64000 at most")
