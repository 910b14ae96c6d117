"""The unit of retrieval: a run of whole lines of one file, with what is known about it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """How large one chunk may be. The default local embedder reads 256 word pieces, so
    chunks much larger than ~60 lines would be embedded only in part."""

    max_lines: int = 60
    max_chars: int = 2_400


@dataclass(frozen=True)
class Span:
    """Lines `start`–`end` (0-based, inclusive) with the symbol or heading path they belong to."""

    start: int
    end: int
    symbol: str = ""
    heading: str = ""


@dataclass(frozen=True)
class Chunk:
    """Lines `start_line`–`end_line` (1-based, inclusive) of `path`; `text` is exactly them."""

    path: str
    start_line: int
    end_line: int
    text: str
    language: str
    kind: str  # "code" | "docs" | "text"
    symbol: str = ""
    heading: str = ""

    @property
    def content_hash(self) -> str:
        return hashlib.sha1(self.text.encode(), usedforsecurity=False).hexdigest()

    @property
    def id(self) -> str:
        """Stable across ingests: the same lines of the same path give the same id, which is
        what lets a re-ingest skip chunks that are already stored."""
        key = f"{self.path}\0{self.start_line}\0{self.end_line}\0{self.content_hash}"
        return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:24]


def split_lines(text: str) -> list[str]:
    """Lines as code hosts number them: split on LF only (not on form feeds or U+2028), with a
    trailing CR dropped; a final newline does not start another line."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def windows(lines: list[str], start: int, end: int, limits: Limits) -> list[tuple[int, int]]:
    """Cut lines `start`–`end` into runs within `limits`, preferring to cut at blank lines."""
    pieces: list[tuple[int, int]] = []
    piece_start = start
    while piece_start <= end:
        piece_end, chars = piece_start, 0
        last_blank = -1
        row = piece_start
        while row <= end and row - piece_start < limits.max_lines:
            chars += len(lines[row]) + 1
            if chars > limits.max_chars and row > piece_start:
                break
            if not lines[row].strip():
                last_blank = row
            piece_end = row
            row += 1
        if row <= end and last_blank > piece_start:
            piece_end = last_blank
        pieces.append((piece_start, piece_end))
        piece_start = piece_end + 1
    return pieces


def trim(lines: list[str], span: Span) -> Span | None:
    """The span without its leading and trailing blank lines; None if nothing is left."""
    start, end = span.start, span.end
    while start <= end and not lines[start].strip():
        start += 1
    while end >= start and not lines[end].strip():
        end -= 1
    if start > end:
        return None
    return Span(start, end, span.symbol, span.heading)
