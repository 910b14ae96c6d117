"""Every language as data: definitions, doc comments, error codes and layouts of JavaScript,
TypeScript, Go, Rust and Java read from their `ragqa.languages` entries; AsciiDoc and MDX read
as docs with headings."""

from __future__ import annotations

import pathspec
import pytest

from ragqa.chunking import detect, read_file
from ragqa.chunking.docs import asciidoc_headings, markdown_headings
from ragqa.index.registry import FileEntry, ProjectRecord
from ragqa.index.symbols import SymbolTable
from ragqa.languages import by_grammar, languages, union
from ragqa.query import Query
from ragqa.report import Frame
from ragqa.retrieve.retriever import named_packages
from ragqa.settings import Settings

ROUTE_JS = """'use strict'
const { FST_ERR_ROUTE_MISSING_CONTENT_TYPE } = require('./errors')

/**
 * Build a route from its options.
 * @param {object} opts the route options
 */
function buildRoute (opts) {
  return opts
}

const onRequest = (req, reply) => reply.send('ok')
const parse = function (body) { return JSON.parse(body) }

class Router {
  constructor () { this.routes = [] }
  route (opts) {
    if (!opts.contentType) {
      throw new FST_ERR_ROUTE_MISSING_CONTENT_TYPE()
    }
  }
  static create () { return new Router() }
}

Reply.prototype.send = function send (payload) { return payload }
module.exports = { buildRoute, Router }
module.exports.helper = function helper () {}
module.exports.shortcut = () => 1
"""
ERRORS_JS = """'use strict'
const createError = require('@fastify/error')

const codes = {
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: createError(
    'FST_ERR_ROUTE_MISSING_CONTENT_TYPE', 'A route needs a content type', 500
  )
}
exports.FST_ERR_BAD_URL = createError('FST_ERR_BAD_URL', "'%s' is not a valid url component", 400)
module.exports = codes
"""
CLIENT_TS = """export function createClient(url: string): Client { return new Client(url) }
export const createCaller = (router: Router) => router.caller
export class Client {
  constructor(private url: string) {}
  query(path: string): Promise<unknown> { return fetch(this.url + path) }
}
export interface ClientOptions { url: string }
export type Transformer = (value: unknown) => unknown
export enum Mode { Query, Mutation }
"""
INDEX_TS = """export { createClient, Client } from './client'
export * from './links'
"""
TYPES_DTS = """declare function fastify(opts?: FastifyOptions): FastifyInstance
export interface FastifyInstance {
  listen(port: number): Promise<string>
}
declare namespace fastify {
  export type Plugin = (instance: FastifyInstance) => void
}
export default fastify
"""
COMMAND_GO = """package cobra

import "errors"

// ErrSubCommandRequired is returned when a command needs a subcommand.
var ErrSubCommandRequired = errors.New("subcommand is required")

// Command is just that, a command for your application.
type Command struct {
	Use string
}

// Execute uses the args and runs through the command tree finding the right command.
func (c *Command) Execute() error {
	if c.Use == "" {
		return ErrSubCommandRequired
	}
	return nil
}

// NewCommand makes a command.
func NewCommand(use string) *Command { return &Command{Use: use} }

// Runner runs.
type Runner interface {
	Run(args []string) error
}

const MaxDepth = 5
"""
DOC_GO = """// Package cobra is a library providing a simple interface to create powerful
// modern CLI interfaces similar to git and go tools.
//
// To use it, make a root Command, add subcommands with AddCommand and
// call Execute on the root in your main function.
//
// Flags are defined with the pflag package: persistent flags apply to a
// command and every command below it, local flags to that command only.
package cobra
"""
LIB_RS = """//! Walk directories fast.
//! The crate's front page.

/// A directory walker.
pub struct Walker {
    depth: usize,
}

impl Walker {
    /// Makes a walker that goes `depth` levels down.
    pub fn new(depth: usize) -> Self {
        Walker { depth }
    }
}

impl Iterator for Walker {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        None
    }
}

pub trait Visit {
    fn visit(&self, path: &str);
}

pub enum Error {
    NotFound(String),
}

pub fn walk(root: &str) -> Walker {
    Walker::new(root.len())
}

mod inner {
    pub fn helper() {}
}

macro_rules! walk_all { () => {} }
pub const MAX_DEPTH: usize = 64;
"""
GSON_JAVA = """package com.google.gson;

/**
 * This is the main class for using Gson.
 */
public final class Gson {
  /**
   * Serializes the specified object into its equivalent JSON.
   */
  public String toJson(Object src) {
    if (src == null) {
      throw new JsonIOException("cannot serialize null");
    }
    return "";
  }

  public Gson() {}

  interface Adapter { void write(Object value); }

  enum Policy { IDENTITY, LOWER_CASE }
}
"""


