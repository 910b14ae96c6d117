"""Projects in other languages answered as well as Python ones: a JavaScript/TypeScript
monorepo with a Go tool, ingested from a real git repository into real Chroma with the real
local model, asked through the `Answerer` offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ragqa import ingest
from ragqa.answer import Answerer
from ragqa.ingest import Ingester, IngestRequest
from ragqa.query import Query
from ragqa.retrieve.project import Filters
from ragqa.retrieve.retriever import Retriever, message_sites
from ragqa.settings import Settings
from tests.conftest import GitRepo
from tests.test_languages import CLIENT_TS, COMMAND_GO, DOC_GO, ERRORS_JS, INDEX_TS, ROUTE_JS

WEB = "https://github.com/acme/fastweb"
ERRORS_MD = """# Errors

## Error Codes

#### FST_ERR_ROUTE_MISSING_CONTENT_TYPE

A route was declared without a content type. The error FST_ERR_ROUTE_MISSING_CONTENT_TYPE is
raised when the route is registered: set `contentType` on the route options to fix it.

#### FST_ERR_BAD_URL

The router received an invalid url.
"""
ROUTES_MD = """# Routes

## Route options

Each route takes options: `method`, `url`, `handler`, `contentType`. A route without a
content type is rejected when it is registered. `buildRoute` builds the route from its options.

## Full declaration

```js
app.route({ method: 'GET', url: '/', contentType: 'application/json', handler })
```
"""
TESTING_MD = """# Testing

Testing is one of the most important parts of developing an application. Fastweb lets you
test your routes without listening on a real port: `app.inject()` fakes an HTTP request and
returns the response your handlers produce.

```js
const response = await app.inject({ method: 'GET', url: '/' })
console.log(response.statusCode)
```
"""
ROUTE_TEST_JS = """'use strict'
const { test } = require('node:test')
const Fastweb = require('..')

test('routes listen on a real port', async (t) => {
  const app = Fastweb()
  app.get('/', (req, reply) => reply.send('ok'))
  await app.listen({ port: 0 })
  t.after(() => app.close())
})

test('routes without a port are tested with inject', async (t) => {
  const app = Fastweb()
  app.get('/', (req, reply) => reply.send('ok'))
  const response = await app.inject({ method: 'GET', url: '/' })
  t.assert.strictEqual(response.statusCode, 200)
})

test('route testing on a port after listen', async (t) => {
  const app = Fastweb()
  await app.listen({ port: 0 })
})
"""
TYPES_DTS = """/** Where and how the server listens for new connections. */
export interface ListenOptions {
  port: number
  host?: string  // '0.0.0.0' listens on every interface
  backlog?: number
  signal?: AbortSignal
}
export declare function listen(options: ListenOptions): Promise<string>
"""
EXAMPLE_GO = """package cobra_test

// This example shows how to run a command with its arguments.
func ExampleCommand_Execute() {
	cmd := &cobra.Command{Use: "hugo"}
	cmd.SetArgs([]string{"serve"})
	cmd.Execute()
}
"""
COMMAND_TEST_GO = """package cobra

import "testing"

