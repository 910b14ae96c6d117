"""The answer and location contracts as plain pydantic models, importable without the index,
the embedder or the web stack: `ragqa ask`/`locate` through a running server render these, and
that path must start in a blink. `ragqa.answer`, `ragqa.answer.location` and `ragqa.freshness`
re-export them under their old names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Behind(BaseModel):
    """In an answer: a newer commit of the tracked ref exists and is not indexed yet."""

    commit: str
    ref: str
    since: datetime
    commits: int | None = None


def behind_line(indexed: str, late: Behind) -> str:
    """The one line an answer shows when its index is behind."""
    count = f"{late.commits} commit{'s' * (late.commits != 1)} behind" if late.commits else "behind"
    return (f"Indexed at {indexed[:7]}, {count} {late.ref} (now at {late.commit[:7]} since "
            f"{late.since:%Y-%m-%d %H:%M} UTC): this answer may be out of date.")


class Source(BaseModel):
    """A passage an answer was built from; `url` opens exactly its lines at the indexed commit
    of its `project`."""

    id: str
    project: str = ""
    path: str
    start_line: int
    end_line: int
    url: str
    score: float
    kind: str


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Answer(BaseModel):
    """The answer contract shared by `ragqa ask --json`, `POST /ask` and the CI checks."""

    answer: str
    answered: bool
    project: str  # the project asked; several, comma-separated, for a question across projects
    commit: str  # its indexed commit (for several projects: see `projects`)
    projects: dict[str, str] = Field(default_factory=dict)  # every project asked → its indexed commit
    indexed_at: datetime | None = None  # when the project (the best source's, for several) was indexed
    behind: Behind | None = None  # a newer commit of the tracked ref is known and not indexed yet
    sources: list[Source]
    links_removed: list[str] = Field(default_factory=list)
    model: str
    usage: TokenUsage = Field(default_factory=TokenUsage)
    timings_ms: dict[str, int] = Field(default_factory=dict)


@dataclass
class AnswerEvent:
    """One step of a streamed answer: `sources`, `delta` (text) or `done` (the whole answer)."""

    kind: Literal["sources", "delta", "done"]
    sources: list[Source] | None = None
    text: str = ""
    answer: Answer | None = None


class SymbolHit(BaseModel):
    """A function, class or run of lines inside a located file."""

    name: str
    kind: str
    start_line: int
    end_line: int
    url: str
    score: float
    reasons: list[str]


class FileHit(BaseModel):
    """A file to look at, best first; `url` opens its best symbol's lines at the indexed commit."""

    path: str
    url: str
    score: float
    reasons: list[str]
    symbols: list[SymbolHit]


class FunctionHit(SymbolHit):
    """A function, method or class ranked across the project's files (`ragqa locate --functions`)."""

    path: str


class ReportSummary(BaseModel):
    """What ragqa read in the input (empty for a plain question)."""

    bug: bool = False  # reads as a failure (a traceback, an error, a bug template's words)
    tracebacks: int = 0
    frames: int = 0
    frames_in_project: int = 0
    errors: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)


class Location(BaseModel):
    """Where in a project an issue, traceback or question points."""

    project: str
    commit: str
    files: list[FileHit]
    read: ReportSummary
    functions: list[FunctionHit] = Field(default_factory=list)  # the best definitions across files
    timings_ms: dict[str, int] = Field(default_factory=dict)
