"""The localisation contract (`ragqa locate --json`, `POST /locate`, the MCP `locate` tool): the
files to look at first and, inside them, the functions and classes, each with permalinks and
the reasons the report gave."""

from __future__ import annotations

from ragqa.contract import FileHit, FunctionHit, Location, ReportSummary, SymbolHit
from ragqa.links import permalink
from ragqa.query import Query
from ragqa.retrieve import ProjectIndex
from ragqa.retrieve.locate import LocatedFile, locate, locate_functions
from ragqa.retrieve.retriever import Ranking

__all__ = ["FileHit", "FunctionHit", "Location", "ReportSummary", "SymbolHit", "build_location"]


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
