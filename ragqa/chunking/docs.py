"""Heading-aware sections for Markdown and reStructuredText.

A section runs from its heading to the next heading of any level and carries its heading path
("User Guide > Timeouts"). A section that is only a heading joins the section after it; a long
section is cut at blank lines outside code fences.
"""

from __future__ import annotations

import re

from ragqa.chunking.base import Limits, Span, trim, windows

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RST_ADORNMENT = re.compile(r"""^([=\-~^"'`#*+.:_<>!$%&,;?@\\|/])\1{2,}[ \t]*$""")


def markdown_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(row, level, title) of every Markdown heading, skipping fenced code."""
    headings: list[tuple[int, int, str]] = []
    fence: str | None = None
    for row, line in enumerate(lines):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        atx = _ATX.match(line)
        if atx:
            headings.append((row, len(atx.group(1)), atx.group(2).strip()))
        elif (row + 1 < len(lines) and _SETEXT.match(lines[row + 1]) and line.strip()
              and not line.startswith((" " * 4, "\t", ">", "-", "*", "|"))):
            headings.append((row, 1 if lines[row + 1].strip()[0] == "=" else 2, line.strip()))
    return headings


def rst_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(row, level, title) of every reST section title; levels follow the order in which
    adornment styles first appear, as docutils does."""
    styles: list[tuple[str, bool]] = []
    headings: list[tuple[int, int, str]] = []
    row = 0
    while row + 1 < len(lines):
        title, under = lines[row], lines[row + 1]
        over = lines[row - 1] if row > 0 else ""
        if (title.strip() and not title[0].isspace() and _RST_ADORNMENT.match(under)
                and not _RST_ADORNMENT.match(title) and len(under.rstrip()) >= len(title.rstrip()) - 2):
            has_over = bool(_RST_ADORNMENT.match(over)) and over.strip()[0] == under.strip()[0]
            style = (under.strip()[0], has_over)
            if style not in styles:
                styles.append(style)
            start = row - 1 if has_over else row
            headings.append((start, styles.index(style) + 1, title.strip()))
            row += 2
            continue
        row += 1
    return headings


def section_spans(lines: list[str], language: str, limits: Limits) -> list[Span]:
    """Spans of a docs file: one per section (merged or cut to fit `limits`)."""
    finder = rst_headings if language == "rst" else markdown_headings
    headings = finder(lines)
    starts = [0] + [row for row, _, _ in headings if row > 0]
    paths = _heading_paths(headings)
    sections: list[Span] = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 1 if index + 1 < len(starts) else len(lines) - 1
        sections.append(Span(start, end, heading=paths.get(start, "")))
    return _fit(_merge_heading_only(sections, lines), lines, limits)


def _heading_paths(headings: list[tuple[int, int, str]]) -> dict[int, str]:
    stack: list[tuple[int, str]] = []
    paths: dict[int, str] = {}
    for row, level, title in headings:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        paths[row] = " > ".join(name for _, name in stack)
    return paths


def _merge_heading_only(sections: list[Span], lines: list[str]) -> list[Span]:
    merged: list[Span] = []
    carry: Span | None = None
    for section in sections:
        if carry is not None:
            section = Span(carry.start, section.end, heading=section.heading or carry.heading)
            carry = None
        content = [line for line in lines[section.start:section.end + 1] if line.strip()]
        if len(content) <= 2 and section is not sections[-1]:
            carry = section
            continue
        merged.append(section)
    if carry is not None:
        merged.append(carry)
    return merged


def _fit(sections: list[Span], lines: list[str], limits: Limits) -> list[Span]:
    spans: list[Span] = []
    for section in sections:
        trimmed = trim(lines, section)
        if trimmed is None:
            continue
        spans += [Span(start, end, heading=section.heading)
                  for start, end in windows(lines, trimmed.start, trimmed.end, limits)]
    return spans
