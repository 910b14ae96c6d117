"""ragqa over the Model Context Protocol (the official `mcp` SDK): the codebase-knowledge tool of
coding agents, with the same guarantee as every other front door — every link is built by the
server, pinned to the indexed commit and to lines that exist.

`build_server(answerer)` makes the server: over stdio for `ragqa mcp` (what desktop agents
launch), and mounted at `/mcp` of the HTTP app (streamable HTTP, stateless) behind the same
tokens, rate limit and body limit as `/ask`. It only translates: each tool calls the `Answerer`
and returns its contract, and the server keeps serving whatever a client sends.

Errors are one readable line. A client's mistake — arguments of the wrong type or missing, an
unknown tool, project, file or resource, lines a file does not have — is the JSON-RPC error
−32602 (invalid params), the protocol's 4xx, naming what to fix; a failure of ragqa or its store
is a tool error (`is_error`) or −32603 for a resource, never a traceback.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import ValidationError

from ragqa import __version__
from ragqa.answer import Answerer
from ragqa.answer.render import title
from ragqa.errors import BadRequestError, RagqaError
from ragqa.links import permalink
from ragqa.names import check_name
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
    server = _Server(name="ragqa", version=__version__, instructions=INSTRUCTIONS)

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


class _Server(MCPServer):
    """The SDK's server, with a client's malformed call answered −32602 in one line."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        if self._tool_manager.get_tool(name) is None:
            tools = ", ".join(sorted(tool.name for tool in self._tool_manager.list_tools()))
            raise MCPError(INVALID_PARAMS, f"no tool named {_shown(name)}; the tools are {tools}")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            if isinstance(error.__cause__, ValidationError):
                raise MCPError(INVALID_PARAMS, f"{name}: {_invalid(error.__cause__)}") from None
            raise


async def _run(work: Callable[[], Result]) -> Result:
    """Run blocking ragqa work off the event loop; its errors become one line: −32602 for a
    client's mistake, a tool error for anything else."""
    try:
        return await anyio.to_thread.run_sync(work)
    except RagqaError as error:
        if _clients_fault(error):
            raise MCPError(INVALID_PARAMS, str(error)) from None
        raise ToolError(str(error)) from None
    except Exception as error:  # a bug: one line for the agent, never a traceback
        raise ToolError(f"internal error ({type(error).__name__})") from None


def _resource(work: Callable[[], Result]) -> Result:
    try:
        return work()
    except RagqaError as error:
        if _clients_fault(error):
            raise MCPError(INVALID_PARAMS, str(error)) from None
        raise ResourceError(str(error)) from None
    except Exception as error:  # a bug: one line, never a traceback
        raise ResourceError(f"internal error ({type(error).__name__})") from None


def _clients_fault(error: RagqaError) -> bool:
    from ragqa.api.errors import status_of  # the HTTP door's classification, one table for all

    return 400 <= status_of(error) < 500 and status_of(error) != 409


def _invalid(error: ValidationError) -> str:
    """A tool's argument errors in one line: `start_line: Input should be a valid integer`."""
    problems = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        problems.append(f"{where} is required" if item["type"] == "missing" else f"{where}: {item['msg']}")
    return "; ".join(dict.fromkeys(problems))


def _shown(text: str, most: int = 60) -> str:
    """A client's text quoted for a message: cut, escaped, never more than `most` characters."""
    cut = text if len(text) <= most else text[:most] + "…"
    return repr(cut.encode("unicode_escape").decode("ascii"))


def _bounded(value: int, most: int) -> int:
    if not 1 <= value <= most:
        raise BadRequestError(f"top_k must be between 1 and {most}")
    return value


def _search(answerer: Answerer, query: str, project: str | None, top_k: int, path_prefix: str | None,
            kind: Literal["code", "docs"] | None) -> list[dict[str, Any]]:
    if not query.strip():
        raise BadRequestError("the query is empty")
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
        raise BadRequestError(f"{_shown(path, 200)} is not a file of {index.record.name} (`search` or "
                              "`find_symbol` give paths that are)")
    if start < 1 or end < start or end - start + 1 > MAX_READ_LINES:
        raise BadRequestError(f"lines must satisfy 1 ≤ start_line ≤ end_line, at most {MAX_READ_LINES} "
                              "at once")
    text, last = index.read_lines(path, start, end)
    if last < start:  # nothing of the range exists: no text, and no link to lines that do not exist
        raise BadRequestError(f"{path} has {last} lines at the indexed commit; start_line {start} is past "
                              "its end")
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


