"""The usages contract (the MCP tools `find_references`, `callers` and `callees`): the
definitions of a name and where it is used, what calls it or what it calls — from the code
graph, each with a permalink the server builds, pinned to the indexed commit and to lines that
exist."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ragqa.index.graph import Node
from ragqa.links import permalink
from ragqa.retrieve import ProjectIndex
from ragqa.retrieve.usages import Relation, Usage, usages


class DefinitionHit(BaseModel):
    """A definition with its lines and permalink."""

    name: str
    kind: str
    path: str
    start_line: int
    end_line: int
    url: str


class UsageHit(DefinitionHit):
    """A definition that uses (calls) the name, or that the name calls; for references and
    callers, the using line too (`line`, its text and its own permalink)."""

    of: str  # the definition of the asked name this usage belongs to
    line: int | None = None
    line_url: str | None = None
    text: str | None = None


class Usages(BaseModel):
    """The answer to "where is X used / what calls X / what does X call"."""

    project: str
    commit: str
    name: str
    relation: str
    definitions: list[DefinitionHit]
    results: list[UsageHit] = Field(default_factory=list)
    truncated: bool = False  # more usages than `limit`


def build_usages(index: ProjectIndex, name: str, relation: Relation, limit: int) -> Usages:
    """The contract for `relation` of `name` in `index` (errors: `RagqaError`, one line)."""
    targets, found, truncated = usages(index, name, relation, limit)
    record = index.record
    return Usages(project=record.name, commit=record.commit, name=name, relation=relation,
                  definitions=[_definition(index, node) for node in targets],
                  results=[_usage(index, usage) for usage in found], truncated=truncated)


def _definition(index: ProjectIndex, node: Node) -> DefinitionHit:
    record = index.record
    return DefinitionHit(name=node.name, kind=node.kind, path=node.path, start_line=node.start_line,
                         end_line=node.end_line,
                         url=permalink(record.web_url, record.commit, node.path, node.start_line,
                                       node.end_line))


def _usage(index: ProjectIndex, usage: Usage) -> UsageHit:
    record = index.record
    hit = UsageHit(**_definition(index, usage.node).model_dump(), of=usage.target.name)
    if usage.line:
        text, last = index.read_lines(usage.path, usage.line, usage.line)
        if last == usage.line:  # the line exists in the indexed file: link it and quote it
            hit.line, hit.text = usage.line, text
            hit.line_url = permalink(record.web_url, record.commit, usage.path, usage.line, usage.line)
    return hit
