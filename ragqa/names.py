"""What a project name may be: checked at every door before a name reaches the store (kept
apart from the registry so the CLI's fast path checks names without loading the index)."""

from __future__ import annotations

import re

from ragqa.errors import BadRequestError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@/+-]{0,99}$")
NAME_RULE = "letters, digits and . _ - @ / + (starting with a letter or digit, 100 at most, no '..')"

__all__ = ["NAME_RULE", "check_name"]


def check_name(name: str) -> str:
    """`name` if it can be a project name; else a `BadRequestError` that says what a name is.
    Checked at every door (CLI options, HTTP bodies and paths, Slack's `project:`) before the
    name reaches the store."""
    if not _NAME.match(name) or ".." in name:
        shown = name if len(name) <= 60 else name[:60] + "…"
        raise BadRequestError(f"{shown.encode('unicode_escape').decode()!r} is not a project name: "
                              f"a name holds {NAME_RULE}")
    return name