def names(path: str, text: str) -> dict[str, str]:
    return {d.name: d.kind for d in read_file(path, text).definitions if d.kind not in ("error", "raise")}


def test_javascript_definitions() -> None:
    found = names("lib/route.js", ROUTE_JS)
    assert found["buildRoute"] == "function"
    assert found["onRequest"] == "function" and found["parse"] == "function"  # arrow / expression
    assert found["Router"] == "class"
    assert found["Router.route"] == "method" and found["Router.create"] == "method"
    assert found["Reply.send"] == "function"  # a prototype method
    assert found["helper"] == "function" and found["shortcut"] == "function"  # CommonJS exports
    assert "module.exports" not in found and "exports" not in found


def test_typescript_definitions_and_reexports_define_nothing() -> None:
    found = names("src/client.ts", CLIENT_TS)
    assert found == {"createClient": "function", "createCaller": "function", "Client": "class",
                     "Client.constructor": "method", "Client.query": "method",
                     "ClientOptions": "interface", "ClientOptions.url": "variable", "Transformer": "type",
                     "Mode": "enum"}
    assert names("src/index.ts", INDEX_TS) == {}
    declared = names("types/index.d.ts", TYPES_DTS)
    assert declared["fastify"] in ("function", "module") and declared["FastifyInstance"] == "interface"
    assert declared["FastifyInstance.listen"] == "method" and declared["fastify.Plugin"] == "type"


def test_go_methods_are_named_by_their_receiver() -> None:
    found = names("command.go", COMMAND_GO)
    assert found["Command"] == "struct" and found["Command.Execute"] == "method"
    assert found["NewCommand"] == "function" and found["Runner"] == "interface"
    assert found["Runner.Run"] == "method"
    assert found["ErrSubCommandRequired"] == "variable" and found["MaxDepth"] == "variable"
    chunked = read_file("command.go", COMMAND_GO)
    execute = next(c for c in chunked.chunks if "func (c *Command) Execute" in c.text)
    assert "// Execute uses the args" in execute.text, "godoc goes with its definition"


def test_go_package_doc_reads_like_docs() -> None:
    chunked = read_file("doc.go", DOC_GO)
    assert chunked.doc_chunks == [0]
    assert read_file("command.go", COMMAND_GO).doc_chunks == []


def test_rust_items_and_impl_blocks() -> None:
    found = names("src/lib.rs", LIB_RS)
    assert found["Walker"] == "struct" and found["Walker.new"] == "method"
    assert found["Walker.next"] == "method", "impl Trait for Type names the type"
    assert found["Visit"] == "trait" and found["Visit.visit"] == "method"
    assert found["Error"] == "enum" and found["walk"] == "function"
    assert found["inner"] == "module" and found["inner.helper"] == "function"
    assert found["walk_all"] == "macro" and found["MAX_DEPTH"] == "variable"
    assert "Iterator" not in found and found["Walker.Item"] == "type"  # an associated type


def test_java_classes_methods_and_javadoc() -> None:
    found = names("src/main/java/com/google/gson/Gson.java", GSON_JAVA)
    assert found["Gson"] == "class" and found["Gson.toJson"] == "method"
    assert found["Gson.Adapter"] == "interface" and found["Gson.Adapter.write"] == "method"
    assert found["Gson.Policy"] == "enum"
    chunk = next(c for c in read_file("Gson.java", GSON_JAVA).chunks if "class Gson" in c.text)
    assert "This is the main class" in chunk.text and chunk.symbol == "Gson"


