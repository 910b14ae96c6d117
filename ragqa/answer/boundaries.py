"""Where a quote may start and end, and what the quoted lines are called.

A quote starts and ends at a boundary, never mid-sentence:
- in docs, a paragraph (lines between blank ones), a list item, a heading or a whole code
  example;
- in code, a definition (its decorators and the comments just above it), or a run of
  statements between blank lines; a line that continues the one before (`)`, `.method()`, an
  argument after a trailing comma) is never a start.

The window chosen by `ragqa.answer.extractive` is widened to the nearest boundaries while it
stays within `MAX_EXCERPT_LINES`; when the paragraph or block is longer than that, the window
is cut back to the last boundary inside it (else the last line that ends a sentence), so the
quote stays inside its size budget. Rows are 0-based indexes into a passage's lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

MAX_EXCERPT_LINES = 24
MAX_CLIMB = 10  # rows a start may move up to reach its paragraph's or statement's start
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d{1,3}[.)]|#\.)\s+\S")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(\s+#+)?\s*$")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_DEFINITION = re.compile(r"^\s*(@|async\s+def\b|def\b|class\b|func\b|fn\b|pub\b|function\b|export\b|"
                         r"public\b|private\b|protected\b|static\b|interface\b|type\b|struct\b|enum\b|"
                         r"impl\b|trait\b|module\b|const\b|let\b|var\b)")
_COMMENT = re.compile(r"^\s*(#|//|/\*|\*|--)")
_CONTINUES = re.compile(r"([(\[{,\\]|\b(and|or|not|in)|[-+*/%|&=<>])\s*$")
_CONTINUATION = re.compile(r"^\s*([)\]}.]|and\b|or\b|\+|-(?!-)|\*(?!\*)|/|\?|:(?!:))")
_REST_TARGET = re.compile(r"^\.\. _[^:]*:\s*\S*\s*$")
_Boundary = Callable[[Sequence[str], int, AbstractSet[int]], bool]
_SENTENCE_END = re.compile(r"[.!?:;]\s*$|[.!?]\*{0,2}[)\"']?\s*$")


def heading_at(lines: Sequence[str], row: int, code_rows: AbstractSet[int] = frozenset()) -> str | None:
    """The text of the heading that starts at `row` (Markdown ATX, or a reST title with its
    underline), else None; rows of code examples are never headings."""
    if row in code_rows:
        return None
    found = _ATX.match(lines[row])
    if found:
        return found.group(2).strip()
    text = lines[row].strip()
    if text and not lines[row][:1].isspace() and row + 1 < len(lines) and row + 1 not in code_rows:
        underline = _UNDERLINE.match(lines[row + 1])
        if underline and len(lines[row + 1].rstrip()) >= min(len(text), 3) and not _UNDERLINE.match(text):
            return text
    return None


def heading_above(lines: Sequence[str], row: int, code_rows: AbstractSet[int] = frozenset()) -> str | None:
    """The innermost heading at or above `row`, within these lines (None if there is none)."""
    for above in range(min(row, len(lines) - 1), -1, -1):
        found = heading_at(lines, above, code_rows)
        if found is not None:
            return found
    return None


def to_boundaries(lines: Sequence[str], first: int, last: int, kind: str,
                  blocks: Sequence[tuple[int, int]] = ()) -> tuple[int, int]:
    """`first`–`last` widened (or cut) to the nearest boundaries, within `MAX_EXCERPT_LINES`."""
    is_start, is_end = (_code_start, _code_end) if kind == "code" else (_docs_start, _docs_end)
    code_rows = {row for start, end in blocks for row in range(start, end + 1)}
    top = first
    while top > 0 and first - top < MAX_CLIMB and not is_start(lines, top, code_rows):
        top -= 1
    if is_start(lines, top, code_rows):
        first = top  # a whole start matters more than the window's tail: the end is cut back below
        last = min(last, first + MAX_EXCERPT_LINES - 1)
    if kind == "code":
        first = _with_doc_comment(lines, first, last)
    first, last = _end_at_boundary(lines, first, last, is_end, code_rows)
    if kind != "code":
        first, last = _without_loose_ends(lines, first, last, code_rows)
    return first, last


def _end_at_boundary(lines: Sequence[str], first: int, last: int, is_end: _Boundary,
                     code_rows: AbstractSet[int]) -> tuple[int, int]:
    bottom = last
    while bottom + 1 < len(lines) and not is_end(lines, bottom, code_rows) \
            and bottom - first + 1 < MAX_EXCERPT_LINES:
        bottom += 1
    if is_end(lines, bottom, code_rows):
        return first, bottom
    inside = [row for row in range(last, first, -1) if is_end(lines, row, code_rows)]
    if inside:
        return first, inside[0]
    sentence = [row for row in range(last, first, -1)
                if row not in code_rows and _SENTENCE_END.search(lines[row])]
    return first, sentence[0] if sentence else last


def _without_loose_ends(lines: Sequence[str], first: int, last: int,
                        code_rows: AbstractSet[int]) -> tuple[int, int]:
    """Drop what belongs to the next section from the end of a docs quote — its heading, a reST
    link target (`.. _name:`) — and such a target from the start."""
    def loose(row: int) -> bool:
        return row not in code_rows and (not lines[row].strip() or bool(_REST_TARGET.match(lines[row])))

    while last > first and (loose(last) or heading_at(lines, last, code_rows) is not None or (
            _UNDERLINE.match(lines[last]) and heading_at(lines, last - 1, code_rows) is not None)):
        last -= 1 if not _UNDERLINE.match(lines[last]) or loose(last) else 2
    while first < last and loose(first):
        first += 1
    return first, max(first, last)


def _with_doc_comment(lines: Sequence[str], first: int, last: int) -> int:
    """`first` moved up over the comment lines and decorators just above a definition there."""
    if not _DEFINITION.match(lines[first]):
        return first
    top = first
    while top > 0 and (_COMMENT.match(lines[top - 1]) or lines[top - 1].lstrip().startswith("@")) \
            and last - top + 2 <= MAX_EXCERPT_LINES:
        top -= 1
    return top


def _blank(lines: Sequence[str], row: int) -> bool:
    return not lines[row].strip()


def _docs_start(lines: Sequence[str], row: int, code_rows: AbstractSet[int]) -> bool:
    if _blank(lines, row):
        return False
    if row == 0 or _blank(lines, row - 1) or heading_at(lines, row, code_rows) is not None:
        return True
    prose = not lines[row][:1].isspace() and not lines[row].lstrip().startswith(("```", "~~~", ">>>", ".. "))
    if row in code_rows and not prose:  # (a reST block's first row is the prose line ending "::")
        return row - 1 not in code_rows
    above = lines[row - 1]
    return bool(_LIST_ITEM.match(lines[row])) or bool(_ATX.match(above)) or bool(_UNDERLINE.match(above)) \
        or row - 1 in code_rows


def _docs_end(lines: Sequence[str], row: int, code_rows: AbstractSet[int]) -> bool:
    if row + 1 >= len(lines) or _blank(lines, row + 1):
        return not _blank(lines, row) or row + 1 >= len(lines)
    if row in code_rows:
        return row + 1 not in code_rows
    if heading_at(lines, row, code_rows) is not None and not _ATX.match(lines[row]):
        return False  # a reST title ends with its underline
    below = row + 1
    return bool(_LIST_ITEM.match(lines[below])) or heading_at(lines, below, code_rows) is not None \
        or below in code_rows


def _code_start(lines: Sequence[str], row: int, code_rows: AbstractSet[int]) -> bool:
    line = lines[row]
    if _blank(lines, row) or _CONTINUATION.match(line):
        return False
    if row == 0:
        return True
    above = lines[row - 1]
    if _CONTINUES.search(above.split("#", 1)[0] if not _COMMENT.match(above) else ""):
        return False
    if _blank(lines, row - 1):
        return True
    if _DEFINITION.match(line) and not above.lstrip().startswith("@") and not _COMMENT.match(above):
        return True
    return bool(_COMMENT.match(line)) and not _COMMENT.match(above)


def _code_end(lines: Sequence[str], row: int, code_rows: AbstractSet[int]) -> bool:
    if _blank(lines, row):
        return False
    if row + 1 >= len(lines):
        return True
    if _CONTINUES.search(lines[row]) and not _COMMENT.match(lines[row]):
        return False
    below = lines[row + 1]
    if _CONTINUATION.match(below):
        return False
    next_definition = bool(_DEFINITION.match(below)) and _indent(below) <= _indent(lines[row])
    return _blank(lines, row + 1) or (next_definition and _code_start(lines, row + 1, code_rows))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
