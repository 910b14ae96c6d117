"""Syntax-aware code chunks: a function or class stays whole when it fits, large ones are cut
along their children, and line numbers come from the parser's own positions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from ragqa.chunking.base import Limits, Span, windows
from ragqa.chunking.languages import GRAMMAR_WHEELS, GRAMMARS

_DEFINITION_SUFFIXES = ("_definition", "_declaration", "_item", "_specifier")
_DEFINITION_TYPES = {"method", "class", "module", "singleton_method", "function", "arrow_function"}
_NAME_TYPES = {"identifier", "type_identifier", "field_identifier", "constant", "name",
               "property_identifier", "simple_identifier"}
_COMMENT_TYPES = {"comment", "line_comment", "block_comment"}
_MIN_OWN_CHUNK_LINES = 6  # a definition at least this long gets a chunk of its own
_KIND_WORDS = ("class", "struct", "enum", "interface", "trait", "impl", "module", "type")
_MAX_DEPTH = 40


@dataclass(frozen=True)
class Definition:
    """A named definition in a code file: `Session.request` (method) at lines 120–150."""

    name: str
    kind: str
    start_line: int  # 1-based, inclusive; decorators included
    end_line: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    symbol: str
    is_definition: bool
    is_comment: bool


@cache
def _parser(language: str) -> Any:
    """The tree-sitter parser for `language`: from its own grammar wheel (the common languages
    ship with ragqa), else from tree-sitter-language-pack when the `languages` extra is
    installed, else None — the file is then cut into runs of lines."""
    import importlib

    import tree_sitter

    if language in GRAMMAR_WHEELS:
        module, function = GRAMMAR_WHEELS[language]
        try:
            grammar = getattr(importlib.import_module(module), function)()
            return tree_sitter.Parser(tree_sitter.Language(grammar))
        except (ImportError, AttributeError, ValueError):
            pass
    try:
        from tree_sitter_language_pack import get_parser
    except ImportError:
        return None
    try:
        return get_parser(GRAMMARS.get(language, language))  # type: ignore[arg-type]
    except (LookupError, ValueError):
        return None


def has_parser(language: str) -> bool:
    return _parser(language) is not None


def parse(source: bytes, language: str) -> Any:
    """The syntax tree of `source` (the language must have a parser, see `has_parser`)."""
    return _parser(language).parse(source)


def code_spans(tree: Any, lines: list[str], limits: Limits, docs_stay: bool = False) -> list[Span]:
    """Spans covering the file's code, each within `limits` wherever syntax allows it. With
    `docs_stay`, the comments right above any definition, however short, start its chunk
    rather than end the one before (languages whose docs are comments: godoc, JSDoc)."""
    units = list(_units(tree.root_node, lines, limits, scope=()))
    return _group(units, lines, limits, docs_stay)


def definitions(tree: Any) -> list[Definition]:
    """Every class, function, method and module-level or class-level name assignment in the
    tree, with its qualified name (`Outer.Inner.method`), in file order."""
    found: list[Definition] = []
    stack: list[tuple[Any, tuple[str, ...], bool, int]] = [(tree.root_node, (), False, 0)]
    while stack:
        node, scope, in_class, depth = stack.pop()
        for child in reversed(node.named_children):
            if depth >= _MAX_DEPTH:
                break
            definition = _definition(child, scope, in_class)
            if definition is None:
                stack.append((child, scope, in_class, depth + 1))
                continue
            found.append(definition)
            if definition.kind != "variable":
                body = child.child_by_field_name("definition") if child.type == "decorated_definition" \
                    else child
                stack.append((body or child, (*scope, definition.name.rsplit(".", 1)[-1]),
                              definition.kind not in ("function", "method"), depth + 1))
    return sorted(found, key=lambda item: (item.start_line, item.end_line))


def _definition(node: Any, scope: tuple[str, ...], in_class: bool) -> Definition | None:
    """The definition `node` makes, if it is one."""
    start, end = _rows(node)
    if node.type in ("assignment", "expression_statement") and _is_scope_level(node):
        target = node.child_by_field_name("left")
        if node.type == "expression_statement" or target is None or target.type != "identifier":
            return None
        return Definition(".".join((*scope, _text(target))), "variable", start + 1, end + 1)
    if not _is_definition(node):
        return None
    inner = node
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition") or node
    name = _name_of(inner)
    if not name:
        return None
    return Definition(".".join((*scope, name)), _kind(inner.type, in_class), start + 1, end + 1)


def _is_scope_level(node: Any) -> bool:
    """An assignment directly in a module or a class body (not inside a function)."""
    parent = node.parent
    if parent is not None and parent.type == "expression_statement":
        parent = parent.parent
    if parent is None:
        return False
    if parent.type == "module":
        return True
    return parent.type == "block" and parent.parent is not None and \
        parent.parent.type == "class_definition"


def _kind(node_type: str, in_class: bool) -> str:
    word = next((word for word in _KIND_WORDS if word in node_type), None)
    if word is not None:
        return word
    return "method" if in_class else "function"


def _units(node: Any, lines: list[str], limits: Limits, scope: tuple[str, ...]) -> Iterator[_Unit]:
    """Leaves of the cut: nodes that fit, found by descending only into nodes that do not."""
    # A decorated definition already put its name in `scope`: the definition inside it must not
    # add it again (`LinkGuard.LinkGuard.feed`).
    wrapped = node.child_by_field_name("definition") if node.type == "decorated_definition" else None
    for child in node.children:
        start, end = _rows(child)
        if start > end:
            continue
        definition = _is_definition(child)
        name = _name_of(child) if definition and child != wrapped else ""
        symbol_scope = (*scope, name) if name else scope
        if _fits(lines, start, end, limits):
            yield _Unit(start, end, ".".join(symbol_scope), definition,
                        child.type in _COMMENT_TYPES)
        elif child.child_count:
            yield from _units(child, lines, limits, symbol_scope)
        else:
            for piece_start, piece_end in windows(lines, start, end, limits):
                yield _Unit(piece_start, piece_end, ".".join(symbol_scope), False, False)


def _group(units: list[_Unit], lines: list[str], limits: Limits, docs_stay: bool = False) -> list[Span]:
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
            leading = _take_doc_comments(buffer, unit, lines) if docs_stay else []
            if leading and not buffer:  # the comments are all there is: keep them where they are
                buffer.extend(leading)
                leading = []
            flush()
            buffer.extend(leading)
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


def _take_doc_comments(buffer: list[_Unit], unit: _Unit, lines: list[str]) -> list[_Unit]:
    """The comments at the end of `buffer` that document `unit`: right above it, or above it
    with one blank line between (`/** … */`, a blank line, `res.send = function …`)."""
    leading: list[_Unit] = []
    next_start = unit.start
    while buffer and buffer[-1].is_comment and next_start - buffer[-1].end <= 2 and \
            not any(lines[row].strip() for row in range(buffer[-1].end + 1, next_start)):
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