def test_code_chunks_are_labelled_with_qualified_names() -> None:
    long_method = "\n".join(f"    let x{i} = {i};" for i in range(70))
    text = f"pub struct Big;\n\nimpl Big {{\n    pub fn grow(&self) {{\n{long_method}\n    }}\n}}\n"
    symbols = {c.symbol for c in read_file("src/big.rs", text).chunks}
    assert "Big.grow" in symbols


def test_error_codes_are_symbols_where_defined_and_thrown() -> None:
    errors = [(d.name, d.kind, d.start_line) for d in read_file("lib/errors.js", ERRORS_JS).definitions
              if d.kind in ("error", "raise")]
    assert ("FST_ERR_ROUTE_MISSING_CONTENT_TYPE", "error", 5) in errors
    assert ("FST_ERR_BAD_URL", "error", 9) in errors
    thrown = [(d.name, d.kind, d.start_line) for d in read_file("lib/route.js", ROUTE_JS).definitions
              if d.kind == "raise"]
    assert thrown == [("FST_ERR_ROUTE_MISSING_CONTENT_TYPE", "raise", 19)]
    go = [(d.name, d.kind) for d in read_file("command.go", COMMAND_GO).definitions
          if d.kind in ("error", "raise")]
    assert go == [("ErrSubCommandRequired", "error"), ("ErrSubCommandRequired", "raise")]


def table(files: dict[str, str]) -> SymbolTable:
    entries = {}
    for path, text in files.items():
        chunked = read_file(path, text)
        starts = [c.start_line for c in chunked.chunks]
        entries[path] = FileEntry(
            blob="b", language="x", kind="code", chunks=[c.id for c in chunked.chunks],
            symbols=[(d.name, d.kind, d.start_line, d.end_line,
                      max(i for i, start in enumerate(starts) if start <= d.start_line))
                     for d in chunked.definitions])
    record = ProjectRecord(name="p", source="s", source_kind="local", commit="c", collection="c",
                           embedder="e", fingerprint="f", files=entries)
    return SymbolTable.of(record)


def test_an_error_code_finds_the_line_that_throws_it_then_its_definition() -> None:
    symbols = table({"lib/route.js": ROUTE_JS, "lib/errors.js": ERRORS_JS})
    found = [(s.path, s.kind, s.start_line) for s in symbols.find("FST_ERR_ROUTE_MISSING_CONTENT_TYPE")]
    assert found[:2] == [("lib/route.js", "raise", 19), ("lib/errors.js", "error", 5)]
    assert [s.path for s in symbols.find("ErrSubCommandRequired", classes_only=True)] == []
    go = table({"command.go": COMMAND_GO})
    assert go.find("ErrSubCommandRequired", classes_only=True)[0].kind == "raise"


def test_a_reexported_name_resolves_to_the_defining_file() -> None:
    symbols = table({"src/index.ts": INDEX_TS, "src/client.ts": CLIENT_TS})
    assert {s.path for s in symbols.find("createClient")} == {"src/client.ts"}
    assert symbols.find("Client.query")[0].path == "src/client.ts"


@pytest.mark.parametrize(("path", "is_test"), [
    ("command_test.go", True), ("internal/x/testdata/a.txt", True), ("src/router.test.ts", True),
    ("packages/server/src/__tests__/router.ts", True), ("src/router.spec.ts", True),
    ("src/test/java/com/x/GsonTest.java", True), ("benches/walk.rs", True), ("tests/cli.rs", True),
    ("types/route.test-d.ts", True),
    ("lib/route.js", False), ("src/main/java/com/x/Gson.java", False), ("cmd/root.go", False),
    ("crates/core/src/lib.rs", False),
])
def test_each_language_s_tests_are_tests(path: str, is_test: bool) -> None:
    spec = pathspec.GitIgnoreSpec.from_lines(Settings(_env_file=None).test_paths)  # type: ignore[call-arg]
    assert spec.match_file(path) is is_test


