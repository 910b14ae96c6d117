"""What each programming language contributes, as data: one `Language` entry per language.

Adding a language (or teaching ragqa more of one) touches its entry in this package and its
tests, never the ranking code. An entry says:

- **files**: the extensions it is read from (`extensions`), the grammar that parses it
  (`grammar`, a key of `ragqa.chunking.languages.GRAMMAR_WHEELS` or of the language pack);
- **definitions** (`definitions`): which syntax nodes define a name, under which field the name
  is, what kind of definition it is, whether it opens a scope that qualifies the names inside
  it (`Class.method`), and where a method's owner is named outside the method (Go's receiver,
  Rust's `impl Type`). `None` keeps the generic walker that Python has always used;
- **what the code graph needs** (`references`, `imports`, `bases`): the node kinds of calls and
  references with the field that names the callee (empty: the node itself), the node kinds of
  imports, and the node kinds (with field) that list a class's bases; `ragqa.chunking.references`
  reads them from the chunker's tree and `ragqa.index.graph` resolves them;
- **doc comments** (`doc_comments`): the line prefixes of comments that document an item
  (`///`, `/**`, `//` for godoc) and of those that document the whole file (`//!`, a Go
  package comment), whether the language documents with docstrings instead, and how a public
  item is told from a private one. A code chunk that is mostly the doc comment of a public
  definition, or a file's doc comment, reads like docs (`ChunkedFile.doc_chunks`);
- **paths** (`test_paths`, `example_paths`, `code_paths`, `api_docs_paths`): gitignore globs of
  its conventional layout: its tests (`*_test.go`, `src/test/java/`), its examples, where its
  source lives (`src/main/java/`, `crates/*/src/`), and which code files are read like API
  docs (`*.d.ts`);
- **errors** (`error_definitions`, `error_raises`): regular expressions with a `code` group
  that find where an error code or error value is defined (`createError('FST_ERR_X', …)`,
  `var ErrX = errors.New(…)`) and where one is thrown (`throw new FST_ERR_X()`, `return ErrX`);
  they become symbols of kind `error`, so a code in a question leads to those lines;
- **stack traces** (`frame_patterns`): how a frame of this language's traces reads; the report
  reader (`ragqa.report`) compiles Python's, JavaScript's, Java's, Go's and Rust's from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

__all__ = ["DefinitionRule", "DocComments", "Language", "Reference", "by_grammar", "languages",
           "union"]


@dataclass(frozen=True)
class DefinitionRule:
    """A syntax node that defines a name.

    `node`: the tree-sitter node type. `kind`: what it defines (function, method, class,
    struct, interface, trait, enum, type, module, macro, variable). `name`: the field holding
    the name, dotted to go through fields (`declarator.name`); the special value `"member"`
    reads the left side of an assignment (`module.exports.send`, `Router.prototype.route`).
    `scope`: names defined inside it are qualified by its name (`Router.route`).
    `qualifier`: a field whose type names the scope instead of the node's own name (Go's
    `receiver`, Rust's impl `type`); with `defines=False` the node is only a scope (an `impl`).
    `method_kind`: the kind it becomes directly inside a class-like scope (a function there is
    a method). `values`: only when the node's `value` (or `right`) field is one of these node
    types (an arrow function assigned to a constant). `top_level`: only at the file's top
    level (directly, or inside a top-level export or declaration list).
    `kind_by_type`: the kind read from the node type of the `type` field (Go's `type X struct`).
    `skip_values`: not when the value's text starts with one of these (`require(`: an import).
    """

    node: str
    kind: str
    name: str = "name"
    scope: bool = False
    qualifier: str = ""
    defines: bool = True
    method_kind: str = ""
    values: frozenset[str] = frozenset()
    top_level: bool = False
    kind_by_type: tuple[tuple[str, str], ...] = ()
    skip_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocComments:
    """How a language documents its items and files.

    `item`: prefixes of comment lines that document the definition right below them.
    `module`: prefixes of comment lines that document the whole file (or, with
    `module_before`, a comment right before this keyword: Go's `// Package x …` above
    `package x`). `docstrings`: documentation is the first string in the body (Python).
    `private`: markers inside a doc comment that say the item is not public API (`@private`).
    `public_name` / `public_line`: what a public definition's name, or its first line, matches
    (Go exports capitalised names; Rust says `pub`, Java `public`); empty: every one is.
    """

    item: tuple[str, ...] = ()
    module: tuple[str, ...] = ()
    module_before: str = ""
    docstrings: bool = False
    private: tuple[str, ...] = ()
    public_name: str = ""
    public_line: str = ""


@dataclass(frozen=True)
class Reference:
    """A node kind that refers to a name (a call, a type use), with the field naming it."""

    node: str
    field: str


@dataclass(frozen=True)
class Language:
    """Everything ragqa knows about one programming language (see the module docstring)."""

    name: str
    grammars: tuple[str, ...]
    extensions: tuple[str, ...]
    definitions: tuple[DefinitionRule, ...] | None = None
    references: tuple[Reference, ...] = ()
    imports: tuple[str, ...] = ()
    bases: tuple[Reference, ...] = ()
    doc_comments: DocComments = DocComments()
    test_paths: tuple[str, ...] = ()
    example_paths: tuple[str, ...] = ()
    code_paths: tuple[str, ...] = ()
    api_docs_paths: tuple[str, ...] = ()
    error_definitions: tuple[str, ...] = ()
    error_raises: tuple[str, ...] = ()
    frame_patterns: tuple[str, ...] = ()
    rules: dict[str, tuple[DefinitionRule, ...]] = field(default_factory=dict, compare=False,
                                                         repr=False)

    def __post_init__(self) -> None:
        for rule in self.definitions or ():
            self.rules[rule.node] = (*self.rules.get(rule.node, ()), rule)


def _load() -> tuple[Language, ...]:
    from ragqa.languages import go, java, javascript, python, rust

    return (python.PYTHON, javascript.JAVASCRIPT, javascript.TYPESCRIPT, go.GO, rust.RUST,
            java.JAVA)


@cache
def languages() -> tuple[Language, ...]:
    """Every language with an entry."""
    return _load()


@cache
def by_grammar(grammar: str) -> Language | None:
    """The entry of a language by the grammar name the chunker detected (`tsx` → TypeScript)."""
    return next((language for language in languages() if grammar in language.grammars), None)


def union(attribute: str) -> list[str]:
    """One path list (`test_paths`, `example_paths`, …) of every language, without repeats."""
    return list(dict.fromkeys(pattern for language in languages()
                              for pattern in getattr(language, attribute)))
