"""Heading-aware sections for Markdown (and MDX), reStructuredText and AsciiDoc.

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
_ADOC_TITLE = re.compile(r"^(={1,6}|#{1,6})[ \t]+(\S.*?)[ \t]*(?:[ \t]\1)?$")
# AsciiDoc delimited blocks (listing, literal, example, sidebar, passthrough, quote, comment):
# a line of four or more of one of these characters opens one, the same line closes it.
_ADOC_DELIMITER = re.compile(r"^(-{4,}|\.{4,}|={4,}|\*{4,}|\+{4,}|_{4,}|/{4,}|`{3,})[ \t]*$")
_FRONT_MATTER = re.compile(r"^(-{3}|\+{3})[ \t]*$")
_FRONT_MATTER_TITLE = re.compile(r"^title\s*[:=]\s*(\S.*?)\s*$")
_RST_ADORNMENT = re.compile(r"""^([=\-~^"'`#*+.:_<>!$%&,;?@\\|/])\1{2,}[ \t]*$""")


def markdown_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(row, level, title) of every Markdown heading, skipping fenced code."""
    headings: list[tuple[int, int, str]] = []
    fence: str | None = None
    body = front_matter_end(lines) + 1
    for row, line in enumerate(lines):
        if row < body:
            continue
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


def front_matter_end(lines: list[str]) -> int:
    """The row that closes a YAML (`---`) or TOML (`+++`) front matter block at the top of a
    Markdown or MDX file, or -1: its `title: …` line followed by `---` is not a heading."""
    if not lines or not _FRONT_MATTER.match(lines[0]):
        return -1
    marker = lines[0].strip()
    return next((row for row in range(1, len(lines)) if lines[row].strip() == marker), -1)


def front_matter_title(lines: list[str]) -> str:
    """The `title:` of a Markdown or MDX file's front matter (Docusaurus and Hugo pages often
    have no `#` heading), or ""."""
    end = front_matter_end(lines)
    for line in lines[1:end] if end > 0 else []:
        found = _FRONT_MATTER_TITLE.match(line)
        if found:
            return found.group(1).strip().strip("'\"").strip()
    return ""


def asciidoc_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(row, level, title) of every AsciiDoc section title (`= Document`, `== Section`, or the
    Markdown-style `#` form), skipping delimited blocks (`----` listings, `....` literals,
    `////` comments and the like)."""
    headings: list[tuple[int, int, str]] = []
    block: str | None = None
    for row, line in enumerate(lines):
        delimiter = _ADOC_DELIMITER.match(line)
        if block is not None:
            if delimiter and delimiter.group(1) == block:
                block = None
            continue
        if delimiter:
            block = delimiter.group(1)
            continue
        title = _ADOC_TITLE.match(line)
        if title and (row == 0 or not lines[row - 1].strip() or lines[row - 1].startswith(("[", ":"))):
            headings.append((row, len(title.group(1)), title.group(2).strip()))
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
    finder = {"rst": rst_headings, "asciidoc": asciidoc_headings}.get(language, markdown_headings)
    headings = finder(lines)
    title = front_matter_title(lines) if language == "markdown" else ""
    if title and not any(level == 1 for _, level, _ in headings):
        headings = [(0, 0, title), *headings]  # the page's title lives in its front matter
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
