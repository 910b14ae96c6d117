"""ragqa as an MCP server, through the official SDK's own client: over stdio (a real `ragqa mcp`
child process) and over streamable HTTP (the real app under uvicorn, behind its tokens). Real
git, real embedded Chroma, the real local model."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo
from tests.live_server import LiveServer

WEB = "https://github.com/acme/sample"
TOOLS = {"search", "ask", "locate", "list_projects", "read_lines", "find_symbol", "find_references",
         "callers", "callees"}


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GitRepo]:
    root = tmp_path_factory.mktemp("mcp")
    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD)
    repo.write("README.md", "# Sample\n\nHelpers for HTTP calls.\n").commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    return root / "storage", repo


def _run(session: Callable[[Client], Awaitable[None]], server: Any) -> None:
    async def main() -> None:
        async with Client(server, read_timeout_seconds=120) as client:
            await session(client)
    asyncio.run(main())


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) and set(content) == {"result"} \
            else content
    return json.loads(result.content[0].text)


async def _every_tool(client: Client, repo: GitRepo) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert tools["locate"].description and "traceback" in tools["locate"].description
    assert tools["search"].input_schema["required"] == ["query"]
    commit = repo.git("rev-parse", "HEAD")
    [project] = _data(await client.call_tool("list_projects", {}))
    assert project["name"] == "sample" and project["commit"] == commit and project["chunks"] > 0
    searched = await client.call_tool("search", {"query": "retry with exponential backoff", "top_k": 3})
    passages = _data(searched)
    assert passages and len(passages) <= 3
    for passage in passages:  # every link opens lines that exist at the commit, and the text is theirs
        assert passage["url"] == (f"{WEB}/blob/{commit}/{passage['path']}"
                                  f"#L{passage['start_line']}-L{passage['end_line']}")
        lines = repo.show(commit, passage["path"]).split("\n")
        assert passage["text"] == "\n".join(lines[passage["start_line"] - 1:passage["end_line"]])
    answer = _data(await client.call_tool("ask", {"question": "How do I retry with exponential backoff?"}))
    assert answer["answered"] and answer["sources"] and f"{WEB}/blob/{commit}/" in answer["answer"]
    located = _data(await client.call_tool("locate", {"text": "ValueError: timeout must be positive"}))
    assert located["files"][0]["path"] == "src/sample/http.py"
    assert any("raises 'timeout must be positive'" in reason for reason in located["files"][0]["reasons"])
    read = _data(await client.call_tool("read_lines", {"project": "sample", "path": "src/sample/http.py",
                                                        "start_line": 7, "end_line": 11}))
    assert read["text"] == "\n".join(SAMPLE_PY.split("\n")[6:11]) and read["url"].endswith("#L7-L11")
    [found] = _data(await client.call_tool("find_symbol", {"project": "sample", "name": "Session.request"}))
    assert (found["path"], found["kind"]) == ("src/sample/http.py", "method")
    lines = f"#L{found['start_line']}-L{found['end_line']}"
    assert found["url"] == f"{WEB}/blob/{commit}/src/sample/http.py{lines}"
    for name, arguments, message in [
        ("search", {"query": "x", "project": "ghost"}, "no project named 'ghost'"),
        ("read_lines", {"project": "sample", "path": "../../etc/passwd", "start_line": 1, "end_line": 2},
         "is not a file of sample"),
        ("read_lines", {"project": "sample", "path": "src/sample/http.py", "start_line": 5, "end_line": 900},
         "at most 400"),
        ("find_symbol", {"project": "../x", "name": "Session"}, "is not a project name"),
        ("search", {"query": "x", "top_k": 500}, "top_k must be between 1 and 50"),
    ]:
        with pytest.raises(MCPError) as refused:  # a client's mistake: invalid params, one line
            await client.call_tool(name, arguments)
        assert refused.value.code == INVALID_PARAMS, (name, refused.value)
        assert message in refused.value.message, (name, refused.value)
        assert "\n" not in refused.value.message
    assert _data(await client.call_tool("list_projects", {}))  # still serving after the errors
    resources = await client.read_resource("ragqa://projects/sample")
    text = resources.contents[0].text
    assert text.startswith("# sample") and "Helpers for HTTP calls." in text
    assert "- src/sample/http.py" in text


def test_stdio_server_in_a_child_process(storage: tuple[Path, GitRepo], onnx_dir: Path) -> None:
    path, repo = storage
    env = {"RAGQA_STORAGE_DIR": str(path), "RAGQA_ONNX_DIR": str(onnx_dir), "RAGQA_LLM": "none",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HF_HUB_OFFLINE": "1"}
    server = StdioServerParameters(command=sys.executable, args=["-m", "ragqa", "mcp"], env=env)
    _run(lambda client: _every_tool(client, repo), server)


def test_streamable_http_behind_the_tokens(storage: tuple[Path, GitRepo]) -> None:
    path, repo = storage
    settings = Settings(storage_dir=path, llm="none", ask_tokens="ask-token", rate_limit_per_minute=1000,
                        _env_file=None)  # type: ignore[call-arg]
    with LiveServer(create_app(settings)) as url:
        anonymous = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
        wrong = httpx.post(f"{url}/mcp", json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        token = {"Authorization": "Bearer ask-token"}

        async def main() -> None:
            async with httpx2.AsyncClient(headers=token, timeout=120) as http:
                transport = streamable_http_client(f"{url}/mcp", http_client=http)
                async with Client(transport, read_timeout_seconds=120) as client:
                    await _every_tool(client, repo)
        asyncio.run(main())
