"""Questions across projects (a list of names, "a,b" or "*") at the HTTP and MCP doors of the real
app: every name is checked like a single one (4xx in one JSON line, −32602 over MCP), a list
costs linear time in its length, and the answer links only lines that exist in the projects
asked."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from tests.hostile.conftest import WEB, Indexed, assert_links_exist, cpu_budget, one_line
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
TOKEN = {"Authorization": "Bearer ask-token"}
QUESTION = "How do I retry with exponential backoff?"
MCP = {**TOKEN, "Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def url(indexed: Indexed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    storage = tmp_path_factory.mktemp("multi") / "storage"
    shutil.copytree(indexed.storage, storage)
    settings = indexed.settings(storage_dir=storage, ask_tokens="ask-token")
    Ingester(settings).ingest(IngestRequest(source=str(indexed.repo.root), name="other", web_url=WEB))
    with LiveServer(create_app(settings)) as served:
        yield served


def ask(url: str, project: Any, **more: Any) -> httpx.Response:
    body = json.dumps({"question": QUESTION, "project": project, **more})  # \ud800 stays an escape
    return httpx.post(
        f"{url}/ask", content=body, headers={**TOKEN, "Content-Type": "application/json"}, timeout=120
    )


@pytest.mark.parametrize(
    "project",
    [
        pytest.param(["sample", "other"], id="a-list"),
        pytest.param("*", id="every-project"),
        pytest.param(["other"], id="a-list-of-one"),
        pytest.param(["sample", "sample", "other"], id="a-name-twice"),
    ],
)
def test_answers_across_projects_link_only_lines_that_exist(url: str, indexed: Indexed, project: Any) -> None:
    response = ask(url, project)
    assert response.status_code == 200, response.text[:300]
    answer = response.json()
    assert answer["answered"] and answer["sources"]
    assert_links_exist(answer, indexed)


@pytest.mark.parametrize(
    ("project", "status", "fragment"),
    [
        pytest.param(["sample", "ghost"], 404, "ghost", id="one-unknown"),
        pytest.param(["sample", "../x"], 400, "is not a project name", id="one-traversal"),
        pytest.param(["sample", "\ud800"], 400, "is not a project name", id="one-lone-surrogate"),
        pytest.param(["sample", "a\x00b"], 400, "is not a project name", id="one-with-nul"),
        pytest.param(["sample", " other"], 400, "is not a project name", id="one-with-a-space"),
        pytest.param(["sample", "x" * 5000], 400, "is not a project name", id="one-five-kilobytes"),
        pytest.param(["sample", 5], 422, "project", id="one-a-number"),
        pytest.param(["sample", None], 422, "project", id="one-null"),
        pytest.param([["sample"]], 422, "project", id="nested-list"),
        pytest.param({"name": "sample"}, 422, "project", id="an-object"),
        pytest.param("sample,../x", 400, "", id="comma-with-traversal"),
    ],
)
def test_each_name_is_checked(url: str, project: Any, status: int, fragment: str) -> None:
    response = ask(url, project)
    assert response.status_code == status, response.text[:300]
    assert fragment in one_line(response.json()["error"]["message"])


def test_a_list_of_fifty_thousand_names_costs_linear_time(url: str) -> None:
    with cpu_budget(3.0):
        response = ask(url, ["sample", "other"] * 25_000)
    assert 400 <= response.status_code < 500 or response.status_code == 200, response.text[:300]
    if response.status_code != 200:
        one_line(response.json()["error"]["message"])


def mcp_ask(url: str, project: str) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": QUESTION, "project": project}},
    }
    return dict(httpx.post(f"{url}/mcp", json=body, headers=MCP, timeout=120).json())


@pytest.mark.parametrize(
    ("project", "fragment"),
    [
        pytest.param("sample,ghost", "ghost", id="mcp-one-unknown"),
        pytest.param("sample,../x", "project", id="mcp-one-traversal"),
        pytest.param(",", "project", id="mcp-only-a-comma"),
        pytest.param("sample," + "x" * 5000, "project", id="mcp-one-five-kilobytes"),
    ],
)
def test_mcp_names_are_invalid_params(url: str, project: str, fragment: str) -> None:
    error = mcp_ask(url, project)["error"]
    assert error["code"] == -32602 and fragment in one_line(error["message"]), error


@pytest.mark.parametrize("project", ["*", "sample,other"])
def test_mcp_answers_across_projects(url: str, indexed: Indexed, project: str) -> None:
    result = mcp_ask(url, project)["result"]
    assert not result["isError"] and result["structuredContent"]["answered"]
    assert_links_exist(result["structuredContent"], indexed)
