"""A ragqa server asked over HTTP with the same calls as the in-process `Answerer`, and the
`server.json` by which `ragqa serve` tells the CLI of the same storage folder where it listens.

This module is the CLI's fast path: it imports the standard library's HTTP client and the
contract models only (never chromadb, onnxruntime, numpy, httpx or the web stack), so
`ragqa ask` through a running server starts in a blink. A server of another ragqa version is
not used (its contract may differ); a file whose process is gone, or whose address refuses
connections, is stale and removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException, RemoteDisconnected
from pathlib import Path
from typing import Any

from ragqa.contract import Answer, AnswerEvent, Location, Source
from ragqa.errors import RagqaError

SERVER_FILE = "server.json"
_STALE_CONNECTION = (ConnectionResetError, RemoteDisconnected, BrokenPipeError)


class ServerUnreachableError(RagqaError):
    """Nothing answers at the server's address (refused, reset, timed out before any answer)."""

    code = "server_unreachable"


class RemoteAnswerer:
    """`ask`, `stream` and `locate` answered by a ragqa server over one kept-alive connection.

    Built on the standard library's `http.client`, not httpx: importing httpx and building its
    TLS context cost a fresh `ragqa ask` about 0.2 s, more than the server takes to answer."""

    def __init__(self, server: str, token: str | None, timeout: float = 120.0) -> None:
        from urllib.parse import urlsplit

        self.server = server.rstrip("/")
        parts = urlsplit(self.server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RagqaError(f"{server!r} is not a server address (http://host:port)")
        self._parts = parts
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         **({"Authorization": f"Bearer {token}"} if token else {})}
        self._connection: Any = None

    def ask(self, question: str, project: str | list[str] | None = None, top_k: int | None = None,
            path_prefix: str | None = None, only: str | None = None) -> Answer:
        """`project` as `POST /ask` takes it: a name, several names, or `"*"`."""
        response = self._post("/ask", _body(question=question, project=project, top_k=top_k,
                                            path_prefix=path_prefix, only=only))
        return Answer.model_validate_json(response.read())

    def locate(self, text: str, project: str | None = None, top_k: int | None = None,
               path_prefix: str | None = None) -> Location:
        """`POST /locate` for one project (or the default one)."""
        response = self._post("/locate", _body(text=text, project=project, top_k=top_k,
                                               path_prefix=path_prefix))
        return Location.model_validate_json(response.read())

    def stream(self, question: str, project: str | list[str] | None = None, top_k: int | None = None,
               path_prefix: str | None = None, only: str | None = None) -> Iterator[AnswerEvent]:
        """The answer's Server-Sent Events as `AnswerEvent`s. The request is made before the
        first event is yielded, so a refused or failed request raises before any output."""
        body = _body(question=question, project=project, top_k=top_k, path_prefix=path_prefix,
                     only=only, stream=True)
        response = self._post("/ask", body, {"Accept": "text/event-stream"})
        return _events(response, self)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """The response, once its status is 200; a failed request raises `RagqaError` (nothing
        reached the server: `ServerUnreachableError`)."""
        payload = json.dumps(body).encode()
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more
            connection = self._connect()
            try:
                connection.request("POST", self._parts.path + path, payload,
                                   {**self._headers, **(headers or {})})
                response = connection.getresponse()
                break
            except (OSError, HTTPException) as error:
                self.close()
                if attempt == 2 or not isinstance(error, _STALE_CONNECTION):
                    raise ServerUnreachableError(f"cannot reach {self.server}: {_reason(error)}") from error
        if response.status != 200:
            text = response.read()
            raise RagqaError(f"{self.server}{path} answered HTTP {response.status}: {_error_text(text)}")
        return response

    def _connect(self) -> Any:
        if self._connection is None:
            from http.client import HTTPConnection, HTTPSConnection

            kind = HTTPSConnection if self._parts.scheme == "https" else HTTPConnection
            self._connection = kind(self._parts.hostname or "", self._parts.port, timeout=self._timeout)
        return self._connection


def _body(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _events(response: Any, remote: RemoteAnswerer) -> Iterator[AnswerEvent]:
    """SSE frames (`event:` and `data:` lines, a blank line ends one) as answer events."""
    kind, data = "", ""
    try:
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and kind:
                yield _event(kind, json.loads(data or "{}"))
                kind, data = "", ""
    except (OSError, HTTPException) as error:
        raise RagqaError(f"the server stopped answering: {_reason(error)}") from error
    finally:
        response.close()
        remote.close()  # a stream read to its end leaves nothing to reuse


def _event(kind: str, data: dict[str, Any]) -> AnswerEvent:
    if kind == "sources":
        return AnswerEvent("sources", sources=[Source.model_validate(s) for s in data["sources"]])
    if kind == "delta":
        return AnswerEvent("delta", text=str(data.get("text", "")))
    if kind == "done":
        return AnswerEvent("done", answer=Answer.model_validate(data))
    message = data.get("error", {}).get("message", "the server failed") if kind == "error" else kind
    raise RagqaError(f"the server stopped answering: {message}")


def _error_text(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return " ".join(body.decode("utf-8", "replace").split())[:200]


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class Discovered:
    """The server to use, or None and why not (for `-v`)."""

    url: str | None
    why: str


def server_file(storage_dir: Path) -> Path:
    return storage_dir / SERVER_FILE


def advertise(storage_dir: Path, url: str) -> Path:
    """Write `server.json` ({url, pid, version, started}) atomically: a reader never sees half."""
    from ragqa import __version__

    record = {"url": url, "pid": os.getpid(), "version": __version__,
              "started": datetime.now(UTC).isoformat(timespec="seconds")}
    storage_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=storage_dir, prefix=".server.", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(record, file)
    os.replace(temporary, server_file(storage_dir))
    return server_file(storage_dir)


def withdraw(storage_dir: Path) -> None:
    """Remove `server.json` if it is this process's (another server may have taken over)."""
    path = server_file(storage_dir)
    if _read(path).get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def discover(storage_dir: Path, configured: str | None) -> Discovered:
    """RAGQA_SERVER when set ('off' disables), else the live server advertised in `storage_dir`."""
    if configured and configured.strip().lower() == "off":
        return Discovered(None, "RAGQA_SERVER=off")
    if configured:
        return Discovered(configured.strip(), "RAGQA_SERVER")
    path = server_file(storage_dir)
    record = _read(path)
    if not record:
        return Discovered(None, f"no running server advertised in {path}")
    from ragqa import __version__

    pid, url = record.get("pid"), record.get("url")
    if not isinstance(pid, int) or not isinstance(url, str) or not _alive(pid):
        forget(storage_dir, url)
        return Discovered(None, f"{path} was stale (process {pid} is gone); removed it")
    if record.get("version") != __version__:
        return Discovered(None, f"the server at {url} runs ragqa {record.get('version')}, "
                                f"this is {__version__}")
    return Discovered(url, f"the server advertised in {path} (pid {pid})")


def forget(storage_dir: Path, url: str | None) -> None:
    """Remove a stale `server.json` (only if it still names `url`: a new server may have written it)."""
    path = server_file(storage_dir)
    if _read(path).get("url") == url:
        with contextlib.suppress(OSError):
            path.unlink()


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _alive(pid: int) -> bool:
    if pid <= 0:  # 0 and negatives name process groups, never a server
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
