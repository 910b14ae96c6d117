"""`ragqa check`: questions the docs must keep answering, run in CI.

A checks file is YAML: a list of checks, or `{project: NAME, checks: [...]}`. Each check has a
`question`, optionally a `name` and a `project`, and expectations, all optional:

    - question: How do I set a connect-only timeout?
      answered: true                    # or false: the project must NOT answer it
      cites: ["docs/**/*.rst", "src/requests/adapters.py"]   # a source must match one glob
      mentions: ["timeout=("]           # each string must appear in the answer
      max_links_removed: 0              # links a model invented and the server removed
    - drift: true                       # instead of a question: the docs name no code that is gone
      project: requests
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragqa.answer import Answer
from ragqa.drift import Drift
from ragqa.errors import RagqaError
from ragqa.inputs import load_yaml, read_text

Asker = Callable[[str, str | None], Answer]  # (question, project) → answer
DriftFinder = Callable[[str | None], list[Drift]]  # project → its docs' drift


class Check(BaseModel):
    """One question and what its answer must satisfy."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field("", description="The question (not needed for a drift check).")
    drift: bool = Field(False, description="Instead of a question: the docs must not name code that is gone.")
    name: str | None = None
    project: str | None = None
    answered: bool | None = None
    cites: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)
    max_links_removed: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _question_or_drift(self) -> Check:
        if not self.question.strip() and not self.drift:
            raise ValueError("a check needs a `question` (or `drift: true`)")
        return self

    @property
    def title(self) -> str:
        return self.name or self.question or f"docs drift of {self.project or 'the project'}"


class CheckResult(BaseModel):
    check: Check
    passed: bool
    reasons: list[str]
    seconds: float
    answer: Answer | None = None


def load(path: Path, max_bytes: int = 1_000_000) -> list[Check]:
    """Read a checks file; anything malformed is one error naming the file and the problem
    (see `ragqa.inputs` for what a file must be)."""
    data = load_yaml(read_text(path, max_bytes), path)
    default_project = None
    if isinstance(data, dict):
        default_project = data.get("project")
        data = data.get("checks")
    if not isinstance(data, list) or not data:
        raise RagqaError(f"{path} holds no checks (a list, or a mapping with a `checks` list)")
    checks = []
    for number, item in enumerate(data, 1):
        try:
            checks.append(Check.model_validate(item))
        except ValidationError as error:
            raise RagqaError(f"{path}: check {number}: {_explain(error)}") from error
    return [check if check.project else check.model_copy(update={"project": default_project})
            for check in checks]


def _explain(error: ValidationError) -> str:
    """The first problem of a check, with a did-you-mean for a misspelt key."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        close = difflib.get_close_matches(field, list(Check.model_fields), n=1)
        known = ", ".join(Check.model_fields)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {known})"
        return f"unknown key {field!r}{hint}"
    if first["type"] == "missing":
        return f"{field!r} is required"
    if first["type"] == "model_type":
        return "a check is a mapping with at least a `question`"
    return f"{field}: {first['msg']}"


def run(checks: list[Check], ask: Asker, drift: DriftFinder | None = None) -> list[CheckResult]:
    """Ask every check's question and judge the answer (or look for drift); an error fails that
    check only."""
    results = []
    for check in checks:
        started = time.perf_counter()
        if check.drift:
            results.append(_drift(check, drift, started))
            continue
        try:
            answer = ask(check.question, check.project)
        except RagqaError as error:
            results.append(CheckResult(check=check, passed=False, reasons=[f"error: {error}"],
                                       seconds=round(time.perf_counter() - started, 3)))
            continue
        reasons = judge(check, answer)
        results.append(CheckResult(check=check, passed=not reasons, reasons=reasons, answer=answer,
                                   seconds=round(time.perf_counter() - started, 3)))
    return results


def _drift(check: Check, drift: DriftFinder | None, started: float) -> CheckResult:
    if drift is None:
        reasons = ["error: drift checks read the index: run them where it is (not with --server)"]
    else:
        try:
            reasons = [found.describe() for found in drift(check.project)]
        except RagqaError as error:
            reasons = [f"error: {error}"]
    return CheckResult(check=check, passed=not reasons, reasons=reasons,
                       seconds=round(time.perf_counter() - started, 3))


def judge(check: Check, answer: Answer) -> list[str]:
    """Why `answer` fails `check` (empty when it passes)."""
    reasons = []
    if check.answered is not None and answer.answered != check.answered:
        reasons.append("expected an answer, got 'Hmm, I'm not sure.'" if check.answered
                       else "expected no answer, but it answered")
    if check.cites and answer.answered:
        paths = [source.path for source in answer.sources]
        if not any(fnmatch.fnmatch(path, pattern) for path in paths for pattern in check.cites):
            cited = ", ".join(paths) or "none"
            reasons.append(f"no source matches {', '.join(check.cites)} (cited: {cited})")
    elif check.cites:
        reasons.append(f"no sources to match {', '.join(check.cites)}: it did not answer")
    missing = [text for text in check.mentions if text.lower() not in answer.answer.lower()]
    if missing:
        reasons.append(f"the answer does not mention {', '.join(repr(text) for text in missing)}")
    if check.max_links_removed is not None and len(answer.links_removed) > check.max_links_removed:
        reasons.append(f"{len(answer.links_removed)} invented links removed "
                       f"(at most {check.max_links_removed} allowed): {', '.join(answer.links_removed)}")
    return reasons


def junit_xml(results: list[CheckResult], suite: str) -> str:
    """The results as JUnit XML, one test case per check."""
    failures = sum(not result.passed for result in results)
    root = ET.Element("testsuites", tests=str(len(results)), failures=str(failures))
    node = ET.SubElement(root, "testsuite", name=_xml(suite), tests=str(len(results)),
                         failures=str(failures), errors="0",
                         time=f"{sum(result.seconds for result in results):.3f}")
    for result in results:
        case = ET.SubElement(node, "testcase", classname=f"ragqa.{result.check.project or 'default'}",
                             name=_xml(result.check.title), time=f"{result.seconds:.3f}")
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=_xml("; ".join(result.reasons)))
            failure.text = _xml(_details(result))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _xml(text: str) -> str:
    """`text` with what XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/FFFF)
    replaced by `?`: a check's name comes from a user's file, the report goes to a CI parser."""
    return _NOT_XML.sub("?", text)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _details(result: CheckResult) -> str:
    lines = [f"question: {result.check.question}", *result.reasons]
    if result.answer is not None:
        lines.append(f"sources: {', '.join(s.url for s in result.answer.sources) or 'none'}")
    return "\n".join(lines)


def summary(results: list[CheckResult]) -> dict[str, Any]:
    return {"passed": sum(r.passed for r in results), "failed": sum(not r.passed for r in results),
            "checks": [r.model_dump(mode="json", exclude={"answer"}) |
                       {"sources": [s.path for s in r.answer.sources] if r.answer else []}
                       for r in results]}
