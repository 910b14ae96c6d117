"""The offline answer reads like an answer (issue #25, point 3) and a question about something the
project has nothing about is declined (point 4): real git, real embedded Chroma, the real local
model, the real `Answerer`.

The repository imitates what a new user met on a small ASGI server: an option defined in a
settings class and read by a protocol class, a settings page with `## HTTP` and `## HTTPS`
sections, a deployment page with several sections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from ragqa.answer import Answer, Answerer
from ragqa.chunking import split_lines
from ragqa.evaluation import altered_quotes, git_files
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo

WEB = "https://github.com/acme/server"
CONFIG_PY = '''"""Server configuration."""

import ssl


class Config:
    """Everything the server can be told, with its defaults."""

    def __init__(
        self,
        app,
        host: str = "127.0.0.1",
        port: int = 8000,
        uds: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_certfile: str | None = None,
        timeout_keep_alive: int = 5,  # close Keep-Alive connections idle for this many seconds
        limit_concurrency: int | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.uds = uds
        self.ssl_keyfile = ssl_keyfile
        self.ssl_certfile = ssl_certfile
        self.timeout_keep_alive = timeout_keep_alive
        self.limit_concurrency = limit_concurrency

    @property
    def is_ssl(self) -> bool:
        """Whether the server speaks TLS: both a key file and a certificate are set."""
        return bool(self.ssl_keyfile and self.ssl_certfile)

    def load_ssl_context(self) -> ssl.SSLContext:
        """An SSL context from the key file and the certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context
'''
PROTOCOL_PY = '''"""The HTTP/1.1 protocol of the server."""


class H11Protocol:
    """One connection speaking HTTP/1.1."""

    def __init__(self, config, loop):
        self.config = config
        self.loop = loop
        self.timeout_keep_alive_task = None
        self.transport = None

    def eof_received(self):
        """The client closed its end of the connection."""
        pass

    def _unset_keepalive_if_required(self):
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def on_response_complete(self):
        """Arm the keep-alive timer once a response is sent."""
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            self.config.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def timeout_keep_alive_handler(self):
        """Close the idle connection."""
        if self.transport is not None:
            self.transport.close()
