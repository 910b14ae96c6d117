"""The localisation contract (`ragqa locate --json`, `POST /locate`, the MCP `locate` tool): the
files to look at first and, inside them, the functions and classes, each with permalinks and
the reasons the report gave."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ragqa.links import permalink
from ragqa.query import Query
from ragqa.retrieve import ProjectIndex
from ragqa.retrieve.locate import LocatedFile, locate, locate_functions
from ragqa.retrieve.retriever import Ranking


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


def build_location(index: ProjectIndex, query: Query, ranking: Ranking, top_k: int) -> Location:
    """The contract for `ranking`'s best `top_k` files."""
    record = index.record
    files = [_file_hit(index, found) for found in locate(index, ranking, top_k)]
    functions = [FunctionHit(path=found.path, name=s.name, kind=s.kind, start_line=s.start_line,
                             end_line=s.end_line, score=s.score, reasons=s.reasons,
                             url=permalink(record.web_url, record.commit, found.path, s.start_line,
                                           s.end_line))
                 for found in locate_functions(index, ranking, top_k) for s in (found.symbol,)]
    return Location(project=record.name, commit=record.commit, files=files, read=_summary(index, query),
                    functions=functions)


def _file_hit(index: ProjectIndex, found: LocatedFile) -> FileHit:
    record = index.record
    symbols = [SymbolHit(name=s.name, kind=s.kind, start_line=s.start_line, end_line=s.end_line,
                         url=permalink(record.web_url, record.commit, found.path, s.start_line, s.end_line),
                         score=s.score, reasons=s.reasons) for s in found.symbols]
    url = symbols[0].url if symbols else permalink(record.web_url, record.commit, found.path, 1, 1)
    return FileHit(path=found.path, url=url, score=found.score, reasons=found.reasons, symbols=symbols)


def _summary(index: ProjectIndex, query: Query) -> ReportSummary:
    report = query.report
    if report is None:
        return ReportSummary(names=list(query.names[:10]))
    frames = [frame for frame, _ in report.frames]
    return ReportSummary(
        bug=report.is_bug, tracebacks=len(report.tracebacks), frames=len(frames),
        frames_in_project=sum(index.resolve_path(frame.path) is not None for frame in frames),
        errors=[f"{e.kind}: {e.message}" if e.kind else e.message for e in report.errors[:5]],
        names=list(report.names[:10]), modules=list(report.modules[:10]))
