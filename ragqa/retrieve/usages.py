"""Usages from the code graph: where a name is used, what calls it, what it calls.

One lookup serves the MCP tools (`find_references`, `callers`, `callees`) and `ask`'s questions
of that form ("where is `send` used?", "what calls `Session.request`?", "what does `merge` call?"):
for `ask` the lines found become the evidence that ranks their chunks first and centres the
quotes on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ragqa.errors import BadRequestError, RagqaError
from ragqa.index.graph import CodeGraph, Node
from ragqa.retrieve.evidence import Evidence
from ragqa.retrieve.project import Filters, ProjectIndex

Relation = Literal["references", "callers", "callees"]
MAX_DEFINITIONS = 5  # definitions of one name looked at (`get` may have dozens)
MAX_NAME_CHARS = 200
_NAME = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*$")


@dataclass(frozen=True)
class Usage:
    """One result: the definition `node` and, for references and callers, the line using the
    target (`line`: 0 for a callee, which is shown by its definition)."""

    node: Node
    target: Node
    line: int = 0
    path: str = ""


def check_usage_name(name: str) -> str:
    """The name, stripped of backticks and a trailing `()`; a `RagqaError` naming the problem
    for anything that cannot be a code name."""
    cleaned = name.strip().strip("`").removesuffix("()").strip()
    if not cleaned or len(cleaned) > MAX_NAME_CHARS or not _NAME.match(cleaned):
        raise BadRequestError(f"name must be a code name such as `send` or `Session.send` (at most "
                         f"{MAX_NAME_CHARS} characters), not {name[:60]!r}")
    return cleaned


def definitions(project: ProjectIndex, name: str) -> tuple[CodeGraph, list[Node]]:
    """The graph and the definitions of `name` in it; a `RagqaError` when there is no graph or
    no such definition."""
    graph = project.graph
    if graph is None:
        raise RagqaError(f"{project.record.name} has no code graph yet: `ragqa ingest {project.record.name}` "
                         "builds it")
    found = [node for node in graph.definitions(check_usage_name(name))
             if node.kind not in ("module", "package")]
    if not found:
        raise BadRequestError(f"no definition named {name!r} in {project.record.name} (`find_symbol` lists "
                         "what is defined)")
    return graph, found[:MAX_DEFINITIONS]


def usages(project: ProjectIndex, name: str, relation: Relation, limit: int
           ) -> tuple[list[Node], list[Usage], bool]:
    """The definitions of `name`, up to `limit` usages of the `relation`, and whether more were cut."""
    graph, targets = definitions(project, name)
    found: list[Usage] = []
    for target in targets:
        if relation == "callees":
            found += [Usage(node, target) for node in graph.callees(target)]
        else:
            sites = graph.references(target)
            if relation == "callers":
                sites = list({site.source.id: site for site in reversed(sites)}.values())[::-1]
            found += [Usage(site.source, target, site.line, site.path) for site in sites]
    return targets, found[:limit], len(found) > limit


def usage_evidence(project: ProjectIndex, relation: Relation, name: str, filters: Filters,
                   limit: int = 30) -> Evidence | None:
    """The evidence a usage question gives: the chunks of the lines that use the name (or of
    the definitions it calls), each with its line and reason; None when the graph cannot tell."""
    try:
        _, found, _ = usages(project, name, relation, limit)
    except RagqaError:
        return None
    evidence = Evidence()
    for rank, usage in enumerate(found):
        if relation == "callees":
            path, line = usage.node.path, usage.node.start_line
            reason = f"called by `{usage.target.name}`"
        else:
            path, line = usage.path, usage.line
            verb = "calls" if relation == "callers" else "uses"
            reason = f"{verb} `{usage.target.name}` (in `{usage.node.name}`)"
        chunk_id = project.chunk_at(path, line)
        if chunk_id is not None and project.allowed(chunk_id, filters):
            evidence.add(chunk_id, 1.0 - 0.5 * rank / max(len(found), 1), reason, line=line)
    return evidence if evidence.chunks else None