'''
SETTINGS_MD = """# Settings

Every option can be given on the command line or to `Config`.

## Socket binding

* `--host <str>` - Bind socket to this host. **Default:** *'127.0.0.1'*.
* `--port <int>` - Bind to a socket with this port. **Default:** *8000*.
* `--uds <path>` - Bind to a UNIX domain socket, for use behind a reverse proxy on the same
  machine.

## HTTP

* `--h11-max-incomplete-event-size <int>` - Set the maximum number of bytes to buffer of an
  incomplete event. Only available for the h11 HTTP implementation.
* `--root-path <str>` - Set the ASGI `root_path` for applications submounted below a given URL
  path. The HTTP server reads it from each request and the HTTP application sees it unchanged.

## HTTPS

The server speaks TLS when it is given a key file and a certificate. To enable HTTPS, pass
both on the command line:

* `--ssl-keyfile <path>` - The SSL key file.
* `--ssl-certfile <path>` - The SSL certificate file.

```
server main:app --ssl-keyfile=./key.pem --ssl-certfile=./cert.pem
```

## Timeouts

* `--timeout-keep-alive <int>` - Close Keep-Alive connections if no new data is received
  within this timeout. **Default:** *5*.
* `--timeout-graceful-shutdown <int>` - Maximum number of seconds to wait for graceful
  shutdown.
"""
DEPLOYMENT_MD = """# Deployment

Running the server well in production takes a process manager and, often, a proxy.

## Built-in

The server can run several worker processes itself: pass `--workers 4` and it restarts any
worker that dies.

## Gunicorn

Gunicorn is a mature process manager. Use the server's worker class with it:

```
gunicorn example:app -w 4 -k server.workers.ServerWorker
```

## Running behind Nginx

Nginx in front of the server terminates TLS and serves static files. Point its `proxy_pass` at
the server's UNIX domain socket (`--uds`).
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Answerer, GitRepo]]:
    root = tmp_path_factory.mktemp("forms")
    repo = GitRepo(root / "server")
    repo.write("server/config.py", CONFIG_PY).write("server/protocols/h11.py", PROTOCOL_PY)
    repo.write("docs/settings.md", SETTINGS_MD).write("docs/deployment.md", DEPLOYMENT_MD)
    repo.write("README.md", "# Server\n\nA small ASGI web server.\n")
    repo.commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    yield Answerer(settings), repo


QUOTE_HEAD = re.compile(r"^\*\*\[([^\]#]+)#L(\d+)-L(\d+)\]\([^)]*\)\*\*(?: — (.*))?$", re.MULTILINE)
REFERENCE = re.compile(r"^- \[([^\]#]+)#L(\d+)-L(\d+)\]\([^)]*\)(?: — (.*))?$", re.MULTILINE)


def quotes(answer: Answer) -> list[tuple[str, int, int, str]]:
    """(path, start, end, label) of each quote, in order."""
    return [(path.replace("\\", ""), int(start), int(end), label or "")
            for path, start, end, label in QUOTE_HEAD.findall(answer.answer)]


def lead(answer: Answer) -> str:
    return answer.answer.split("\n", 1)[0]


def assert_true_to_the_repo(answer: Answer, repo: GitRepo) -> None:
    assert altered_quotes(answer, git_files(repo.root)) == []


def test_a_quote_is_labelled_by_the_definition_it_quotes(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    answer = answerer.ask("Where is the keep-alive task cancelled in `_unset_keepalive_if_required`?")
    path, start, _, label = quotes(answer)[0]
    assert path == "server/protocols/h11.py"
    first_line = split_lines(repo.show(answer.commit, path))[start - 1]
    assert "def _unset_keepalive_if_required" in first_line
    assert label == "`H11Protocol._unset_keepalive_if_required`", "not the chunk's first symbol"
    assert_true_to_the_repo(answer, repo)


def test_references_carry_the_labels_of_the_quotes(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    for question in ("How do I run the server under Gunicorn?", "How do I enable HTTPS?",
                     "What does `timeout_keep_alive` do?"):
        answer = answerer.ask(question)
        references = {path.replace("\\", ""): label for path, _, _, label in REFERENCE.findall(answer.answer)}
        for path, _, _, _ in quotes(answer):
            assert references.get(path) is not None, answer.answer
        first_by_path: dict[str, str] = {}
        for path, _, _, label in quotes(answer):
            first_by_path.setdefault(path, label)
        for path, label in first_by_path.items():
            assert references[path] == label, (question, answer.answer)
        assert_true_to_the_repo(answer, repo)


def test_a_heading_that_matches_the_question_wins_inside_its_page(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    answer = answerer.ask("How do I enable HTTPS?")
    settings_quotes = [q for q in quotes(answer) if q[0] == "docs/settings.md"]
    assert settings_quotes, answer.answer
    path, start, end, label = settings_quotes[0]
    lines = split_lines(repo.show(answer.commit, path))[start - 1:end]
    assert label == "HTTPS" and "## HTTP" not in lines, answer.answer
    assert any("--ssl-keyfile" in line for line in lines)


def test_an_option_leads_to_the_line_that_defines_it(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    answer = answerer.ask("What does `timeout_keep_alive` do?")
    quoted = [split_lines(repo.show(answer.commit, path))[start - 1:end]
              for path, start, end, _ in quotes(answer)]
    defining = ("timeout_keep_alive: int = 5", "--timeout-keep-alive <int>")
    assert any(d in line for lines in quoted for line in lines for d in defining), answer.answer
    assert lead(answer).startswith("`timeout_keep_alive` ("), lead(answer)
    assert "Keep-Alive connections" in lead(answer), "what it does, in the definition's own words"


def test_the_lead_says_what_a_definition_does_from_its_docstring(project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    answer = answerer.ask("What does `Config.load_ssl_context` do?")
    assert lead(answer) == ("`Config.load_ssl_context` (`server/config.py`): An SSL context from the key "
                            "file and the certificate."), lead(answer)


def test_a_yes_no_question_gets_yes_first_only_with_evidence(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    answer = answerer.ask("Does the server support UNIX domain sockets?")
    assert answer.answered and lead(answer).startswith("Yes — "), lead(answer)
    assert_true_to_the_repo(answer, repo)
    vague = answerer.ask("Can the server limit concurrency while draining gracefully at shutdown?")
    if vague.answered:
        assert not lead(vague).startswith(("Yes", "No")) or "concurrency" in vague.answer.lower()


def test_a_how_to_gets_the_steps_and_a_where_gets_the_place(project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    how = answerer.ask("How do I enable HTTPS?")
    assert lead(how).startswith("The steps, from "), lead(how)
    where = answerer.ask("Where is the idle connection closed after the keep-alive timeout?")
    path, start, end, _ = quotes(where)[0]
    place = re.escape(f"`{path}`, lines {start}–{end}")
    assert re.match(rf"^(In {place}|`[^`]+` is defined in {place})", lead(where)), lead(where)


def test_quotes_start_and_end_at_a_boundary(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    for question in ("How do I enable HTTPS?", "What does `timeout_keep_alive` do?",
                     "How do I run the server behind Nginx?", "How is the keep-alive timer armed?"):
        answer = answerer.ask(question)
        for path, start, end, _ in quotes(answer):
            lines = split_lines(repo.show(answer.commit, path))
            before = lines[start - 2] if start > 1 else ""
            after = lines[end] if end < len(lines) else ""
            first, last = lines[start - 1], lines[end - 1]
            if path.endswith(".md"):
                assert not before.strip() or first.startswith(("#", "* ", "```")), (question, first)
                assert not after.strip() or after.startswith(("#", "* ", "```")), (question, last, after)
            else:
                opens = first.lstrip().startswith(("def ", "class ", "@", "#"))
                assert not before.strip() or opens, (question, first)
                assert not after.strip() or after.lstrip().startswith(("def ", "@")), (question, last, after)
        assert_true_to_the_repo(answer, repo)


def test_a_question_about_an_unrelated_product_is_declined(project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    for question in ("Does the server support Salesforce objects?",
                     "How do I deploy the server on Kubernetes with Helm charts?"):
        answer = answerer.ask(question)
        assert not answer.answered and answer.answer == "Hmm, I'm not sure.", (question, answer.answer)
    assert answerer.ask("How do I bind the server to a UNIX domain socket?").answered


COMMAND_GO = '''package cobra

