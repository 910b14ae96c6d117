"""The offline answer: the most relevant lines of the best sources, quoted under links to them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragqa.index.lexical import tokenize

EXCERPT_LINES = 12
QUOTED_SOURCES = 3


@dataclass(frozen=True)
class Excerpt:
    """Lines `start_line`–`end_line` of a source, as quoted in the answer."""

    path: str
    start_line: int
    end_line: int
    text: str
    language: str
    title: str


def best_lines(text: str, start_line: int, question: str, weight: Callable[[str], float],
               size: int = EXCERPT_LINES) -> tuple[int, int, str]:
    """The window of at most `size` lines that holds the most (rarity-weighted) question terms.

    Returns 1-based inclusive line numbers and the window's text, blank edges trimmed.
    """
    lines = text.split("\n")
    terms = set(tokenize(question))
    line_scores = [sum(weight(term) for term in terms & set(tokenize(line))) for line in lines]
    best = 0
    if len(lines) > size:
        window = sum(line_scores[:size])
        best_score = window
        for first in range(1, len(lines) - size + 1):
            window += line_scores[first + size - 1] - line_scores[first - 1]
            if window > best_score:
                best, best_score = first, window
    last = min(len(lines), best + size) - 1
    while best < last and not lines[best].strip():
        best += 1
    while last > best and not lines[last].strip():
        last -= 1
    return start_line + best, start_line + last, "\n".join(lines[best:last + 1])


def render(project: str, excerpts: Sequence[Excerpt], link: Callable[[Excerpt], str]) -> str:
    """Markdown: a one-line lead, then each excerpt under a link to exactly its lines."""
    lead = excerpts[0]
    where = f"`{lead.title}` in `{lead.path}`" if lead.title else f"`{lead.path}`"
    parts = [f"The closest match in **{project}** is {where}; "
             "here are the most relevant lines from the code and docs."]
    for excerpt in excerpts:
        title = f" — {excerpt.title}" if excerpt.title else ""
        fence = "````" if "```" in excerpt.text else "```"
        parts.append(
            f"**[{excerpt.path}#L{excerpt.start_line}-L{excerpt.end_line}]({link(excerpt)})**{title}\n\n"
            f"{fence}{excerpt.language}\n{excerpt.text}\n{fence}")
    return "\n\n".join(parts) + "\n"
