"""One logging configuration for every ragqa server process (`ragqa serve`, `ragqa mcp`, the app
a test builds): whatever a library installs — the MCP SDK puts a Rich handler on the root logger,
uvicorn its own handlers on its loggers — every record goes through one handler on stderr.

Plain text by default (`time level logger: message`), one JSON object a line with
`RAGQA_LOG_FORMAT=json`. A log line never costs more than linear time in what a client sent and
never echoes it unbounded: the message is cut to `MAX_MESSAGE_CHARS` and control characters are
escaped (no markup, no highlighting, no terminal escapes from a request reaching the log).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

MAX_MESSAGE_CHARS = 2_000
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "mcp", "httpx")
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7f) if code not in (0x09,)}
_CONTROL.update({0x0a: "\\n", 0x0d: "\\r"})


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to `limit` characters (saying how much was left out), control characters and
    lone surrogates escaped so one record stays one line of valid UTF-8."""
    cut = text[:limit].translate(_CONTROL).encode("utf-8", "backslashreplace").decode("utf-8")[:limit]
    return cut if len(text) <= limit and len(cut) < limit else f"{cut}… [{len(text):,} characters in all]"


class _Bounded(logging.Formatter):
    """Formats a record's message (and traceback) bounded; `json` for one object a line."""

    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        message = bounded(record.getMessage())
        trace = self.formatException(record.exc_info) if record.exc_info else ""
        when = datetime.fromtimestamp(record.created, UTC)
        if self.as_json:
            entry = {"time": when.isoformat(timespec="milliseconds"), "level": record.levelname.lower(),
                     "logger": record.name, "message": message}
            if trace:
                entry["traceback"] = trace[-20 * MAX_MESSAGE_CHARS:]
            return json.dumps(entry, ensure_ascii=False)
        line = f"{when:%Y-%m-%d %H:%M:%S} {record.levelname:<7} {record.name}: {message}"
        return f"{line}\n{trace[-20 * MAX_MESSAGE_CHARS:]}" if trace else line


class RagqaHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler of a ragqa server process (recognised so configuring twice replaces it)."""


def configure(log_format: Literal["plain", "json"] = "plain", level: int = logging.INFO) -> None:
    """Route every record of the process through one bounded handler on stderr: replaces the
    handlers libraries installed on the root logger (handlers of a test harness are kept) and
    makes uvicorn's and the MCP SDK's loggers propagate to it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, RagqaHandler) or _installed_by_library(handler):
            root.removeHandler(handler)
    handler = RagqaHandler(sys.stderr)
    handler.setFormatter(_Bounded(log_format == "json"))
    root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per outgoing request is noise


def _installed_by_library(handler: logging.Handler) -> bool:
    """A handler some library put on the root logger: Rich's, or a plain stream handler
    (`logging.basicConfig`). pytest's capturing handlers are neither."""
    kind = type(handler)
    return kind.__module__.startswith("rich.") or kind in (logging.StreamHandler,)
