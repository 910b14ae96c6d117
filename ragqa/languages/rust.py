"""Rust: `fn`, `struct`, `enum`, `union`, `trait` (with its method signatures), `mod`,
`macro_rules!`, `const`/`static` and `type` items; methods in `impl Type { … }` and
`impl Trait for Type { … }` are named `Type.method`. `///` documents the item below it, `//!`
the enclosing module or crate."""

from __future__ import annotations

from ragqa.languages import DefinitionRule as Rule
from ragqa.languages import DocComments, Language, Reference

RUST = Language(
    name="rust", grammars=("rust",), extensions=(".rs",),
    definitions=(
        Rule("function_item", "function", scope=True, method_kind="method"),
        Rule("function_signature_item", "function", method_kind="method"),
        Rule("struct_item", "struct", scope=True),
        Rule("union_item", "struct", scope=True),
        Rule("enum_item", "enum", scope=True),
        Rule("trait_item", "trait", scope=True),
        Rule("impl_item", "impl", scope=True, qualifier="type", defines=False),
        Rule("mod_item", "module", scope=True),
        Rule("macro_definition", "macro"),
        Rule("const_item", "variable"),
        Rule("static_item", "variable"),
        Rule("type_item", "type"),
        Rule("field_declaration", "variable"),  # struct fields: `Options.depth`
        Rule("enum_variant", "variant", scope=True),  # `Error.NotFound`
    ),
    references=(Reference("call_expression", "function"), Reference("macro_invocation", "macro")),
    imports=("use_declaration", "extern_crate_declaration"),
    doc_comments=DocComments(item=("///", "/**"), module=("//!", "/*!"), public_line=r"\bpub\b"),
    test_paths=("tests/", "benches/", "*_test.rs", "tests.rs"),
    example_paths=("examples/", "docs/", "book/"),
    code_paths=("src/", "crates/*/src/"),
    error_definitions=(r"""#\[error\(\s*"(?P<message>[^"]+)""",),
    error_raises=(r"\b(?:bail|panic)!\(\s*\"(?P<message>[^\"]+)",),
    frame_patterns=(r"^\s*at (?P<path>\S+\.rs):(?P<line>\d+)(?::\d+)?\s*$",),
)