def test_every_language_declares_what_a_code_graph_needs() -> None:
    for language in languages():
        assert language.references and language.imports, language.name
        assert language.test_paths and language.extensions
        for extension in language.extensions:  # the file names it claims are read as it
            grammar, kind = detect(f"src/file{extension}")
            assert kind == "code" and by_grammar(grammar) is language, extension
    assert by_grammar("tsx") is by_grammar("typescript")
    assert "*.d.ts" in union("api_docs_paths") and "example_test.go" in union("api_docs_paths")


def test_error_codes_and_testing_questions_are_read() -> None:
    query = Query.parse("Why do I get FST_ERR_ROUTE_MISSING_CONTENT_TYPE on a GET route?")
    assert "FST_ERR_ROUTE_MISSING_CONTENT_TYPE" in query.names
    testing = Query.parse("How do I test my routes without a real port?")
    assert testing.about_testing and not testing.about_tests
    own = Query.parse("Where are the tests for the router?")
    assert own.about_tests and not own.about_testing


def test_a_question_naming_a_package_is_read() -> None:
    packages = {"server": "packages/server/", "react-query": "packages/react-query/",
                "client": "packages/client/"}
    assert named_packages(packages, "How do I use @trpc/server with express?") == ["packages/server/"]
    assert named_packages(packages, "Does react-query support suspense?") == ["packages/react-query/"]
    assert named_packages(packages, "How do I start the dev server?") == []
    assert named_packages(packages, "What does the client package export?") == ["packages/client/"]
    crates = {"searcher": "crates/searcher/", "ignore": "crates/ignore/"}
    assert named_packages(crates, "How do I use grep-searcher on a file?") == ["crates/searcher/"]
    assert named_packages(crates, "How do I search a file?") == []


ADOC = """= Gradle User Manual
:toc:

Intro text.

== Installing

Download it.

[source,groovy]
----
== not a heading
task hello {}
----

=== On Linux

Use the package manager.

////
== commented out
////

== Upgrading

Run the wrapper.
"""


def test_asciidoc_is_read_as_docs_sections() -> None:
    assert asciidoc_headings(ADOC.split("\n")) == [
        (0, 1, "Gradle User Manual"), (5, 2, "Installing"), (15, 3, "On Linux"), (23, 2, "Upgrading")]
    chunked = read_file("docs/userguide.adoc", ADOC)
    assert all(c.kind == "docs" for c in chunked.chunks)
    headings = [c.heading for c in chunked.chunks]
    assert "Gradle User Manual > Installing > On Linux" in headings
    assert "Gradle User Manual > Upgrading" in headings


MDX = """---
title: Server side calls
sidebar_label: Server calls
---

import Tabs from '@theme/Tabs';
export const meta = { draft: false };

# Server side calls

You may need to call your procedures from the server.

## Create a caller

<Tabs>
Use `createCaller`.
</Tabs>
"""


def test_mdx_front_matter_and_jsx_are_not_headings() -> None:
    lines = MDX.split("\n")
    assert markdown_headings(lines) == [(8, 1, "Server side calls"), (12, 2, "Create a caller")]
    chunked = read_file("www/docs/server/server-side-calls.mdx", MDX)
    assert chunked.chunks[-1].heading == "Server side calls > Create a caller"


DOCUMENTED_JS = """'use strict'

var send = require('send')
var app = exports = module.exports = {}

/**
 * Listen for connections.
 *
 * A node `http.Server` is returned, with this
 * application (which is a `Function`) as its
 * callback.
 *
 * @return {http.Server}
 * @public
 */

app.listen = function listen () {
  return server.listen.apply(server, arguments)
}

/**
 * Log error using console.error.
 *
 * @param {Error} err
 * @private
 */

function logerror (err) {
  console.error(err.stack || err.toString())
}
"""


def test_imports_are_not_definitions() -> None:
    found = names("lib/application.js", DOCUMENTED_JS)
    assert "send" not in found and found["app.listen"] == "function" and found["logerror"] == "function"