func TestCommandExecuteWithArgs(t *testing.T) {
	cmd := &Command{Use: "run"}
	cmd.SetArgs([]string{"serve"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
}
"""
SERVER_README = """# @fastweb/server

The server package. Install it with `npm install @fastweb/server` and create a router with
`createRouter()`: every procedure you add becomes an endpoint.
"""
CLIENT_README = """# @fastweb/client

The client package. Install it with `npm install @fastweb/client` and call `createClient(url)`
to talk to a router.
"""
ROOT_README = """# fastweb

Fast and low overhead web framework, with a typed client and server and a command line tool.
Install the packages you need, then read the guides in `docs/`.
"""


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Answerer]:
    root = tmp_path_factory.mktemp("languages")
    repo = GitRepo(root / "fastweb")
    files = {
        "lib/route.js": ROUTE_JS, "lib/errors.js": ERRORS_JS, "docs/Reference/Errors.md": ERRORS_MD,
        "docs/Reference/Routes.md": ROUTES_MD,
        "docs/Guides/Testing.md": TESTING_MD, "test/route.test.js": ROUTE_TEST_JS,
        "packages/client/src/client.ts": CLIENT_TS, "packages/client/src/index.ts": INDEX_TS,
        "packages/client/README.md": CLIENT_README, "packages/server/README.md": SERVER_README,
        "types/fastweb.d.ts": TYPES_DTS, "cmd/fastweb/command.go": COMMAND_GO,
        "cmd/fastweb/doc.go": DOC_GO, "README.md": ROOT_README,
        "cmd/fastweb/example_test.go": EXAMPLE_GO, "cmd/fastweb/command_test.go": COMMAND_TEST_GO,
    }
    for path, text in files.items():
        repo.write(path, text)
    repo.commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    yield Answerer(settings)


def first(answerer: Answerer, question: str) -> tuple[str, int, int]:
    source = answerer.ask(question).sources[0]
    return source.path, source.start_line, source.end_line


def test_an_error_code_leads_to_the_line_that_throws_it(answerer: Answerer) -> None:
    for question in ("Why do I get FST_ERR_ROUTE_MISSING_CONTENT_TYPE?",
                     "What causes FST_ERR_ROUTE_MISSING_CONTENT_TYPE when I register a route?"):
        path, start, end = first(answerer, question)
        assert path == "lib/route.js" and start <= 19 <= end, question


def test_how_to_test_gets_the_testing_guide_not_the_project_s_tests(answerer: Answerer) -> None:
    assert first(answerer, "How do I test my routes without a real port?")[0] == "docs/Guides/Testing.md"


def test_a_reexported_name_leads_to_its_definition(answerer: Answerer) -> None:
    assert first(answerer, "Where is `createClient` defined?")[0] == "packages/client/src/client.ts"


def test_a_go_method_is_found_by_its_receiver(answerer: Answerer) -> None:
    path, start, end = first(answerer, "What does Command.Execute do?")
    assert path == "cmd/fastweb/command.go" and start <= 15 <= end


def test_a_go_package_comment_answers_what_the_package_is(answerer: Answerer) -> None:
    assert first(answerer, "What is cobra?")[0] == "cmd/fastweb/doc.go"


def test_a_question_naming_a_package_gets_that_package(answerer: Answerer) -> None:
    assert first(answerer, "How do I install @fastweb/server?")[0] == "packages/server/README.md"


def test_a_quoted_message_leads_to_the_line_that_defines_or_throws_it(answerer: Answerer) -> None:
    project = answerer.project("fastweb")
    sites = message_sites(project, Query.parse('Why "is not a valid url component"?').messages, Filters())
    assert {project.chunk_paths[chunk_id]: strength for chunk_id, strength in sites} == {"lib/errors.js": 1.0}
    path, start, end = first(answerer, 'Why do I get "subcommand is required"?')
    assert path == "cmd/fastweb/command.go" and start <= 6 <= end


def test_declarations_and_doc_comments_rank_like_docs_for_a_how_to(answerer: Answerer) -> None:
    project = answerer.project("fastweb")
    query = Query.parse("How do I listen on every interface?")
    settings = answerer.settings

    def score(api_docs_paths: list[str]) -> float:
        retriever = Retriever(settings.model_copy(update={"api_docs_paths": api_docs_paths}),
                              answerer.retriever.embedder)
        ranked = retriever.rank(project, query).fused
        return next(s for chunk_id, s in ranked if project.chunk_paths[chunk_id] == "types/fastweb.d.ts")

    assert score(["*.d.ts"]) > score([]) * 1.3
    go_doc = next(c for c in project.doc_chunks if project.chunk_paths[c] == "cmd/fastweb/doc.go")
    assert go_doc, "the package comment reads like docs"


def test_a_go_testable_example_is_docs_not_a_test(answerer: Answerer) -> None:
    project = answerer.project("fastweb")
    query = Query.parse("How do I run a command with arguments?")
    ranked = [project.chunk_paths[chunk_id] for chunk_id, _ in answerer.retriever.rank(project, query).fused]
    assert ranked.index("cmd/fastweb/example_test.go") < ranked.index("cmd/fastweb/command_test.go")


def test_a_chunker_upgrade_relabels_stored_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(tmp_path / "tool")
    repo.write("command.go", COMMAND_GO).commit("initial")
    settings = Settings(storage_dir=tmp_path / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    monkeypatch.setattr(ingest, "CHUNKER_VERSION", "chunker-old")
    Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    store = Answerer(settings).project("tool").store
    ids = store.all_ids()
    store.collection.update(ids=list(ids), metadatas=[{"symbol": "Execute"}] * len(ids))  # as labelled before
    monkeypatch.undo()
    summary = Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    assert summary.embedded == 0, "the same lines keep their vectors"
    labels = {chunk.metadata["symbol"] for chunk in store.get(sorted(ids))}
    assert "Command.Execute" in labels or "Command" in labels
    assert "Execute" not in labels
