"""What a code file says about other code: its imports, the names it calls or refers to, and the
classes its classes inherit — read from the chunker's own syntax tree (no second parse), by the
node kinds its language's table declares (`Language.references`, `imports`, `bases`).

The facts are names as written (`self.session.send`, `pkg.F`, `Base`); the code graph
(`ragqa.index.graph`) resolves them against the project's definitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ragqa.languages import Language

MAX_REFERENCES = 4000  # per file: a generated file's ten thousand calls say nothing more
_NAME_NODES = frozenset({"identifier", "type_identifier", "field_identifier", "property_identifier",
                         "attribute", "member_expression", "scoped_identifier", "scoped_type_identifier",
                         "dotted_name", "selector_expression", "qualified_type", "generic_type",
                         "package_identifier", "constant", "this"})
_WORD = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass
class FileFacts:
    """A file's imports (`(local name, target as written)`: `("np", "numpy")`,
    `("send", ".sessions.send")`, `("*", "a.b")`), references (`(name as written, line)`; an
    attribute read rather than called starts with `@`: `@index.record`) and bases
    (`(class line, base name)`)."""

    imports: list[tuple[str, str]] = field(default_factory=list)
    references: list[tuple[str, int]] = field(default_factory=list)
    bases: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, list[list[str | int]]]:
        return {"i": [list(item) for item in self.imports], "r": [list(item) for item in self.references],
                "b": [list(item) for item in self.bases]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileFacts:
        return cls([(str(a), str(b)) for a, b in data.get("i", [])],
                   [(str(a), int(b)) for a, b in data.get("r", [])],
                   [(int(a), str(b)) for a, b in data.get("b", [])])


def file_facts(tree: Any, language: Language) -> FileFacts:
    """The imports, references and bases `tree` (a file of `language`) holds."""
    facts = FileFacts()
    captures = _query(language, tree.language).captures(tree.root_node) if _query(language, tree.language) \
        else {}
    seen: set[tuple[str, int]] = set()
    for node in captures.get("ref", []):
        if _inside_reference(node):
            continue
        name = _reference_name(node)
        if name and node.parent is not None and node.parent.type == "attribute":
            name = "@" + name  # read, not called (`index.record`): resolved only when certain
        key = (name, node.start_point[0] + 1)
        if name and key not in seen and len(seen) < MAX_REFERENCES:
            seen.add(key)
            facts.references.append(key)
    # `self.send(…)` is both a call and an attribute: keep the longer name only
    longer = {(name.rsplit(".", 1)[-1], line) for name, line in facts.references if "." in name}
    facts.references = [(name, line) for name, line in facts.references
                        if "." in name or (name, line) not in longer]
    for node in captures.get("import", []):
        facts.imports.extend(_imports(node, language.name))
    for node in captures.get("base", []):
        owner = node.parent
        while owner is not None and "class" not in owner.type and owner.parent is not None:
            owner = owner.parent
        line = (owner or node).start_point[0] + 1
        facts.bases.extend((line, name) for name in _names_in(node))
    return facts


@cache
def _query(language: Language, grammar: Any) -> Any:
    """One tree-sitter query for every reference, import and base node kind of `language` (run in
    C: much faster than walking the tree in Python)."""
    import tree_sitter

    patterns = []
    for reference in language.references:
        patterns.append(f"({reference.node} {reference.field}: (_) @ref)" if reference.field
                        else f"({reference.node}) @ref")
    patterns += [f"({node}) @import" for node in language.imports]
    for base in language.bases:
        patterns.append(f"({base.node} {base.field}: (_) @base)" if base.field else f"({base.node}) @base")
    working = []
    for pattern in patterns:  # a kind this grammar version lacks is left out, not fatal
        try:
            tree_sitter.Query(grammar, pattern)
        except Exception:
            continue
        working.append(pattern)
    return tree_sitter.QueryCursor(tree_sitter.Query(grammar, " ".join(working))) if working else None


def _inside_reference(node: Any) -> bool:
    """`path` of `os.path.join`: a part of a longer name that is captured whole."""
    parent = node.parent
    above = parent.parent if parent is not None else None
    return parent is not None and parent.type == "attribute" and above is not None and \
        above.type in ("attribute", "call")


def _reference_name(node: Any) -> str:
    """The called or referred name as a dotted chain: `self.session.send`; a call on a call's
    result keeps only what follows it (`.bar` of `foo(x).bar`); Java's `this.g()` keeps its object."""
    parent = node.parent
    text = _text(parent if parent is not None and parent.type == "attribute" else node)
    if parent is not None and parent.type == "method_invocation" and \
            node == parent.child_by_field_name("name"):
        receiver = parent.child_by_field_name("object")
        text = f"{_text(receiver)}.{text}" if receiver is not None else text
    text = text.replace("::", ".").replace("?.", ".").replace("->", ".")
    cut = max(text.rfind(")"), text.rfind("]"), text.rfind(">"))
    prefix = "." if cut >= 0 else ""
    parts = _WORD.findall(text[cut + 1:])
    return prefix + ".".join(parts) if parts and len(parts) <= 6 else ""


