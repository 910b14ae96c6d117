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

from ragqa.markdown import code_spans, fence_for, inline_code, plain_text
from ragqa.query import Intent, Query

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
    parts = [lead(project, query, excerpts[0], definition_names, reasons)]
    for quoted in excerpts:
        heading = f" — {quoted.title}" if quoted.title else ""
        fence = fence_for(quoted.text)
        parts.append(f"**[{label(quoted.path, quoted.start_line, quoted.end_line)}]({link(quoted)})**"
                     f"{heading}\n\n{fence}{quoted.language}\n{quoted.text}\n{fence}")
    return "\n\n".join(parts) + "\n"


def lead(project: str, query: Query, first: Excerpt, definition_names: Sequence[str] = (),
         reasons: Sequence[str] = ()) -> str:
    """One sentence that says where the answer is, in the words the question asked for; for a
    pasted report, where to start and what in the report points there."""
    where = inline_code(first.path)
    if query.usage is not None and reasons:  # "what calls X?", answered from the code graph
        verb = {"callers": "is called by", "callees": "calls", "references": "is used by"}[query.usage[0]]
        named = first.title if first.title.startswith("`") else "code"
        return f"{inline_code(query.usage[1])} {verb} {named} in {where}:"
    if reasons:
        start = f"{first.title} in {where}" if first.title.startswith("`") else where
        return f"Start at {start}: it is {'; '.join(_with_code(reason) for reason in reasons[:2])}."
    if definition_names:
        return f"{inline_code(definition_names[0])} is defined in {where}; here it is, with related lines:"
    named = first.title if first.title.startswith("`") else f"**{first.title}**" if first.title else ""
    if query.intent is Intent.USAGE and named:
        return f"The {named} part of {where} shows how:"
    if query.intent in (Intent.LOCATE, Intent.BEHAVIOUR) and named:
        return f"This happens in {named} in {where}:"
    if named:
        return f"The closest match in **{plain_text(project)}** is {named} in {where}:"
    return f"The closest match in **{plain_text(project)}** is {where}:"


def vague_reply(project: str, topics: Sequence[str]) -> str:
    """What a question too vague to search for gets: what the project can be asked about."""
    about = ", ".join(plain_text(topic) for topic in topics[:6])
    examples = f" — for example: {about}" if about else ""
    return (f"{ABSTAIN} Could you ask about something specific in **{plain_text(project)}**{examples}? "
            "A question that names a feature, an error or a function works best.")


def _with_code(text: str) -> str:
    """`text` safe as Markdown, its inline code spans kept as code."""
    return "".join(piece if is_code else _plain_spaced(piece) for piece, is_code in code_spans(text))


def _plain_spaced(piece: str) -> str:
    """`plain_text` keeping one space where the piece met a code span with one
    ("called by `send`", not "called by`send`")."""
    core = plain_text(piece)
    if not core:
        return " " if piece else ""
    return (" " if piece[0].isspace() else "") + core + (" " if piece[-1].isspace() else "")
