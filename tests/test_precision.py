"""The first source is the right one, offline answers quote the repo verbatim, and questions the
project cannot answer — or too vague to search for — are declined. Real git, real embedded
Chroma, the real local model."""

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

WEB = "https://github.com/acme/sample"
TIMEOUTS_MD = """# Timeouts

Every request has a timeout; the default is five seconds.

## Setting a default timeout

Pass `timeout=` to the client to change it for every request.

## Fine tuning the configuration

There are two phases: connecting, and reading the response. You can set a timeout
only for the connect phase and leave the read phase unlimited, or give each phase its own.
Both are set through the `Timeout` object.
A connect timeout bounds how long the client waits for the socket to open.
The read timeout bounds the wait for each piece of the response body.
If either runs out, the request fails with a timeout error.

```python
# A client with a 60s timeout for connecting, and none for reading.
timeout = sample.Timeout(None, connect=60.0)
client = sample.Client(timeout=timeout)
```
"""
STREAMING_MD = """# Streaming

Large downloads can be streamed instead of read into memory at once.

````markdown
Quote this example in your own docs:

```python
with demo.stream("GET", "https://www.example.com/big.bin") as response:
    for chunk in response.iter_bytes():
        sink.write(chunk)
```
````

The connection is released when the `with` block ends.
"""
TESTING_MD = """# Testing your application

To test code that uses sample without touching the network, give the client a
`MockTransport` that returns canned responses:

```python
def handler(request):
    return sample.Response(200, json={"ok": True})

client = sample.Client(transport=sample.MockTransport(handler))
```
"""
TIMEOUTS_PY = '''"""Timeout configuration."""


class Timeout:
    """Timeouts for the connect and read phases of a request."""

    def __init__(self, timeout=5.0, connect=None, read=None):
        self.connect = timeout if connect is None else connect
        self.read = timeout if read is None else read

    def connect_only(self):
        """A copy that bounds only the connect phase."""
        return Timeout(None, connect=self.connect)
'''
CLIENT_PY = '''"""The client."""

from sample.timeouts import Timeout


class Client:
    """Sends requests; every request gets the client's timeout unless it sets its own."""

    def __init__(self, timeout=None, transport=None):
        self.timeout = timeout if isinstance(timeout, Timeout) else Timeout(timeout or 5.0)
        self.transport = transport

    def send(self, request, timeout=None):
        timeout = timeout if isinstance(timeout, Timeout) else self.timeout
        return self.transport.handle(request, timeout.connect, timeout.read)
'''
TESTS_PY = '''from sample.timeouts import Timeout


def test_timeout_connect_only():
    timeout = Timeout(3.0).connect_only()
    assert timeout.connect == 3.0 and timeout.read is None


def test_timeout_connect_and_read():
    timeout = Timeout(3.0, connect=1.0)
    assert timeout.connect == 1.0 and timeout.read == 3.0
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Answerer, GitRepo]]:
    root = tmp_path_factory.mktemp("precision")
    repo = GitRepo(root / "sample")
    repo.write("docs/timeouts.md", TIMEOUTS_MD).write("docs/streaming.md", STREAMING_MD)
    repo.write("docs/testing.md", TESTING_MD).write("src/sample/timeouts.py", TIMEOUTS_PY)
    repo.write("src/sample/client.py", CLIENT_PY).write("tests/test_timeouts.py", TESTS_PY)
    repo.write("README.md", "# sample\n\nA tiny HTTP client with timeouts, streaming and a mock transport.\n")
    repo.commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    yield Answerer(settings), repo


def test_a_how_to_gets_the_docs_section_first(project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    answer = answerer.ask("How do I set a timeout only for the connect phase?")
    assert answer.sources[0].path == "docs/timeouts.md"
    steps = "The steps, from **Fine tuning the configuration** in `docs/timeouts.md`:"
    assert answer.answer.startswith(steps)
    assert "timeout = sample.Timeout(None, connect=60.0)" in answer.answer, "the example is quoted"


def test_a_where_question_gets_the_definition_first(project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    answer = answerer.ask("Where is the Timeout class implemented?")
    assert answer.sources[0].path == "src/sample/timeouts.py"
    assert answer.answer.startswith("`Timeout` is defined in `src/sample/timeouts.py`")
    assert "class Timeout:" in answer.answer


def test_testing_with_the_project_is_not_its_own_test_suite(project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    answer = answerer.ask("How do I write tests for my code that uses sample, without a network?")
    assert answer.sources[0].path == "docs/testing.md"
    own = answerer.ask("Which tests cover Timeout.connect_only?")
    assert own.sources[0].path == "tests/test_timeouts.py"


def test_quotes_are_the_files_lines_even_with_nested_fences(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    answer = answerer.ask("How do I stream a large download instead of reading it into memory?")
    assert "docs/streaming.md" in [source.path for source in answer.sources[:3]]
    assert 'demo.stream("GET", "https://www.example.com/big.bin")' in answer.answer
    assert answer.links_removed == []
    assert_quotes_are_exact(answer, repo)


def assert_quotes_are_exact(answer: Answer, repo: GitRepo) -> None:
    """Every fenced excerpt equals `git show <commit>:<path>` at the lines of the link above it."""
    quotes = re.findall(r"\*\*\[[^\n]*\]\(([^)\s]+)\)\*\*[^\n]*\n\n(`{3,})[^\n]*\n(.*?)\n\2\n",
                        answer.answer, re.DOTALL)
    assert quotes, answer.answer
    for url, _fence, body in quotes:
        path, start, end = re.match(rf"{WEB}/blob/{answer.commit}/(.+)#L(\d+)-L(\d+)$", url).groups()
        lines = split_lines(repo.show(answer.commit, path))
        assert body == "\n".join(lines[int(start) - 1:int(end)])
    assert altered_quotes(answer, git_files(repo.root)) == []


def test_every_answer_quotes_exactly(project: tuple[Answerer, GitRepo]) -> None:
    answerer, repo = project
    for question in ("What does connect_only return?", "How does the client pick a timeout for a request?",
                     "How do I give the client a mock transport?", "When is the connection released?"):
        assert_quotes_are_exact(answerer.ask(question), repo)


def test_capabilities_the_project_lacks_are_declined_in_plain_english(
        project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    for question in ("Does sample support HTTP/3 over QUIC?", "Is there a built-in rate limiter?",
                     "Can sample send emails over SMTP?", "How do I configure `sample.CircuitBreaker`?"):
        answer = answerer.ask(question)
        assert answer.answer == "Hmm, I'm not sure." and not answer.answered, question
    assert answerer.ask("Does the client support a connect timeout?").answered


def test_a_vague_question_gets_the_projects_topics(project: tuple[Answerer, GitRepo]) -> None:
    answerer, _ = project
    for question in ("help", "how does it work?"):
        answer = answerer.ask(question)
        assert not answer.answered and answer.answer.startswith("Hmm, I'm not sure.")
        assert "Timeouts" in answer.answer and "Streaming" in answer.answer, answer.answer
        assert "](" not in answer.answer, "topics are text, not links"


def test_a_real_users_question_with_their_own_names_and_code_is_answered(
        project: tuple[Answerer, GitRepo]) -> None:
    """Questions as users write them in issue trackers carry their own variables, files and
    code: beside more of the project's own names (`connect_only`, `Timeout`), the names it does
    not have are the asker's; a long question is judged on what its head asks as well."""
    answerer, _ = project
    short = ("How do I bound only the connect phase? My `nightly_job` in `jobs.py` builds a "
             "`Timeout(3.0)` and calls `connect_only()` on it.")
    assert answerer.ask(short).answered
    long = ("How to only bound the connect phase of a request?\n\nI want the connection to be opened "
            "within 2 seconds but the download may take as long as it needs. Here is my setup:\n\n"
            "```python\nimport nightly_reports\n\nreporter = nightly_reports.Reporter(bucket='acme-prod')\n"
            "for day in reporter.days_missing():\n    reporter.fetch(day, retries=3)\n```\n\n"
            "Our scheduler runs this every night on a box behind a slow proxy and sometimes the whole "
            "job hangs for an hour, so I tried several timeout values but they kill the downloads too. "
            "The files are large (several gigabytes each) and the proxy is slow to accept a connection "
            "but fast once it has one, so one timeout for everything does not fit.")
    assert len(long) > 600 and answerer.ask(long).answered
    assert not answerer.ask("What does `torch.compile(mode='reduce-overhead')` change?").answered