def run_stdio(server: MCPServer) -> None:
    """Serve `server` over stdin/stdout, answering every line a client sends.

    The SDK's stdio transport drops a line it cannot parse (not JSON, not JSON-RPC, or text that
    is not valid Unicode such as a lone surrogate `"\\ud800"`) without a reply, and the client
    waits forever. Here each such line is answered with a JSON-RPC error naming the problem,
    under the line's id when it has one (−32700 parse error, −32602 for invalid text, −32600
    for a message of the wrong shape).
    """
    anyio.run(_serve_stdio, server)


async def _serve_stdio(server: MCPServer) -> None:
    from mcp.server.stdio import stdio_server

    lines = _Lines(_wire_stdin())
    async with stdio_server(stdin=lines) as (read_stream, write_stream):  # type: ignore[arg-type]
        answered = _Answered(read_stream, write_stream, lines.read)
        lowlevel = server._lowlevel_server  # what MCPServer.run("stdio") runs, with our read stream
        await lowlevel.run(answered, write_stream, lowlevel.create_initialization_options())


def _wire_stdin() -> Any:
    """The protocol's stdin as UTF-8 text; fd 0 then points at the null device, so a child
    process (git) never reads the protocol."""
    import io
    import os

    wire = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return anyio.wrap_file(io.TextIOWrapper(os.fdopen(wire, "rb"), encoding="utf-8", errors="replace"))


class _Lines:
    """stdin's lines, each remembered until the message made of it is taken (one item a line)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.read: deque[str] = deque()

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self.stream.readline()
        if not line:
            raise StopAsyncIteration
        self.read.append(line)
        return str(line)


class _Answered:
    """The transport's read stream, with the lines it could not parse answered, not passed on."""

    def __init__(self, inner: Any, write: Any, lines: deque[str]) -> None:
        self.inner, self.write, self.lines = inner, write, lines

    @property
    def last_context(self) -> Any:
        return getattr(self.inner, "last_context", None)

    async def receive(self) -> Any:
        while True:
            item = await self.inner.receive()
            line = self.lines.popleft() if self.lines else ""
            if not isinstance(item, Exception):
                return item
            reply = _parse_error(line)
            if reply is not None:
                await self.write.send(reply)

    def __aiter__(self) -> _Answered:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> _Answered:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _parse_error(line: str) -> Any:
    """The JSON-RPC error for a line the transport could not read (None for a notification)."""
    from mcp.shared.message import SessionMessage
    from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError

    try:
        message = json.loads(line)
    except RecursionError:
        code, text, ident = PARSE_ERROR, "the message is nested too deeply", None
    except ValueError as error:
        code, text, ident = PARSE_ERROR, f"the message is not JSON ({error}): send one JSON-RPC " \
                                         "object a line", None
    else:
        ident = message.get("id") if isinstance(message, dict) else None
        ident = ident if isinstance(ident, str | int) and not isinstance(ident, bool) else None
        if isinstance(message, dict) and "method" in message and "id" not in message:
            return None  # a notification is never answered, not even to say it is malformed
        if _has_surrogate(message):
            code, text = INVALID_PARAMS, "the message holds text that is not Unicode (a lone surrogate " \
                                         "such as \\ud800); send UTF-8 text"
        else:
            code, text = INVALID_REQUEST, "the message is not a JSON-RPC 2.0 request (jsonrpc, id, " \
                                          "method, params)"
    return SessionMessage(JSONRPCError(jsonrpc="2.0", id=ident, error=ErrorData(code=code, message=text)))


def _has_surrogate(data: Any) -> bool:
    """Whether a lone surrogate is anywhere in `data` (iterative: no recursion on deep input)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= char <= "\udfff" for char in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