def _names_in(node: Any, depth: int = 0) -> list[str]:
    """The type names in a base list (`(Base, mixins.Mixin, metaclass=M)` → `Base`, `mixins.Mixin`)."""
    if node.type in _NAME_NODES:
        return [".".join(_WORD.findall(_text(node).split("<", 1)[0]))]
    if depth > 4 or node.type in ("keyword_argument", "type_arguments"):
        return []
    return [name for child in node.named_children for name in _names_in(child, depth + 1)]


def _imports(node: Any, language: str) -> list[tuple[str, str]]:
    if language == "python":
        return _python_imports(node)
    if language == "java":
        text = _text(node).removeprefix("import").strip().rstrip(";").strip()
        target = text.removeprefix("static").strip().replace(" ", "")
        return [("*", target[:-2])] if target.endswith(".*") else [(target.rsplit(".", 1)[-1], target)]
    if language == "go":
        path = node.child_by_field_name("path")
        alias = node.child_by_field_name("name")
        target = _text(path).strip('"`') if path is not None else ""
        local = _text(alias) if alias is not None else target.rsplit("/", 1)[-1]
        return [(local, target)] if target else []
    if language in ("javascript", "typescript"):
        return _js_imports(node)
    return []


def _python_imports(node: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if node.type == "import_statement":
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                name, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
                found.append((_text(alias), _text(name)))
            else:
                found.append((_text(child), _text(child)))
        return found
    module_node = node.child_by_field_name("module_name")
    module = _text(module_node).replace(" ", "") if module_node is not None else ""
    joiner = "" if module.endswith(".") else "."
    if any(child.type == "wildcard_import" for child in node.children):
        return [("*", module)]
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            name, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
            found.append((_text(alias), f"{module}{joiner}{_text(name)}"))
        else:
            found.append((_text(child).rsplit(".", 1)[-1], f"{module}{joiner}{_text(child)}"))
    return found


def _js_imports(node: Any) -> list[tuple[str, str]]:
    source = node.child_by_field_name("source")
    if source is None:
        return []
    target = _text(source).strip("'\"`")
    found: list[tuple[str, str]] = []
    for clause in node.named_children:
        if clause.type not in ("import_clause", "export_clause"):
            continue
        for part in clause.named_children:
            if part.type == "identifier":
                found.append((_text(part), f"{target}#default"))
            elif part.type == "namespace_import":
                found += [(_text(name), target) for name in part.named_children[:1]]
            elif part.type in ("named_imports", "export_clause"):
                for specifier in part.named_children:
                    name = specifier.child_by_field_name("name")
                    alias = specifier.child_by_field_name("alias")
                    if name is not None:
                        found.append((_text(alias or name), f"{target}#{_text(name)}"))
            elif part.type in ("import_specifier", "export_specifier"):
                name, alias = part.child_by_field_name("name"), part.child_by_field_name("alias")
                if name is not None:
                    found.append((_text(alias or name), f"{target}#{_text(name)}"))
    return found or [("", target)]


def _text(node: Any) -> str:
    raw: bytes = node.text or b""
    return raw.decode("utf-8", errors="replace")
