"""ragqa over the Model Context Protocol (the official `mcp` SDK): the codebase-knowledge tool of
coding agents, with the same guarantee as every other front door — every link is built by the
server, pinned to the indexed commit and to lines that exist.

`build_server(answerer)` makes the server: over stdio for `ragqa mcp` (what desktop agents
launch), and mounted at `/mcp` of the HTTP app (streamable HTTP, stateless) behind the same
tokens, rate limit and body limit as `/ask`. It only translates: each tool calls the `Answerer`
and returns its contract; an error is a tool error of one readable line, and the server keeps
serving.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from ragqa import __version__
from ragqa.answer import Answerer
from ragqa.answer.render import title
from ragqa.errors import BadRequestError, RagqaError
from ragqa.index.registry import check_name
from ragqa.links import permalink
from ragqa.query import Query
from ragqa.retrieve import Filters

MAX_READ_LINES = 400
INSTRUCTIONS = (
    "ragqa answers questions about indexed software projects (code and docs). Every link it returns "
    "is a permalink pinned to the indexed commit and to lines that exist. Use `search` for passages, "
    "`ask` for an answer, `locate` with a pasted issue or traceback for the files and functions to "
    "change, `find_symbol` for a definition, `read_lines` for exact lines, `list_projects` first when "
    "unsure which project to use.")
Result = TypeVar("Result")


def build_server(answerer: Callable[[], Answerer]) -> MCPServer:
    """The MCP server over `answerer` (a callable, so the model loads on first use)."""
    server = MCPServer(name="ragqa", version=__version__, instructions=INSTRUCTIONS)

    @server.tool()
    async def search(query: str, project: str | None = None, top_k: int = 8, path_prefix: str | None = None,
                     kind: Literal["code", "docs"] | None = None) -> list[dict[str, Any]]:
        """Search an indexed project's code and docs: the best passages for `query`, each with
        its path, lines, permalink (pinned to the indexed commit), symbol or heading, score and
        exact text. Retrieval only, no model call. `project`: a name from `list_projects` (default:
        the only or default project); `path_prefix` and `kind` ("code" or "docs") narrow it."""
        return await _run(lambda: _search(answerer(), query, project, top_k, path_prefix, kind))

    @server.tool()
    async def ask(question: str, project: str | None = None) -> dict[str, Any]:
        """Answer a question about an indexed project: a Markdown answer whose links all point at
        the passages it was built from (listed in `sources`), `answered: false` with "Hmm, I'm
        not sure." when the project does not answer it. `project` may also be several names,
        comma-separated, or "*" for every project."""
        return await _run(lambda: answerer().ask(question, project).model_dump(mode="json"))

    @server.tool()
    async def locate(text: str, project: str | None = None, top_k: int = 10) -> dict[str, Any]:
        """Where to change the code for a bug report: paste an issue, a traceback (Python,
        JavaScript, Java, Go) or a log. Returns the files to look at first and, inside them, the
        functions and classes with line ranges, permalinks and the reason each was chosen (a
        traceback frame, a quoted error message it raises, a name it defines)."""
        return await _run(lambda: answerer().locate(text, project, _bounded(top_k, 50))
                          .model_dump(mode="json"))

    @server.tool()
    async def list_projects() -> list[dict[str, Any]]:
        """The indexed projects: name, web URL, indexed commit, chunk count, when last ingested."""
        return await _run(lambda: _projects(answerer()))

    @server.tool()
    async def read_lines(project: str, path: str, start_line: int, end_line: int) -> dict[str, Any]:
        """Exact lines `start_line`–`end_line` (1-based, inclusive, at most 400) of a file of an
        indexed project, as they are at the indexed commit, with their permalink. Only files the
        project indexed can be read."""
        return await _run(lambda: _read(answerer(), project, path, start_line, end_line))

    @server.tool()
    async def find_symbol(project: str, name: str) -> list[dict[str, Any]]:
        """Where a class, function, method or module-level name is defined in an indexed project:
        `Session`, `Session.request` or `requests.Session.request`. Each definition with its kind,
        path, lines and permalink; classes and functions before methods."""
        return await _run(lambda: _find(answerer(), project, name))

    @server.tool()
    async def find_references(project: str, name: str, limit: int = 50) -> dict[str, Any]:
        """Where a function, method or class is used in an indexed project, from its code graph
        (calls and references resolved by name, imports and the class hierarchy): the name's
        definitions, then each using line with the definition it is in, its text and permalink.
        `name`: `send`, `Session.send` or `requests.Session.send`; `limit`: at most 200."""
        return await _run(lambda: _usages(answerer(), project, name, "references", limit))

    @server.tool()
    async def callers(project: str, name: str, limit: int = 50) -> dict[str, Any]:
        """What calls a function or method in an indexed project, from its code graph: each
        calling definition with its lines, permalink and the line of its first call."""
        return await _run(lambda: _usages(answerer(), project, name, "callers", limit))

    @server.tool()
    async def callees(project: str, name: str, limit: int = 50) -> dict[str, Any]:
        """What a function or method of an indexed project calls, from its code graph: each
        called definition in the project with its lines and permalink."""
        return await _run(lambda: _usages(answerer(), project, name, "callees", limit))

    @server.resource("ragqa://projects", mime_type="application/json")
    def projects_resource() -> str:
        """Every indexed project (name, URL, commit, chunks)."""
        return json.dumps(_resource(lambda: _projects(answerer())))

    @server.resource("ragqa://projects/{name}", mime_type="text/markdown")
    def project_resource(name: str) -> str:
        """A project's README and the list of its indexed files."""
        return _resource(lambda: _overview(answerer(), name))

    return server


