"""Java: classes, interfaces, enums, records and annotation types (nested ones qualified by
their outer class), methods and constructors (`Gson.toJson`). Javadoc is the `/** … */` block
right above a declaration."""

from __future__ import annotations

from ragqa.languages import DefinitionRule as Rule
from ragqa.languages import DocComments, Language, Reference

JAVA = Language(
    name="java", grammars=("java",), extensions=(".java",),
    definitions=(
        Rule("class_declaration", "class", scope=True),
        Rule("interface_declaration", "interface", scope=True),
        Rule("enum_declaration", "enum", scope=True),
        Rule("record_declaration", "class", scope=True),
        Rule("annotation_type_declaration", "interface", scope=True),
        Rule("method_declaration", "method", scope=True),
        Rule("constructor_declaration", "method", scope=True),
        Rule("field_declaration", "variable", name="declarator.name"),
        Rule("enum_constant", "variant"),
        Rule("constant_declaration", "variable", name="declarator.name"),  # interface constants
    ),
    references=(Reference("method_invocation", "name"), Reference("object_creation_expression", "type")),
    imports=("import_declaration",),
    bases=(Reference("superclass", ""), Reference("super_interfaces", ""),
           Reference("extends_interfaces", "")),
    # Not `private`: interface members are public without saying so.
    doc_comments=DocComments(item=("/**", "*", "*/"), public_line=r"^(?!.*\bprivate\b)",
                             private=("@hide",)),
    test_paths=("src/test/", "*Test.java", "*Tests.java", "*IT.java"),
    example_paths=("examples/", "example/", "docs/", "samples/"),
    code_paths=("src/main/java/",),
    error_definitions=(r"\bclass\s+(?P<code>\w+(?:Exception|Error))\b",),
    error_raises=(r"\bthrow\s+new\s+(?P<code>\w+(?:Exception|Error))\s*\(\s*\"(?P<message>[^\"]*)",),
    # JVM frames: Kotlin, Scala and Groovy print theirs alike.
    frame_patterns=(r"^\s*at (?P<function>[\w$.<>/]+)\((?P<file>[\w$-]+\.(?:java|kt|scala|groovy))"
                    r":(?P<line>\d+)\)",),
)
