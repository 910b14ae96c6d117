"""The one place where text a user sees is composed from repository content.

Headings, symbols, paths and project names come from a repository, so they are untrusted: here
they become plain text (`ragqa.markdown.plain_text`: link, autolink, HTML and bare-URL syntax
neutralised) or inline code, and quotes are fenced with a fence longer than any inside them.
Every front door — the CLI, `/ask` and its SSE events, the chat endpoint, Slack — shows answers
built here and then passed through the link guard, so a new front door cannot forget either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from ragqa.markdown import fence_for, inline_code, plain_text
from ragqa.query import Query

if TYPE_CHECKING:
    from ragqa.answer.extractive import Excerpt

ABSTAIN = "Hmm, I'm not sure."


class Linked(Protocol):
    """A source as the References list shows it."""

    @property
    def path(self) -> str: ...

    @property
    def start_line(self) -> int: ...

    @property
    def end_line(self) -> int: ...

    @property
    def url(self) -> str: ...

    @property
    def title(self) -> str: ...


def title(symbol: str, heading: str) -> str:
    """A source's title as safe Markdown: its symbol as code, else its innermost heading as text."""
    if symbol:
        return inline_code(symbol)
    return plain_text(heading.rsplit(" > ", 1)[-1])


def label(path: str, start: int, end: int) -> str:
    """`path#Lstart-Lend` as safe link text."""
    return plain_text(f"{path}#L{start}-L{end}")


def references(sources: Sequence[Linked]) -> str:
    """The closing list: a link to each source's lines, with its title."""
    if not sources:
        return ""
    items = "\n".join(f"- [{label(s.path, s.start_line, s.end_line)}]({s.url})"
                      + (f" — {s.title}" if s.title else "") for s in sources)
    return f"**References**\n{items}\n"


def extractive_answer(project: str, query: Query, excerpts: Sequence[Excerpt],
                      link: Callable[[Excerpt], str], definition_names: Sequence[str] = (),
                      reasons: Sequence[str] = ()) -> str:
    """Markdown: a lead naming the passage that answers (and, for a pasted report, why), then
    each excerpt under a link to exactly its lines."""
    parts = [lead(project, query, excerpts, definition_names, reasons)]
    for quoted in excerpts:
        heading = f" — {quoted.title}" if quoted.title else ""
        fence = fence_for(quoted.text)
        parts.append(f"**[{label(quoted.path, quoted.start_line, quoted.end_line)}]({link(quoted)})**"
                     f"{heading}\n\n{fence}{quoted.language}\n{quoted.text}\n{fence}")
    return "\n\n".join(parts) + "\n"


def lead(project: str, query: Query, excerpts: Sequence[Excerpt], definition_names: Sequence[str] = (),
         reasons: Sequence[str] = ()) -> str:
    """One sentence shaped by the question's form (`ragqa.answer.lead`): what a thing does,
    yes or no, the steps, or the place; for a pasted report, where to start and why."""
    from ragqa.answer.lead import lead as compose

    return compose(project, query, excerpts, definition_names, reasons)


def vague_reply(project: str, topics: Sequence[str]) -> str:
    """What a question too vague to search for gets: what the project can be asked about."""
    about = ", ".join(plain_text(topic) for topic in topics[:6])
    examples = f" — for example: {about}" if about else ""
    return (f"{ABSTAIN} Could you ask about something specific in **{plain_text(project)}**{examples}? "
            "A question that names a feature, an error or a function works best.")
