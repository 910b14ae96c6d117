"""Syntax-aware code chunks: a function or class stays whole when it fits, large ones are cut
along their children, and line numbers come from the parser's own positions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from ragqa.chunking.base import Limits, Span, windows
from ragqa.chunking.languages import GRAMMARS

_DEFINITION_SUFFIXES = ("_definition", "_declaration", "_item", "_specifier")
_DEFINITION_TYPES = {"method", "class", "module", "singleton_method", "function", "arrow_function"}
_NAME_TYPES = {"identifier", "type_identifier", "field_identifier", "constant", "name",
               "property_identifier", "simple_identifier"}
_COMMENT_TYPES = {"comment", "line_comment", "block_comment"}
_MIN_OWN_CHUNK_LINES = 6  # a definition at least this long gets a chunk of its own


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    symbol: str
    is_definition: bool
    is_comment: bool


@cache
def _parser(language: str) -> Any:
    """The tree-sitter parser for `language`, or None when the language pack has none."""
    from tree_sitter_language_pack import get_parser

    try:
        return get_parser(GRAMMARS.get(language, language))  # type: ignore[arg-type]
    except (LookupError, ValueError):
        return None


def has_parser(language: str) -> bool:
    return _parser(language) is not None


def code_spans(source: bytes, lines: list[str], language: str, limits: Limits) -> list[Span]:
    """Spans covering the file's code, each within `limits` wherever syntax allows it."""
    tree = _parser(language).parse(source)
    units = list(_units(tree.root_node, lines, limits, scope=()))
    return _group(units, lines, limits)


def _units(node: Any, lines: list[str], limits: Limits, scope: tuple[str, ...]) -> Iterator[_Unit]:
    """Leaves of the cut: nodes that fit, found by descending only into nodes that do not."""
    for child in node.children:
        start, end = _rows(child)
        if start > end:
            continue
        definition = _is_definition(child)
        name = _name_of(child) if definition else ""
        symbol_scope = (*scope, name) if name else scope
        if _fits(lines, start, end, limits):
            yield _Unit(start, end, ".".join(symbol_scope), definition,
                        child.type in _COMMENT_TYPES)
        elif child.child_count:
            yield from _units(child, lines, limits, symbol_scope)
        else:
            for piece_start, piece_end in windows(lines, start, end, limits):
                yield _Unit(piece_start, piece_end, ".".join(symbol_scope), False, False)


def _group(units: list[_Unit], lines: list[str], limits: Limits) -> list[Span]:
    """Greedy packing: small neighbours share a chunk, sizeable definitions stand alone, and
    comments directly above a definition go with it."""
    spans: list[Span] = []
    buffer: list[_Unit] = []

    def flush() -> None:
        if buffer:
            symbol = next((u.symbol for u in buffer if u.is_definition), buffer[0].symbol)
            spans.append(Span(buffer[0].start, buffer[-1].end, symbol))
            buffer.clear()

    for unit in units:
        own = unit.is_definition and unit.end - unit.start + 1 >= _MIN_OWN_CHUNK_LINES
        if own:
            leading = _take_leading_comments(buffer, unit)
            flush()
            start = leading[0].start if leading else unit.start
            if _fits(lines, start, unit.end, limits):
                spans.append(Span(start, unit.end, unit.symbol))
            else:
                buffer.extend(leading)
                flush()
                spans.append(Span(unit.start, unit.end, unit.symbol))
            continue
        if buffer and not _fits(lines, buffer[0].start, unit.end, limits):
            flush()
        buffer.append(unit)
    flush()
    return _without_overlap(spans)


def _take_leading_comments(buffer: list[_Unit], unit: _Unit) -> list[_Unit]:
    leading: list[_Unit] = []
    next_start = unit.start
    while buffer and buffer[-1].is_comment and buffer[-1].end >= next_start - 1:
        leading.insert(0, buffer.pop())
        next_start = leading[0].start
    return leading


def _without_overlap(spans: list[Span]) -> list[Span]:
    """Two nodes can share a row; give that row to the earlier span only."""
    result: list[Span] = []
    for span in spans:
        start = span.start
        if result and start <= result[-1].end:
            start = result[-1].end + 1
        if start <= span.end:
            result.append(Span(start, span.end, span.symbol))
    return result


def _rows(node: Any) -> tuple[int, int]:
    start_row, end_row = node.start_point[0], node.end_point[0]
    if node.end_point[1] == 0 and end_row > start_row:
        end_row -= 1  # the node ends with a newline: its last row is the previous one
    return start_row, end_row


def _fits(lines: list[str], start: int, end: int, limits: Limits) -> bool:
    if end - start + 1 > limits.max_lines:
        return False
    return sum(len(line) + 1 for line in lines[start:end + 1]) <= limits.max_chars


def _is_definition(node: Any) -> bool:
    kind: str = node.type
    if kind in _DEFINITION_TYPES or kind == "decorated_definition":
        return True
    wrapped = node.child_by_field_name("declaration")  # `export function f() {}` and the like
    if wrapped is not None and kind.endswith("_statement"):
        return _is_definition(wrapped)
    return kind.endswith(_DEFINITION_SUFFIXES) and any(
        word in kind for word in ("function", "method", "class", "struct", "impl", "interface",
                                  "enum", "trait", "module", "type", "constructor"))


def _name_of(node: Any, depth: int = 0) -> str:
    """The declared name of a definition node, looking through decorators and declarators."""
    if depth > 4:
        return ""
    name = node.child_by_field_name("name")
    if name is not None and name.type in _NAME_TYPES | {"dotted_name", "scoped_identifier"}:
        return _text(name)
    for field in ("definition", "declaration", "declarator", "type"):
        inner = node.child_by_field_name(field)
        if inner is not None:
            if inner.type in _NAME_TYPES:
                return _text(inner)
            found = _name_of(inner, depth + 1)
            if found:
                return found
    for child in node.named_children:
        if child.type in _NAME_TYPES:
            return _text(child)
    return ""


def _text(node: Any) -> str:
    raw: bytes = node.text or b""
    return raw.decode("utf-8", errors="replace")
