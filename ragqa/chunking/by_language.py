"""Definitions read from a syntax tree by a language's table (`ragqa.languages`).

The walker knows no language: each node is looked up in the language's `DefinitionRule`s,
which say whether it defines a name, of what kind, where the name is, and whether the names
inside it are qualified by it. Error codes and error values are found line by line with the
language's error patterns and added as definitions of kind `error` (defined) or `raise`
(thrown). The same tables say which chunks read like docs (`doc_chunks`) and which qualified
name labels each chunk (`label`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from ragqa.chunking.base import Chunk
from ragqa.chunking.code import Definition
from ragqa.languages import DefinitionRule, Language

_MAX_DEPTH = 60
_CLASS_LIKE = frozenset({"class", "struct", "interface", "trait", "enum", "type", "impl"})
_NAME_NODES = frozenset({"identifier", "type_identifier", "field_identifier", "property_identifier",
                         "constant", "name", "simple_identifier", "private_property_identifier"})
_TOP_LEVEL_WRAPPERS = frozenset({"export_statement", "lexical_declaration", "variable_declaration",
                                 "expression_statement", "var_declaration", "const_declaration",
                                 "var_spec_list", "ambient_declaration"})
_EXPORTS = re.compile(r"^(?:module\.)?exports\.")


def table_definitions(tree: Any, language: Language, lines: list[str]) -> list[Definition]:
    """Every definition `language`'s rules find in `tree`, plus its error codes, in file order."""
    found = list(_walk(tree.root_node, language, (), False, 0))
    found += error_sites(lines, language)
    unique = {(item.name, item.kind, item.start_line): item for item in found}
    return sorted(unique.values(), key=lambda item: (item.start_line, item.end_line, item.name))


def _walk(node: Any, language: Language, scope: tuple[str, ...], in_class: bool, depth: int
          ) -> Iterator[Definition]:
    if depth >= _MAX_DEPTH:
        return
    for child in node.named_children:
        rule = _matching_rule(child, language)
        if rule is None:
            yield from _walk(child, language, scope, in_class, depth + 1)
            continue
        declared = _names(child, rule)
        name = declared[0] if declared else ""
        owner = _qualifier(child, rule.qualifier) if rule.qualifier else ""
        kind = rule.method_kind if in_class and rule.method_kind else _kind(child, rule)
        for each in declared if rule.defines else ():
            qualified = ".".join((*scope, owner, each) if owner else (*scope, each))
            yield Definition(qualified, kind, child.start_point[0] + 1, _end_row(child) + 1)
        inner_scope = scope
        if rule.scope:
            opened = owner if not rule.defines else name
            inner_scope = (*scope, opened) if opened else scope
        inner_class = _kind(child, rule) in _CLASS_LIKE if rule.scope else in_class
        yield from _walk(child, language, inner_scope, inner_class, depth + 1)


def _matching_rule(node: Any, language: Language) -> DefinitionRule | None:
    for rule in language.rules.get(node.type, ()):
        if rule.values and _value_type(node) not in rule.values:
            continue
        if rule.top_level and not _is_top_level(node):
            continue
        if rule.name == "member" and not _member_name(node):
            continue
        if rule.skip_values and _value_text(node).startswith(rule.skip_values):
            continue
        return rule
    return None


def _value_type(node: Any) -> str:
    value = node.child_by_field_name("value") or node.child_by_field_name("right")
    while value is not None and value.type == "parenthesized_expression" and value.named_children:
        value = value.named_children[0]
    return str(value.type) if value is not None else ""


def _value_text(node: Any) -> str:
    value = node.child_by_field_name("value") or node.child_by_field_name("right")
    return _text(value)[:40] if value is not None else ""


def _is_top_level(node: Any) -> bool:
    """Directly in the file, or only inside declarations and exports that are."""
    parent = node.parent
    while parent is not None and parent.type in _TOP_LEVEL_WRAPPERS:
        parent = parent.parent
    return parent is not None and parent.parent is None


def _names(node: Any, rule: DefinitionRule) -> list[str]:
    """The names a node declares (`var a, b = …` and `int MAX = 3, MIN = 1;` declare two)."""
    if rule.name == "member":
        member = _member_name(node)
        return [member] if member else []
    targets: list[Any] = [node]
    for field in rule.name.split("."):
        targets = [found for target in targets for found in target.children_by_field_name(field)]
    return [_text(target) for target in targets if target.type in _NAME_NODES]


