"""Stage 2 — chunking: a file's text → `Chunk`s of exact, whole lines.

Code goes through tree-sitter (functions and classes kept whole where they fit) and its
definitions are read by its language's table (`ragqa.languages`; Python by its own walker);
Markdown, MDX, reST and AsciiDoc are cut into heading-aware sections, anything else into runs of
lines that break at blank lines. Line spans always come from line positions, never from
searching for text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ragqa.chunking.base import Chunk, Limits, Span, split_lines, trim, windows
from ragqa.chunking.by_language import doc_chunks, label, table_definitions
from ragqa.chunking.code import Definition, code_spans, definitions, has_parser, parse
from ragqa.chunking.docs import section_spans
from ragqa.chunking.languages import detect
from ragqa.chunking.references import FileFacts, file_facts
from ragqa.languages import by_grammar

__all__ = ["Chunk", "ChunkedFile", "Definition", "FileFacts", "Limits", "chunk_file", "detect", "read_facts",
           "read_file", "split_lines"]


@dataclass(frozen=True)
class ChunkedFile:
    """A file's chunks and, for code, the definitions it makes (its part of the symbol table)
    and which of its chunks are mostly doc comments (`doc_chunks`, positions in `chunks`);
    `facts`: its imports, references and bases for the code graph, read from the same tree."""

    chunks: list[Chunk]
    definitions: list[Definition]
    doc_chunks: list[int] = field(default_factory=list)
    facts: FileFacts | None = None


def chunk_file(path: str, text: str, limits: Limits | None = None) -> list[Chunk]:
    """Cut `text` (the decoded content of `path`) into chunks within `limits`."""
    return read_file(path, text, limits).chunks


def read_file(path: str, text: str, limits: Limits | None = None) -> ChunkedFile:
    """Chunk `text` (the decoded content of `path`) and list the definitions it makes."""
    limits = limits or Limits()
    lines = split_lines(text)
    language, kind = detect(path)
    found: list[Definition] = []
    facts: FileFacts | None = None
    entry = by_grammar(language) if kind == "code" and has_parser(language) else None
    table = entry if entry is not None and entry.definitions is not None else None  # Python: the
    # generic walker, written for it
    if kind == "code" and has_parser(language):
        tree = parse(text.encode("utf-8"), language)
        facts = file_facts(tree, entry) if entry is not None else None
        spans = code_spans(tree, lines, limits, docs_stay=table is not None)
        found = definitions(tree) if table is None else table_definitions(tree, table, lines)
    elif kind == "docs" and language in {"markdown", "rst", "asciidoc"}:
        spans = section_spans(lines, language, limits)
    else:
        spans = [Span(start, end) for start, end in windows(lines, 0, len(lines) - 1, limits)]
    trimmed = [span for span in (trim(lines, span) for span in spans) if span is not None]
    chunks = [Chunk(path=path, start_line=span.start + 1, end_line=end + 1,
                    text="\n".join(lines[span.start:end + 1]), language=language, kind=kind,
                    symbol=span.symbol, heading=span.heading)
              for span, end in zip(trimmed, _ends(lines, trimmed), strict=True)]
    if table is None:
        return ChunkedFile(chunks, found, facts=facts)
    chunks = [replace(chunk, symbol=label(chunk, found) or chunk.symbol) for chunk in chunks]
    return ChunkedFile(chunks, found, doc_chunks(chunks, found, table), facts)


def read_facts(path: str, text: str) -> FileFacts:
    """Only the graph facts of a code file (a parse, no chunking): for rebuilding a lost graph."""
    language, kind = detect(path)
    entry = by_grammar(language) if kind == "code" and has_parser(language) else None
    if entry is None:
        return FileFacts()
    return file_facts(parse(text.encode("utf-8"), language), entry)


def _ends(lines: list[str], spans: list[Span]) -> list[int]:
    """Where each chunk ends: its last line with content, or — when whitespace-only lines that
    are not empty follow before the next chunk — the last of those, so that the lines between
    two chunks are always empty and merged neighbours quote the file exactly."""
    ends = []
    for index, span in enumerate(spans):
        end = span.end
        if index + 1 < len(spans):
            gap = range(span.end + 1, spans[index + 1].start)
            end = max((row for row in gap if lines[row]), default=span.end)
        ends.append(end)
    return ends
