"""The offline answer's choice of lines: for each of the best sources, the lines that answer.
`ragqa.answer.render` composes them into the answer.

Which lines to quote: each line scores by the (rarity-weighted) question terms it holds; a
line that defines a name the question asks about, and the lines of a code example in a docs
page, count extra. The best window of `EXCERPT_LINES` is then widened or shifted so that it
does not cut an example in half and starts at the heading or definition just above it, and
finally moved to the boundaries of what it quotes (`ragqa.answer.boundaries`: a paragraph, a list
item, a definition — never mid-sentence).

Inside a page, a heading that holds one of the question's own words exactly (`HTTPS`, not the
`HTTP` that stems alike) scores extra, so its section wins over a sibling; a line that defines
an option the question names (`timeout_keep_alive: int = 5`, `"--timeout-keep-alive"`) counts as
a definition, ahead of code that merely reads the option.

A quote is labelled by the lines it quotes: in code, the innermost definition that holds its
first line (from the symbol table), in docs the nearest heading above it — not the first symbol
or heading of the chunk the lines came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ragqa.answer import render
from ragqa.answer.boundaries import MAX_EXCERPT_LINES, heading_above, heading_at, to_boundaries
from ragqa.index.lexical import tokenize
from ragqa.index.symbols import Symbol, defines_option
from ragqa.markdown import line_kinds
from ragqa.query import Query
from ragqa.retrieve import Passage

__all__ = ["MAX_EXCERPT_LINES", "Excerpt", "best_lines", "example_blocks", "excerpt"]
EXCERPT_LINES = 12
SECTION_FACTOR = 2.0  # a section whose heading holds a word of the question as written
QUOTED_SOURCES = 3
DEFINITION_BONUS = 3.0  # × the best term score: the defining line of a named symbol
HIT_SHARE = 0.3  # a line scoring less than this share of the best one is context, not a match
EXAMPLE_FACTOR = 1.5  # terms in a docs page's code example count this much more
_RST_LITERAL = re.compile(r"::\s*$|^\s*\.\. (code-block|code|sourcecode|doctest)::")
_HEADING_LINE = re.compile(r"^\s{0,3}#{1,6}\s|^[=\-~^\"'`#*+]{3,}\s*$|^={1,6}\s+\S")  # ATX, reST, AsciiDoc
_ADOC_LISTING = re.compile(r"^(-{4,}|\.{4,}|`{3,})\s*$")
_DEFINITION_LINE = re.compile(r"^\s*(@|async\s+def\b|def\b|class\b|func\b|fn\b|pub\b|function\b|"
                              r"export\b|public\b|private\b|protected\b|static\b|interface\b|type\b|"
                              r"struct\b|enum\b|impl\b|trait\b|module\b|const\b|let\b|var\b)")


@dataclass(frozen=True)
class Excerpt:
    """Lines `start_line`–`end_line` of a source, as quoted in the answer."""

    path: str
    start_line: int
    end_line: int
    text: str
    language: str
    title: str  # safe Markdown: the symbol (as code) or heading (as text) of the quoted part


def excerpt(passage: Passage, query: Query, weight: Callable[[str], float],
            definitions: Sequence[int] = (), symbols: Sequence[Symbol] = ()) -> Excerpt:
    """The lines of `passage` that best answer `query`; `definitions` are the (file) line numbers
    where names the question mentions are defined, `symbols` the definitions of the passage's
    file (they label a quote of code)."""
    start, end = best_lines(passage, query, weight, definitions)
    symbol, heading = label_of(passage, start, end, symbols)
    title = render.title(symbol, heading)
    return Excerpt(passage.path, start, end, passage.lines(start, end), passage.language, title)


def label_of(passage: Passage, start: int, end: int, symbols: Sequence[Symbol] = ()) -> tuple[str, str]:
    """(symbol, heading) of file lines `start`–`end` of `passage`: the innermost definition
    holding the first line (or starting within the first three lines: a quote may open with
    its decorator or doc comment), else the nearest heading above them, else the chunk's."""
    part = passage.part_at(start, end)
    if passage.kind == "code":
        holding = [s for s in symbols if s.start_line <= start <= s.end_line or start <= s.start_line <= min(
            end, start + 3)]
        if holding:
            best = min(holding, key=lambda s: s.end_line - s.start_line)
            opening = [s for s in holding if s.start_line >= start]
            best = min(opening, key=lambda s: s.start_line) if opening else best
            return best.name, ""
        return (part.symbol, part.heading) if part else ("", "")
    lines = passage.text.split("\n")
    blocks = example_blocks(lines, passage.language)
    code_rows = {row for first, last in blocks for row in range(first, last + 1)}
    heading = heading_above(lines, start - passage.start_line, code_rows)
    if heading is not None:
        return "", heading
    return ("", part.heading) if part else ("", "")


