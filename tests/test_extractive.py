"""Choosing the lines to quote: the key line inside, examples whole, labelled by the part quoted."""

from __future__ import annotations

from ragqa.answer import extractive
from ragqa.query import Query
from ragqa.retrieve import Part, Passage

RST = """Timeouts
--------

Most requests to external servers should have a timeout attached, in case the
server is not responding in a timely manner. By default, requests do not time out
unless a timeout value is set explicitly. Without a timeout, your code may hang for
minutes or more.

The **connect** timeout is the number of seconds Requests will wait for your
client to establish a connection to a remote machine call on the socket.
It's a good practice to set connect timeouts to slightly larger than a multiple of 3.

Once your client has connected to the server and sent the HTTP request, the
**read** timeout is the number of seconds the client will wait for the server.

If you specify a single value for the timeout, like this::

    r = requests.get('https://github.com', timeout=5)

The timeout value will be applied to both the connect and the read
timeouts. Specify a tuple if you would like to set the values separately::

    r = requests.get('https://github.com', timeout=(3.05, 27))
    r.raise_for_status()

Retries
-------

Nothing about timeouts here."""


def passage(text: str, language: str, kind: str, parts: list[Part], start: int = 100) -> Passage:
    return Passage(path="docs/x", start_line=start, end_line=start + text.count("\n"), text=text,
                   language=language, kind=kind, score=1.0, parts=parts)


def test_the_example_is_quoted_whole_and_labelled_by_its_section() -> None:
    text = RST
    end_of_timeouts = 100 + text.split("\n").index("Retries") - 1
    parts = [Part(100, end_of_timeouts, "", "Guide > Timeouts"),
             Part(end_of_timeouts + 1, 100 + text.count("\n"), "", "Guide > Retries")]
    quoted = extractive.excerpt(passage(text, "rst", "docs", parts),
                                Query.parse("How do I set separate connect and read timeouts?"),
                                lambda term: 1.0)
    assert "timeout=(3.05, 27))\n    r.raise_for_status()" in quoted.text, "the example is not cut"
    assert quoted.title == "Timeouts"
    lines = text.split("\n")
    assert quoted.text == "\n".join(lines[quoted.start_line - 100:quoted.end_line - 99])
    assert quoted.end_line - quoted.start_line + 1 <= extractive.MAX_EXCERPT_LINES


def test_the_defining_line_of_a_named_symbol_is_quoted() -> None:
    body = "\n".join(f"    x{n} = compute({n})  # connect timeout helper line" for n in range(30))
    code = f"class Session:\n    def other(self):\n{body}\n\n    def connect_only(self):\n        return 1"
    lines = code.split("\n")
    definition = 500 + lines.index("    def connect_only(self):")
    quoted = extractive.excerpt(
        passage(code, "python", "code", [Part(500, 500 + len(lines) - 1, "Session", "")], start=500),
        Query.parse("What does connect_only return for a connect timeout?"), lambda term: 1.0,
        definitions=[definition])
    assert "def connect_only(self):" in quoted.text and quoted.title == "`Session`"


def test_markdown_blocks_and_rst_literals_are_found() -> None:
    markdown = "Intro\n\n```python\na = 1\nb = 2\n```\n\ntext\n\n    indented\n"
    assert extractive.example_blocks(markdown.split("\n"), "markdown") == [(2, 5), (9, 9)]
    assert extractive.example_blocks(RST.split("\n"), "rst")[0][0] == RST.split("\n").index(
        "If you specify a single value for the timeout, like this::")


PARAGRAPHS = """Intro
=====

The pool keeps connections open between requests so that the next
request to the same host skips the handshake. Connections go back to
the pool once the body is read, and the pool closes idle ones after a
keep-alive timeout of five seconds.

Another paragraph about something else entirely, with no shared words.
"""


def test_a_quote_starts_and_ends_at_its_paragraph() -> None:
    text = PARAGRAPHS
    lines = text.split("\n")
    parts = [Part(1, 1 + text.count("\n"), "", "Intro")]
    quoted = extractive.excerpt(passage(text, "rst", "docs", parts, start=1),
                                Query.parse("What is the keep-alive timeout of idle connections?"),
                                lambda term: 1.0)
    assert lines[quoted.start_line - 1].startswith(("The pool keeps", "Intro")), "not mid-sentence"
    assert "five seconds." in quoted.text and not lines[quoted.end_line].strip(), "whole paragraphs"
    assert quoted.title == "Intro"


def test_a_docs_quote_is_labelled_by_the_heading_above_its_lines() -> None:
    text = ("# Deployment\n\n## Built-in\n\nRun workers with `--workers 4`.\n\n"
            "## Gunicorn\n\nUse the worker class.\n")
    parts = [Part(1, 10, "", "Deployment > Built-in")]  # the chunk's heading path is its first section's
    quoted = extractive.excerpt(passage(text, "markdown", "docs", parts, start=1),
                                Query.parse("Which worker class do I use with Gunicorn?"), lambda term: 1.0)
    assert "Use the worker class." in quoted.text and quoted.title == "Gunicorn"


def test_a_code_quote_is_labelled_by_the_definition_it_quotes() -> None:
    from ragqa.index.symbols import Symbol

    code = ("class H11Protocol:\n    def eof_received(self):\n        pass\n\n"
            "    def _unset_keepalive_if_required(self):\n"
            "        if self.timeout_keep_alive_task is not None:\n"
            "            self.timeout_keep_alive_task.cancel()\n")
    symbols = [Symbol("H11Protocol", "class", "docs/x", 1, 7, "c"),
               Symbol("H11Protocol.eof_received", "method", "docs/x", 2, 3, "c"),
               Symbol("H11Protocol._unset_keepalive_if_required", "method", "docs/x", 5, 7, "c")]
    parts = [Part(1, 7, "H11Protocol.eof_received", "")]
    quoted = extractive.excerpt(passage(code, "python", "code", parts, start=1),
                                Query.parse("When is the keep-alive task cancelled?"), lambda term: 1.0,
                                symbols=symbols)
    assert quoted.text.startswith("    def _unset_keepalive_if_required")
    assert quoted.title == "`H11Protocol._unset_keepalive_if_required`"


def test_a_heading_holding_the_questions_own_word_wins_over_one_that_stems_alike() -> None:
    text = ("# Settings\n\n## HTTP\n\nThe HTTP server reads the root path from each HTTP request.\n\n"
            "## HTTPS\n\nPass a key file and a certificate to serve HTTPS.\n")
    quoted = extractive.excerpt(passage(text, "markdown", "docs", [Part(1, 10, "", "Settings")], start=1),
                                Query.parse("How do I enable HTTPS?"), lambda term: 1.0)
    assert quoted.title == "HTTPS" and "## HTTP\n" not in quoted.text