def _member_name(node: Any) -> str:
    """The name an assignment defines: `module.exports.send = …` → `send`, `exports.X = …` →
    `X`, `Reply.prototype.send = …` → `Reply.send`, `module.exports = function fastify () {}`
    → `fastify`; a plain `x = …`, or `module.exports = …` of anything unnamed, defines nothing
    here."""
    left = node.child_by_field_name("left")
    if left is None or left.type != "member_expression":
        return ""
    written = _text(left)
    if not re.fullmatch(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+", written):
        return ""
    name = _EXPORTS.sub("", written).replace(".prototype.", ".")
    if name in ("module.exports", "exports"):  # `module.exports = function fastify () {…}`
        right = node.child_by_field_name("right")
        named = right.child_by_field_name("name") if right is not None else None
        return _text(named) if named is not None and named.type in _NAME_NODES else ""
    return "" if name.startswith("this.") else name


def _qualifier(node: Any, field: str) -> str:
    """The type that owns a method defined outside it: the first type name under `field`
    (`(c *Command)` → `Command`, `impl<T> Display for Wrapper<T>` → `Wrapper`)."""
    target = node.child_by_field_name(field)
    stack = [target] if target is not None else []
    while stack:
        current = stack.pop(0)
        if current.type == "type_identifier":
            return _text(current)
        typed = current.child_by_field_name("type") or current.child_by_field_name("name")
        stack += [typed] if typed is not None else list(current.named_children)
    return ""


def _kind(node: Any, rule: DefinitionRule) -> str:
    if rule.kind_by_type:
        typed = node.child_by_field_name("type")
        return dict(rule.kind_by_type).get(typed.type if typed is not None else "", rule.kind)
    return rule.kind


def _end_row(node: Any) -> int:
    start_row: int = node.start_point[0]
    end_row: int = node.end_point[0]
    return end_row - 1 if node.end_point[1] == 0 and end_row > start_row else end_row


def _text(node: Any) -> str:
    raw: bytes = node.text or b""
    return raw.decode("utf-8", errors="replace")


@cache
def _patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in patterns if "(?P<code>" in pattern)


def error_sites(lines: list[str], language: Language) -> list[Definition]:
    """The lines that define an error code (`createError('FST_ERR_X', …)`, `var ErrX =
    errors.New(…)`: kind `error`) or throw one (`throw new FST_ERR_X()`, `return ErrX`: kind
    `raise`), each a one-line definition named by the code."""
    found: list[Definition] = []
    for kind, patterns in (("error", _patterns(language.error_definitions)),
                           ("raise", _patterns(language.error_raises))):
        for number, line in enumerate(lines, 1) if patterns else ():
            for pattern in patterns:
                found += [Definition(match.group("code"), kind, number, number)
                          for match in pattern.finditer(line)]
    return found


def label(chunk: Chunk, found: list[Definition]) -> str:
    """The qualified name a code chunk is labelled with: the largest definition that starts in
    it (its doc comment may come first), else the innermost one it lies in; error sites aside."""
    named = [item for item in found if item.kind not in ("error", "raise")]
    inside = [item for item in named if chunk.start_line <= item.start_line <= chunk.end_line]
    if inside:
        return max(inside, key=lambda item: (item.end_line - item.start_line, -item.start_line)).name
    around = [item for item in named if item.start_line < chunk.start_line <= item.end_line]
    return max(around, key=lambda item: item.start_line).name if around else ""


DOC_CHUNK_SHARE = 0.5  # a code chunk at least this much doc comment may read like docs
_NOT_DOCUMENTED_KINDS = frozenset({"variable", "error", "raise"})


def doc_chunks(chunks: list[Chunk], found: list[Definition], language: Language) -> list[int]:
    """Positions of the chunks that read like docs: mostly doc comment (`DOC_CHUNK_SHARE`), and
    either the doc comment of a public definition that starts in the chunk (`@private` ones and,
    in Go, lower-case names are not public API) or a file's own doc (`//!`, a package comment)."""
    result = []
    for position, chunk in enumerate(chunks):
        if doc_share(chunk.text, language) < DOC_CHUNK_SHARE:
            continue
        lines = chunk.text.split("\n")
        documented = [item for item in found if item.kind not in _NOT_DOCUMENTED_KINDS
                      and chunk.start_line <= item.start_line <= chunk.end_line]
        if _file_doc(lines, language) or any(
                _public(item, lines, item.start_line - chunk.start_line, language) for item in documented):
            result.append(position)
    return result


def _file_doc(lines: list[str], language: Language) -> bool:
    """A file's own doc: mostly `//!`-style lines, or the comment right above `package x`."""
    docs = language.doc_comments
    own = tuple(prefix for prefix in docs.module if prefix not in docs.item)
    stripped = [line.strip() for line in lines if line.strip()]
    if own and sum(line.startswith(own) for line in stripped) * 2 >= len(stripped):
        return True
    return bool(docs.module_before) and any(
        line.startswith(docs.module_before) and row > 0 and lines[row - 1].strip().startswith(docs.module)
        for row, line in enumerate(lines))


def _public(item: Definition, lines: list[str], row: int, language: Language) -> bool:
    """Whether a definition at `row` of a chunk is public API with a doc comment above it (a
    blank line between them allowed)."""
    docs = language.doc_comments
    comment = []
    above = row - 1
    if above >= 0 and not lines[above].strip():
        above -= 1
    while above >= 0 and lines[above].strip().startswith(docs.item):
        comment.append(lines[above])
        above -= 1
    if not comment or any(marker in line for line in comment for marker in docs.private):
        return False
    short = item.name.rsplit(".", 1)[-1]
    if docs.public_name and not re.search(docs.public_name, short):
        return False
    return not docs.public_line or bool(re.search(docs.public_line, lines[row]))


def doc_share(text: str, language: Language) -> float:
    """The share of a chunk's non-blank lines that are doc comments (`///`, `/** … */`, godoc)."""
    prefixes = language.doc_comments.item + language.doc_comments.module
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not prefixes or not lines:
        return 0.0
    return sum(line.startswith(prefixes) for line in lines) / len(lines)