def best_lines(passage: Passage, query: Query, weight: Callable[[str], float],
               definitions: Sequence[int] = (), size: int = EXCERPT_LINES) -> tuple[int, int]:
    """The file lines (1-based, inclusive) of the window to quote from `passage`."""
    lines = passage.text.split("\n")
    blocks = example_blocks(lines, passage.language) if passage.kind != "code" else []
    scores = _line_scores(lines, query, weight, blocks,
                          [line - passage.start_line for line in definitions], passage.kind != "code")
    first, last = _tighten(lines, scores, _best_window(scores, size), size, passage.kind)
    if passage.kind != "code":
        first, last = _inside_matching_section(lines, scores, query, blocks, first, last)
    first, last = _keep_examples_whole(first, last, blocks)
    first, last = to_boundaries(lines, first, last, passage.kind, blocks)
    while first < last and not lines[first].strip():
        first += 1
    while last > first and not lines[last].strip():
        last -= 1
    return passage.start_line + first, passage.start_line + last


def _line_scores(lines: list[str], query: Query, weight: Callable[[str], float],
                 blocks: list[tuple[int, int]], definitions: list[int], docs: bool = False) -> list[float]:
    terms = set(query.terms)
    scores = [sum(weight(term) for term in terms & line_terms(line)) for line in lines]
    in_example = {row for start, end in blocks for row in range(start, end + 1)}
    scores = [score * EXAMPLE_FACTOR if row in in_example else score for row, score in enumerate(scores)]
    top = max(scores, default=0.0) or 1.0
    for row in definitions:
        if 0 <= row < len(scores):
            scores[row] += DEFINITION_BONUS * top
    for row in _option_definitions(lines, query.names):
        scores[row] += DEFINITION_BONUS * top
    return _favour_matching_sections(lines, scores, query, blocks) if docs else scores


@lru_cache(maxsize=32_768)
def line_terms(line: str) -> frozenset[str]:
    """The BM25 terms of one line of a quoted file. Kept (about 10 MB at most) because a server
    quotes the same passages again and again, and tokenizing every line of each was a tenth of
    an extractive answer's CPU time (docs/scale.md)."""
    return frozenset(tokenize(line))


def _favour_matching_sections(lines: list[str], scores: list[float], query: Query,
                              blocks: list[tuple[int, int]]) -> list[float]:
    """Scores of the sections whose heading holds a word of the question as written × `SECTION_FACTOR`."""
    for start, end in _matching_sections(lines, query, blocks):
        for row in range(start, end + 1):
            scores[row] *= SECTION_FACTOR
    return scores


def _inside_matching_section(lines: list[str], scores: list[float], query: Query,
                             blocks: list[tuple[int, int]], first: int, last: int) -> tuple[int, int]:
    """The window kept inside the matching section that holds its best line (so `## HTTPS`
    is not quoted together with the `## HTTP` section above it)."""
    strongest = max(range(first, last + 1), key=scores.__getitem__)
    for start, end in _matching_sections(lines, query, blocks):
        if start <= strongest <= end:
            return max(first, start), min(last, end)
    return first, last


