"""Stage 2 — chunking: a file's text → `Chunk`s of exact, whole lines.

Code goes through tree-sitter (functions and classes kept whole where they fit), Markdown and
reST are cut into heading-aware sections, anything else into runs of lines that break at blank
lines. Line spans always come from line positions, never from searching for text.
"""

from __future__ import annotations

from ragqa.chunking.base import Chunk, Limits, Span, split_lines, trim, windows
from ragqa.chunking.code import code_spans, has_parser
from ragqa.chunking.docs import section_spans
from ragqa.chunking.languages import detect

__all__ = ["Chunk", "Limits", "chunk_file", "detect", "split_lines"]


def chunk_file(path: str, text: str, limits: Limits | None = None) -> list[Chunk]:
    """Cut `text` (the decoded content of `path`) into chunks within `limits`."""
    limits = limits or Limits()
    lines = split_lines(text)
    language, kind = detect(path)
    if kind == "code" and has_parser(language):
        spans = code_spans(text.encode("utf-8"), lines, language, limits)
    elif kind == "docs" and language in {"markdown", "rst"}:
        spans = section_spans(lines, language, limits)
    else:
        spans = [Span(start, end) for start, end in windows(lines, 0, len(lines) - 1, limits)]
    chunks = []
    for span in spans:
        trimmed = trim(lines, span)
        if trimmed is None:
            continue
        chunks.append(Chunk(
            path=path,
            start_line=trimmed.start + 1,
            end_line=trimmed.end + 1,
            text="\n".join(lines[trimmed.start:trimmed.end + 1]),
            language=language,
            kind=kind,
            symbol=trimmed.symbol,
            heading=trimmed.heading,
        ))
    return chunks