def test_public_doc_comments_read_like_docs() -> None:
    text = DOCUMENTED_JS + "\n" * 70 + "function tail () {}\n"  # long enough to be cut in several chunks
    chunked = read_file("lib/application.js", text.replace("\n\n/**\n * Log", "\n" * 40 + "/**\n * Log"))
    documented = {chunked.chunks[i].symbol for i in chunked.doc_chunks}
    assert "app.listen" in documented and "logerror" not in documented, "a @private doc is not API docs"
    rust = read_file("src/lib.rs", "/// Walks.\n/// Deeply.\n/// Fast.\npub fn walk() {}\n")
    assert rust.doc_chunks == [0]
    private = read_file("src/lib.rs", "/// Walks.\n/// Deeply.\n/// Fast.\nfn walk() {}\n")
    assert private.doc_chunks == []
    go = read_file("walk.go", "package walk\n\n// walk walks.\n// Deeply.\nfunc walk() {}\n")
    assert go.doc_chunks == [], "an unexported Go function is not API"
    crate = read_file("src/lib.rs", "//! The crate.\n//! Its front page.\n\nuse std::fs;\n")
    assert crate.doc_chunks == [0]


SPHINX_RST = """.. _quickstart:

Quickstart
==========

.. module:: walker

Use :func:`walker.walk` to walk a tree; see :ref:`advanced` and :class:`~walker.Walker`.

.. note::

   Walking follows symlinks only when asked.

Walking a tree
--------------

.. code-block:: python

   for path in walker.walk("."):
       print(path)

.. versionadded:: 2.0
   The ``follow`` argument.

Filtering
---------

Pass ``skip=`` to leave folders out.
"""


def test_sphinx_rst_is_read_as_docs_with_headings() -> None:
    chunked = read_file("docs/quickstart.rst", SPHINX_RST)
    headings = [c.heading for c in chunked.chunks]
    assert all(c.kind == "docs" for c in chunked.chunks)
    assert headings[-2:] == ["Quickstart > Walking a tree", "Quickstart > Filtering"]
    walking = chunked.chunks[-2]
    assert ".. code-block:: python" in walking.text and "versionadded" in walking.text


def test_asciidoc_listing_blocks_are_examples() -> None:
    from ragqa.answer.extractive import example_blocks

    lines = ADOC.split("\n")
    assert example_blocks(lines, "asciidoc") == [(9, 13)]


def test_rust_and_javadoc_paths_find_methods() -> None:
    assert Query.parse("What does Walker::new do?").names == ("Walker::new",)
    assert Query.parse("Does Gson#toJson accept null?").names == ("Gson#toJson",)
    rust = table({"src/lib.rs": LIB_RS})
    assert [(s.name, s.kind) for s in rust.find("Walker::new")] == [("Walker.new", "method")]
    java = table({"src/main/java/com/google/gson/Gson.java": GSON_JAVA})
    assert java.find("Gson#toJson")[0].name == "Gson.toJson"


def test_class_fields_bound_to_functions_are_methods() -> None:
    text = "class Router {\n  handle = (req) => req\n  count = 0\n}\n"
    expected = {"Router": "class", "Router.handle": "method", "Router.count": "variable"}
    assert names("lib/router.js", text) == expected and names("src/router.ts", text) == expected


OPTIONS = {
    "server.ts": ("interface ServerOptions {\n  keepAliveTimeout?: number\n  host: string\n}\n",
                  {"ServerOptions.keepAliveTimeout", "ServerOptions.host"}),
    "options.go": ("package x\n\ntype Options struct {\n\tTimeout, Idle time.Duration\n}\n",
                   {"Options.Timeout", "Options.Idle"}),
    "src/opts.rs": ("pub struct Opts { pub depth: usize }\npub enum Error { NotFound(String) }\n",
                    {"Opts.depth", "Error.NotFound"}),
    "A.java": ("class A { static final int MAX = 3, MIN = 1; enum E { X } }\n", {"A.MAX", "A.MIN", "A.E.X"}),
}


