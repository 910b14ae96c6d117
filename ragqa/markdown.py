"""Reading Markdown as CommonMark does: which lines are code, where inline code spans are, and
how to fence a quote so that nothing inside it can close the fence.

Block structure comes from markdown-it-py (the parser rich renders with), so fences follow the
CommonMark rules — a fence closes only with the same character, at least as many of them as
opened it, so ```` … ``` … ```` is one block — and fences inside lists and quotes, indented
code blocks and unclosed fences are all handled as a renderer would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt

LineKind = Literal["fence", "code", "text"]
# An inline link `[text](target "title")` (or image), as CommonMark reads it: a backslash-escaped
# bracket (`\[`, `\]`) is text, so an escaped file name such as `a\](x)` never becomes a link.
MD_LINK = (r"(?P<image>!?)(?<!\\)\[(?P<text>(?:\\.|[^\]\\\n])*)\]"
           r"\((?P<target><[^>\n]*>|[^)\s]+)(?:\s+\"[^\"\n]*\")?\)")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
_LEADING_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark")


def line_kinds(markdown: str) -> list[LineKind]:
    """The kind of each line of `markdown` (split on LF): a `fence` line opening or closing a
    fenced block, `code` inside a fenced or indented block, or `text`.

    A line's kind depends only on the lines before it, so a stream can classify the lines it
    has completed and never revise them.
    """
    lines = markdown.split("\n")
    kinds: list[LineKind] = ["text"] * len(lines)
    for token in _parser().parse(markdown):
        if token.map is None or token.type not in ("fence", "code_block"):
            continue
        first, after = token.map
        for row in range(first, min(after, len(lines))):
            kinds[row] = "code"
        if token.type == "fence":
            kinds[first] = "fence"
            last = min(after, len(lines)) - 1
            if last > first and _closes(lines[last], token.markup):
                kinds[last] = "fence"
    return kinds


def _closes(line: str, markup: str) -> bool:
    """Whether `line` is a closing fence for a block opened with `markup`."""
    stripped = line.lstrip(" >")  # a fence inside a block quote keeps its quote markers
    return (stripped.startswith(markup[0] * len(markup))
            and not stripped.strip().strip(markup[0]))


def walk(markdown: str) -> Iterator[tuple[str, LineKind]]:
    """Each line with its kind (see `line_kinds`)."""
    yield from zip(markdown.split("\n"), line_kinds(markdown), strict=True)


def code_spans(line: str) -> list[tuple[str, bool]]:
    """`line` cut into pieces, each marked True when it is an inline code span.

    As CommonMark has it: a run of n backticks opens a span that the next run of exactly n
    backticks closes; a run with no partner is literal text.
    """
    pieces: list[tuple[str, bool]] = []
    position = 0
    runs = list(_BACKTICKS.finditer(line))
    index = 0
    while index < len(runs):
        opener = runs[index]
        closer = next((run for run in runs[index + 1:] if len(run.group()) == len(opener.group())),
                      None)
        if closer is None:
            index += 1
            continue
        if opener.start() > position:
            pieces.append((line[position:opener.start()], False))
        pieces.append((line[opener.start():closer.end()], True))
        position = closer.end()
        index = runs.index(closer) + 1
    if position < len(line) or not pieces:
        pieces.append((line[position:], False))
    return pieces


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run that starts a line of `text`, so the text
    can be quoted whole: no line inside it can close the fence."""
    longest = max((len(found.group(1)) for line in text.split("\n")
                   if (found := _LEADING_FENCE.match(line)) and found.group(1)[0] == "`"),
                  default=0)
    return "`" * max(3, longest + 1)


_LINK_SYNTAX = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)|!?\[([^\]\n]*)\]\[[^\]\n]*\]")
_AUTOLINK_OR_TAG = re.compile(r"<[^<>\n]*>")
_BARE_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+", re.IGNORECASE)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def plain_text(text: str) -> str:
    """Text from repo content (a heading, a title) made safe to show inside Markdown: link,
    image, autolink and HTML syntax reduced to their text, bare URLs dropped, and the characters
    Markdown gives a meaning escaped — so a heading can never become a link in an answer."""
    text = _LINK_SYNTAX.sub(lambda found: found.group(1) or found.group(2) or "", text)
    text = _AUTOLINK_OR_TAG.sub("", text)
    text = _BARE_URL.sub("", text)
    text = " ".join(text.split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def inline_code(text: str) -> str:
    """`text` as an inline code span, whatever backticks it holds (CommonMark's rule: a fence of
    more backticks than any run inside, padded when the text starts or ends with one)."""
    text = " ".join(text.split("\n"))
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