def _matching_sections(lines: list[str], query: Query,
                       blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Rows (first, last) of the sections whose heading holds a word of the question as written."""
    code_rows = {row for start, end in blocks for row in range(start, end + 1)}
    headings = [(row, heading) for row in range(len(lines))
                if (heading := heading_at(lines, row, code_rows)) is not None]
    found = []
    for number, (row, heading) in enumerate(headings):
        if query.words & set(re.findall(r"[a-z0-9]+", heading.lower())):
            end = headings[number + 1][0] - 1 if number + 1 < len(headings) else len(lines) - 1
            found.append((row, end))
    return found


def _option_definitions(lines: list[str], names: Sequence[str]) -> list[int]:
    """Rows that define an option the question names (`ragqa.index.symbols.defines_option`)."""
    return [row for row, line in enumerate(lines) if any(defines_option(line, name) for name in names)]


def _best_window(scores: list[float], size: int) -> int:
    """The first row of the `size`-line window with the highest total (the earliest on ties)."""
    if len(scores) <= size:
        return 0
    window = best_score = sum(scores[:size])
    best = 0
    for first in range(1, len(scores) - size + 1):
        window += scores[first + size - 1] - scores[first - 1]
        if window > best_score + 1e-9:
            best, best_score = first, window
    return best


def _tighten(lines: list[str], scores: list[float], first: int, size: int, kind: str) -> tuple[int, int]:
    """Start the window at its first matching line (or the heading or definition just above
    it), then fill it to `size` lines with what follows, up to the next section."""
    window = range(first, min(len(lines), first + size))
    strongest = max(scores[row] for row in window)
    hits = [row for row in window if scores[row] > 0 and scores[row] >= HIT_SHARE * strongest]
    if not hits:
        return first, window[-1]
    first = _start_at_boundary(lines, hits[0], kind)
    last = max(hits[-1], first)
    while last + 1 < len(lines) and last - first + 1 < size and \
            not (kind != "code" and last + 1 > hits[-1] and _starts_section(lines, last + 1)):
        last += 1
    return first, last


def _starts_section(lines: list[str], row: int) -> bool:
    """Whether `row` is a Markdown heading or the title line of a reST one."""
    if re.match(r"^\s{0,3}#{1,6}\s", lines[row]):
        return True
    return row + 1 < len(lines) and bool(lines[row].strip()) and \
        bool(re.match(r"^[=\-~^\"'`#*+]{3,}\s*$", lines[row + 1]))


def _keep_examples_whole(first: int, last: int, blocks: list[tuple[int, int]]) -> tuple[int, int]:
    """Widen the window over a code example it cuts, while the whole stays within
    `MAX_EXCERPT_LINES`; an example too long for that is quoted from its start."""
    for start, end in blocks:
        if end < first or start > last or (start >= first and end <= last):
            continue
        wide_first, wide_last = min(first, start), max(last, end)
        if wide_last - wide_first + 1 <= MAX_EXCERPT_LINES:
            first, last = wide_first, wide_last
        elif start < first:
            last, first = start + (last - first), start
    return first, last


def _start_at_boundary(lines: list[str], first: int, kind: str) -> int:
    """Move the start up to a heading or a definition at most three lines above it."""
    pattern = _DEFINITION_LINE if kind == "code" else _HEADING_LINE
    for row in range(first, max(-1, first - 4), -1):
        if pattern.match(lines[row]):
            heading_title = kind != "code" and row > 0 and re.match(r"^[=\-~^\"'`#*+]{3,}\s*$", lines[row])
            return row - 1 if heading_title else row
    return first


def example_blocks(lines: list[str], language: str) -> list[tuple[int, int]]:
    """Rows (0-based, inclusive) of the code examples in a docs text: fenced and indented blocks
    in Markdown; literal blocks after `::` and code directives in reST; `>>>` sessions; listing
    and literal blocks (`----`, `....`) in AsciiDoc."""
    blocks: list[tuple[int, int]] = []
    if language == "asciidoc":
        return _asciidoc_blocks(lines)
    if language == "markdown":
        kinds = line_kinds("\n".join(lines))
        row = 0
        while row < len(lines):
            if kinds[row] != "text":
                start = row
                while row + 1 < len(lines) and kinds[row + 1] != "text":
                    row += 1
                blocks.append((start, row))
            row += 1
        return blocks
    row = 0
    while row < len(lines):
        if _RST_LITERAL.search(lines[row]) or lines[row].lstrip().startswith(">>>"):
            start = row
            row += 1
            while row < len(lines) and (not lines[row].strip() or lines[row][:1].isspace()
                                        or lines[row].lstrip().startswith((">>>", "..."))):
                row += 1
            end = row - 1
            while end > start and not lines[end].strip():
                end -= 1
            blocks.append((start, end))
            continue
        row += 1
    return blocks


def _asciidoc_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """Rows of AsciiDoc listing and literal blocks, delimiters and a `[source,…]` line above
    included."""
    blocks: list[tuple[int, int]] = []
    row = 0
    while row < len(lines):
        opened = _ADOC_LISTING.match(lines[row])
        if opened is None:
            row += 1
            continue
        close = next((end for end in range(row + 1, len(lines)) if lines[end].strip() == opened.group(1)),
                     len(lines) - 1)
        start = row - 1 if row > 0 and lines[row - 1].startswith("[source") else row
        blocks.append((start, close))
        row = close + 1
    return blocks
