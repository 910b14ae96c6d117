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
