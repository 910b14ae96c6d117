"""Walking Markdown line by line, knowing which lines are code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
LineKind = Literal["fence", "code", "text"]


def walk(markdown: str) -> Iterator[tuple[str, LineKind]]:
    """Each line with what it is: a `fence` opening or closing a code block, `code` inside one,
    or `text`."""
    fence = ""
    for line in markdown.split("\n"):
        opened = FENCE.match(line)
        if opened:
            marker = opened.group(1)[0] * 3
            fence = "" if fence == marker else fence or marker
            yield line, "fence"
        else:
            yield line, "code" if fence else "text"