async def _run(work: Callable[[], Result]) -> Result:
    """Run blocking ragqa work off the event loop; its errors become one-line tool errors."""
    try:
        return await anyio.to_thread.run_sync(work)
    except RagqaError as error:
        raise ToolError(str(error)) from None
    except Exception as error:  # a bug: one line for the agent, never a traceback
        raise ToolError(f"internal error ({type(error).__name__})") from None


def _resource(work: Callable[[], Result]) -> Result:
    try:
        return work()
    except RagqaError as error:
        raise ResourceError(str(error)) from None


def _bounded(value: int, most: int) -> int:
    if not 1 <= value <= most:
        raise RagqaError(f"top_k must be between 1 and {most}")
    return value


def _search(answerer: Answerer, query: str, project: str | None, top_k: int, path_prefix: str | None,
            kind: Literal["code", "docs"] | None) -> list[dict[str, Any]]:
    if not query.strip():
        raise RagqaError("the query is empty")
    index = answerer.project(project)
    retriever = answerer.retriever_for(index.record)
    parsed = Query.parse(query[: answerer.settings.max_question_chars], answerer.settings.read_reports)
    retrieval = retriever.retrieve(index, parsed, _bounded(top_k, 50), Filters(path_prefix, kind))
    record = index.record
    return [{"path": passage.path, "start_line": passage.start_line, "end_line": passage.end_line,
             "url": permalink(record.web_url, record.commit, passage.path, passage.start_line,
                              passage.end_line),
             "title": title(passage.symbol, passage.heading), "score": round(passage.score, 4),
             "kind": passage.kind, "text": passage.text}
            for passage in retrieval.passages]


def _projects(answerer: Answerer) -> list[dict[str, Any]]:
    return [{"name": record.name, "web_url": record.web_url, "commit": record.commit,
             "chunks": record.chunk_count, "indexed_at": record.indexed_at.isoformat()}
            for record in answerer.registry.all()]


def _read(answerer: Answerer, project: str, path: str, start: int, end: int) -> dict[str, Any]:
    index = answerer.project(check_name(project))
    if path not in index.record.files:
        raise RagqaError(f"{path!r} is not a file of {index.record.name} (`search` or `find_symbol` "
                         "give paths that are)")
    if start < 1 or end < start or end - start + 1 > MAX_READ_LINES:
        raise RagqaError(f"lines must satisfy 1 ≤ start_line ≤ end_line, at most {MAX_READ_LINES} at once")
    text, last = index.read_lines(path, start, end)
    record = index.record
    return {"project": record.name, "commit": record.commit, "path": path, "start_line": start,
            "end_line": last, "url": permalink(record.web_url, record.commit, path, start, last),
            "text": text}


def _find(answerer: Answerer, project: str, name: str) -> list[dict[str, Any]]:
    index = answerer.project(check_name(project))
    record = index.record
    return [{"name": symbol.name, "kind": symbol.kind, "path": symbol.path, "start_line": symbol.start_line,
             "end_line": symbol.end_line,
             "url": permalink(record.web_url, record.commit, symbol.path, symbol.start_line, symbol.end_line)}
            for symbol in index.symbols.find(name)[:20]]


def _overview(answerer: Answerer, name: str) -> str:
    index = answerer.project(check_name(name))
    record = index.record
    readme = next((path for path in sorted(record.files, key=len) if path.lower().split("/")[-1]
                   .startswith("readme")), None)
    parts = [f"# {record.name}\n\n{record.web_url or record.source} @ {record.commit}\n"]
    if readme:
        parts.append(f"## {readme}\n\n{index.read_lines(readme, 1, MAX_READ_LINES)[0]}\n")
    parts.append("## Files\n\n" + "\n".join(f"- {path}" for path in sorted(record.files)))
    return "\n".join(parts) + "\n"



def _usages(answerer: Answerer, project: str, name: str,
            relation: Literal["references", "callers", "callees"], limit: int) -> dict[str, Any]:
    """The usages contract (`ragqa.answer.usages`) of `name`, checked like the other tools' input."""
    check_name(project)
    return answerer.usages(name, relation, project, _bounded_limit(limit)).model_dump(mode="json")


def _bounded_limit(value: int, most: int = 200) -> int:
    if not 1 <= value <= most:
        raise BadRequestError(f"limit must be between 1 and {most}")
    return value
