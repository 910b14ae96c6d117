"""A ragqa server asked over HTTP with the same calls as the in-process `Answerer`, and the
`server.json` by which `ragqa serve` tells the CLI of the same storage folder where it listens.

This module is the CLI's fast path: it imports httpx and the contract models only — never
chromadb, onnxruntime, numpy or the web stack — so `ragqa ask` through a running server starts in
a blink. A server of another ragqa version is not used (its contract may differ); a file whose
process is gone, or whose address refuses connections, is stale and removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragqa.contract import Answer, AnswerEvent, Location, Source
from ragqa.errors import RagqaError

SERVER_FILE = "server.json"


class ServerUnreachableError(RagqaError):
    """Nothing answers at the server's address (refused, reset, timed out before any answer)."""

    code = "server_unreachable"


class RemoteAnswerer:
    """`ask`, `stream` and `locate` answered by a ragqa server over one HTTP connection pool."""

    def __init__(self, server: str, token: str | None, timeout: float = 120.0) -> None:
        import httpx

        self.server = server.rstrip("/")
        self._client = httpx.Client(base_url=self.server, timeout=timeout, trust_env=False,
                                    headers={"Authorization": f"Bearer {token}"} if token else {})

    def ask(self, question: str, project: str | list[str] | None = None, top_k: int | None = None,
            path_prefix: str | None = None, only: str | None = None) -> Answer:
        """`project` as `POST /ask` takes it: a name, several names, or `"*"`."""
        response = self._post("/ask", _body(question=question, project=project, top_k=top_k,
                                            path_prefix=path_prefix, only=only))
        return Answer.model_validate_json(response.content)

    def locate(self, text: str, project: str | None = None, top_k: int | None = None,
               path_prefix: str | None = None) -> Location:
        """`POST /locate` for one project (or the default one)."""
        response = self._post("/locate", _body(text=text, project=project, top_k=top_k,
                                               path_prefix=path_prefix))
        return Location.model_validate_json(response.content)

    def stream(self, question: str, project: str | list[str] | None = None, top_k: int | None = None,
               path_prefix: str | None = None, only: str | None = None) -> Iterator[AnswerEvent]:
        """The answer's Server-Sent Events as `AnswerEvent`s. The request is made before the
        first event is yielded, so a refused or failed request raises before any output."""
        import httpx

        body = _body(question=question, project=project, top_k=top_k, path_prefix=path_prefix,
                     only=only, stream=True)
        request = self._client.build_request("POST", "/ask", json=body,
                                             headers={"Accept": "text/event-stream"})
        try:
            response = self._client.send(request, stream=True)
        except httpx.TransportError as error:
            raise ServerUnreachableError(f"cannot reach {self.server}: {error}") from error
        if response.status_code != 200:
            response.read()
            response.close()
            raise RagqaError(f"{self.server}/ask answered HTTP {response.status_code}: "
                             f"{_error_text(response)}")
        return _events(response)

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        import httpx

        try:
            response = self._client.post(path, json=body)
        except httpx.TransportError as error:
            raise ServerUnreachableError(f"cannot reach {self.server}: {error}") from error
        if response.status_code != 200:
            raise RagqaError(f"{self.server}{path} answered HTTP {response.status_code}: "
                             f"{_error_text(response)}")
        return response


def _body(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _events(response: Any) -> Iterator[AnswerEvent]:
    """SSE frames (`event:` and `data:` lines, a blank line ends one) as answer events."""
    import httpx

    kind, data = "", ""
    try:
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and kind:
                yield _event(kind, json.loads(data or "{}"))
                kind, data = "", ""
    except httpx.TransportError as error:
        raise RagqaError(f"the server stopped answering: {error}") from error
    finally:
        response.close()


def _event(kind: str, data: dict[str, Any]) -> AnswerEvent:
    if kind == "sources":
        return AnswerEvent("sources", sources=[Source.model_validate(s) for s in data["sources"]])
    if kind == "delta":
        return AnswerEvent("delta", text=str(data.get("text", "")))
    if kind == "done":
        return AnswerEvent("done", answer=Answer.model_validate(data))
    message = data.get("error", {}).get("message", "the server failed") if kind == "error" else kind
    raise RagqaError(f"the server stopped answering: {message}")


def _error_text(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return " ".join(response.text.split())[:200]


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
