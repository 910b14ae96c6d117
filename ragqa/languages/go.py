"""Go: functions, methods named by their receiver's type (`func (c *Command) Execute()` →
`Command.Execute`), types (struct, interface, alias) with their interface methods, and
package-level `var`/`const`. Godoc is the `//` comment right above a declaration; the package
comment (usually in `doc.go`) documents the package."""

from __future__ import annotations

from ragqa.languages import DefinitionRule as Rule
from ragqa.languages import DocComments, Language, Reference

_ERROR_VALUE = r"(?P<code>Err[A-Z]\w*|err[A-Z]\w*)"

GO = Language(
    name="go", grammars=("go",), extensions=(".go",),
    definitions=(
        Rule("function_declaration", "function"),
        Rule("method_declaration", "method", qualifier="receiver"),
        Rule("type_spec", "type", scope=True, kind_by_type=(("struct_type", "struct"),
                                                            ("interface_type", "interface"))),
        Rule("type_alias", "type"),
        Rule("method_elem", "method"),
        Rule("field_declaration", "variable"),  # struct fields: `Options.Timeout`
        Rule("var_spec", "variable", top_level=True),
        Rule("const_spec", "variable", top_level=True),
    ),
    references=(Reference("call_expression", "function"), Reference("type_identifier", "")),
    imports=("import_spec",),
    doc_comments=DocComments(item=("//",), module=("//",), module_before="package ",
                             public_name=r"^[A-Z]"),
    test_paths=("*_test.go", "testdata/"),
    example_paths=("examples/", "example/", "_examples/", "docs/"),
    # Testable examples (`func ExampleCommand_Execute()`) are shown by godoc: docs, not tests.
    api_docs_paths=("example_test.go", "example_*_test.go", "*_example_test.go"),
    code_paths=("cmd/", "pkg/", "internal/"),
    error_definitions=(
        rf"\b{_ERROR_VALUE}\s*=\s*(?:errors\.New|fmt\.Errorf|\w+\.New\w*Error|&\w+Error)",
    ),
    error_raises=(rf"\breturn\s+(?:[\w.]+,\s*)*{_ERROR_VALUE}\b", rf"\bpanic\(\s*{_ERROR_VALUE}\b"),
    frame_patterns=(r"^\s+(?P<path>\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?\s*$",),
)