// Command is just that, a command for your application.
type Command struct {
	// Use is the one-line usage message.
	Use string
	// Run: Typically the actual work function.
	Run func(cmd *Command, args []string)
	flags *FlagSet
	pflags *FlagSet
}

// PersistentFlags returns the persistent FlagSet specifically set in the current command.
func (c *Command) PersistentFlags() *FlagSet {
	if c.pflags == nil {
		c.pflags = NewFlagSet(c.Name())
	}
	return c.pflags
}

// MarkFlagRequired instructs the various shell completion implementations to
// prioritize the named flag when performing completion,
// and causes your command to report an error if invoked without the flag.
func (c *Command) MarkFlagRequired(name string) error {
	return MarkFlagRequired(c.Flags(), name)
}

// ExecuteC executes the command and returns the command that ran.
func (c *Command) ExecuteC() (cmd *Command, err error) {
	args := c.args
	cmd, flags, err = c.Find(args)
	if err != nil {
		return c, err
	}
	err = cmd.execute(flags)
	return cmd, err
}
'''


@pytest.fixture(scope="module")
def go_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Answerer]:
    root = tmp_path_factory.mktemp("go")
    repo = GitRepo(root / "cobra")
    repo.write("command.go", COMMAND_GO).write("README.md", "# cobra\n\nA library for CLI applications.\n")
    repo.commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    yield Answerer(settings)


def test_go_questions_with_few_english_words_are_answered(go_project: Answerer) -> None:
    for question in ("How do I make a flag required?", "What does `MarkFlagRequired` do?",
                     "Where is `ExecuteC`?", "PersistentFlags vs Flags?"):
        answer = go_project.ask(question)
        assert answer.answered and answer.sources[0].path == "command.go", (question, answer.answer)
    answer = go_project.ask("What does `MarkFlagRequired` do?")
    said = "`MarkFlagRequired` (`command.go`): MarkFlagRequired instructs the various"
    assert lead(answer).startswith(said), lead(answer)
    # the symbol table's name (qualifying Go methods by receiver is the symbols' work, not the label's)
    assert quotes(answer)[0][3] in ("`Command.MarkFlagRequired`", "`MarkFlagRequired`")
    first_line = COMMAND_GO.split("\n")[quotes(answer)[0][1] - 1]
    assert first_line.startswith("// MarkFlagRequired"), "its doc comment is quoted too"
