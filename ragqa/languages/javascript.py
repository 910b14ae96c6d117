"""JavaScript and TypeScript (one grammar family: `.js`, `.mjs`, `.cjs`, `.jsx`, `.ts`, `.tsx`,
`.d.ts`).

Definitions: function declarations, classes and their methods (`Router.route`) and fields,
interface members (`ServerOptions.keepAliveTimeout`: options are what users ask about), constants
bound to a function or class (`const handler = () => …` → `handler`), CommonJS exports
(`module.exports.send = function …` → `send`, `exports.X = …`) and prototype methods
(`Reply.prototype.send = function …` → `Reply.send`); TypeScript interfaces, type aliases,
enums, namespaces and the declarations of `.d.ts` files. Re-exports (`export { x } from './y'`)
define nothing: the name resolves to the file that defines it, not to the index that passes it
on.
"""

from __future__ import annotations

from ragqa.languages import DefinitionRule as Rule
from ragqa.languages import DocComments, Language, Reference

_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function",
                              "generator_function"})
_CLASS_VALUES = frozenset({"class"})
_IMPORT_VALUES = ("require(", "import(", "await import(")  # `const x = require('x')` imports

_RULES = (
    Rule("function_declaration", "function", scope=True, method_kind="method"),
    Rule("generator_function_declaration", "function", scope=True, method_kind="method"),
    Rule("class_declaration", "class", scope=True),
    Rule("abstract_class_declaration", "class", scope=True),
    Rule("method_definition", "method", scope=True),
    Rule("variable_declarator", "function", scope=True, values=_FUNCTION_VALUES, method_kind="method"),
    Rule("variable_declarator", "class", scope=True, values=_CLASS_VALUES),
    Rule("variable_declarator", "variable", top_level=True, skip_values=_IMPORT_VALUES),
    Rule("assignment_expression", "function", name="member", scope=True, values=_FUNCTION_VALUES),
    Rule("assignment_expression", "variable", name="member", top_level=True, skip_values=_IMPORT_VALUES),
    Rule("public_field_definition", "method", scope=True, values=_FUNCTION_VALUES),
    Rule("field_definition", "method", name="property", scope=True, values=_FUNCTION_VALUES),
    Rule("public_field_definition", "variable"),  # class properties and options
    Rule("field_definition", "variable", name="property"),
    Rule("property_signature", "variable"),  # interface members: `keepAliveTimeout?: number`
    # TypeScript
    Rule("interface_declaration", "interface", scope=True),
    Rule("type_alias_declaration", "type"),
    Rule("enum_declaration", "enum"),
    Rule("internal_module", "module", scope=True),
    Rule("function_signature", "function"),
    Rule("method_signature", "method"),
    Rule("abstract_method_signature", "method"),
)
_REFERENCES = (Reference("call_expression", "function"), Reference("new_expression", "constructor"))
_BASES = (Reference("class_heritage", ""),)
_IMPORTS = ("import_statement", "export_statement")  # the latter only with a `source` (re-export)
_DOCS = DocComments(item=("/**", "*", "*/"), private=("@private", "@api private", "@internal",
                                                      "@ignore"))
_TESTS = ("__tests__/", "*.test.*", "*.spec.*", "*.test-d.ts", "test/", "tests/", "__mocks__/", "cypress/",
          "e2e/")
_EXAMPLES = ("examples/", "example/", "docs/", "website/")
_CODE = ("lib/", "src/", "packages/*/src/", "packages/*/lib/")
_ERROR_DEFINITIONS = (
    r"""\bcreateError\(\s*['"](?P<code>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"]""",
    r"""\b(?P<code>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\s*[:=]\s*(?:new\s+)?\w*(?:Error|error)\w*\(""",
    r"""\bcode\s*[:=]\s*['"](?P<code>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"]""",
)
_ERROR_RAISES = (
    r"""\bthrow\s+(?:new\s+)?(?:\w+\.)*(?P<code>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b""",
    r"""\b(?:reject|callback|cb|done|next)\(\s*new\s+(?:\w+\.)*(?P<code>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b""",
)
_FRAMES = (r"^\s*at (?:(?:async )?(?P<function>[^\s()]+) )?\(?(?P<path>(?:file://)?[^\s()]+?"
           r"\.(?:[cm]?[jt]sx?|vue|svelte)):(?P<line>\d+)(?::\d+)?\)?\s*$",)

JAVASCRIPT = Language(
    name="javascript", grammars=("javascript",),
    extensions=(".js", ".mjs", ".cjs", ".jsx"),
    definitions=_RULES, references=_REFERENCES, imports=_IMPORTS, bases=_BASES, doc_comments=_DOCS,
    test_paths=_TESTS, example_paths=_EXAMPLES, code_paths=_CODE,
    error_definitions=_ERROR_DEFINITIONS, error_raises=_ERROR_RAISES, frame_patterns=_FRAMES,
)
TYPESCRIPT = Language(
    name="typescript", grammars=("typescript", "tsx"),
    extensions=(".ts", ".mts", ".cts", ".tsx"),
    definitions=_RULES, references=_REFERENCES, imports=_IMPORTS, bases=_BASES, doc_comments=_DOCS,
    test_paths=_TESTS, example_paths=_EXAMPLES, code_paths=_CODE, api_docs_paths=("*.d.ts",),
    error_definitions=_ERROR_DEFINITIONS, error_raises=_ERROR_RAISES, frame_patterns=_FRAMES,
)