@pytest.mark.parametrize("path", sorted(OPTIONS))
def test_fields_options_and_variants_are_symbols(path: str) -> None:
    text, wanted = OPTIONS[path]
    assert wanted <= set(names(path, text))


def test_doc_comments_start_the_chunk_of_what_they_document() -> None:
    functions = "\n".join(f"// Step{i} runs step {i} of the pipeline.\n// It returns the count.\n"
                          f"func Step{i}(n int) int {{\n\treturn n + {i}\n}}\n" for i in range(40))
    chunks = read_file("steps.go", f"package steps\n\n{functions}").chunks
    assert len(chunks) > 2
    for chunk in chunks:
        last = [line for line in chunk.text.split("\n") if line.strip()][-1]
        assert not last.startswith("//"), f"a godoc was cut from its function at line {chunk.end_line}"
    js = "\n".join(f"/**\n * Step {i}.\n * @public\n */\n\nexports.step{i} = function (n) {{\n"
                   f"  return n\n}}\n" for i in range(30))
    for chunk in read_file("lib/steps.js", js).chunks:
        assert not chunk.text.rstrip().endswith("*/"), "a JSDoc was cut from what it documents"


def test_javadoc_of_interface_methods_is_api_docs() -> None:
    javadoc = "  /**\n   * Gson calls this back during serialization.\n   * Return Json.\n   */\n"
    public = f"public interface JsonSerializer<T> {{\n{javadoc}  JsonElement serialize(T src);\n}}\n"
    assert read_file("JsonSerializer.java", public).doc_chunks == [0]
    private = f"public class Gson {{\n{javadoc}  private JsonElement serialize(Object src) {{}}\n}}\n"
    assert read_file("Gson.java", private).doc_chunks == []


def test_a_named_function_exported_whole_is_defined() -> None:
    assert names("index.js", "module.exports = function fastify (options) {\n  return options\n}\n") == {
        "fastify": "function"}
    assert names("index.js", "module.exports = function (options) {}\nmodule.exports = fastify\n") == {}


RUST_PANIC = """ripgrep crashes on a symlink loop

thread 'main' panicked at crates/ignore/src/walk.rs:1042:17:
called `Option::unwrap()` on a `None` value
stack backtrace:
   0: rust_begin_unwind
             at /rustc/abc/library/std/src/panicking.rs:645:5
  12: ignore::walk::WalkParallel::visit
             at ./crates/ignore/src/walk.rs:1042:17
  13: grep::search::run::h0123456789abcdef
             at ./crates/core/search.rs:88:9
"""


def test_a_rust_panic_is_read_as_a_trace() -> None:
    from ragqa.report import looks_like_report, read_report

    assert looks_like_report(RUST_PANIC)
    (trace,) = read_report(RUST_PANIC).tracebacks
    assert trace.language == "rust" and trace.error == "panicked: called `Option::unwrap()` on a `None` value"
    assert trace.frames[-2:] == (Frame("crates/ignore/src/walk.rs", 1042, "visit"),
                                 Frame("/rustc/abc/library/std/src/panicking.rs", 645, "rust_begin_unwind"))
    assert trace.frames[0] == Frame("crates/core/search.rs", 88, "run")
    (short,) = read_report("thread 'main' panicked at 'index out of bounds', src/main.rs:10:5").tracebacks
    assert short.frames == (Frame("src/main.rs", 10, None),)
    assert short.error == "panicked: index out of bounds"


def test_a_front_matter_title_heads_a_page_without_one() -> None:
    page = "---\ntitle: 'Server side calls'\nslug: /server/calls\n---\n\nIntro text here.\nMore intro.\n\n" \
           "## Create a caller\n\nUse `createCaller`.\nIt takes a context.\n"
    headings = [c.heading for c in read_file("www/docs/server/calls.mdx", page).chunks]
    assert headings == ["Server side calls", "Server side calls > Create a caller"]
    with_h1 = read_file("www/docs/x.mdx", MDX).chunks
    assert with_h1[-1].heading == "Server side calls > Create a caller", "an H1 keeps its place"
