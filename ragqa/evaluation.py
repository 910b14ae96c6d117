"""`ragqa eval`: retrieval and answer quality on a question set (the `examples/questions/*.jsonl` format).

A question set is a header line `{"repo", "commit", "url"}`, then one question per line
`{"id", "question", "gold": [paths], "lines": {path: [start, end]}, "kind", "style"}`;
`gold: []` marks a question the project cannot answer. Metrics, overall and per kind and style:
- hit@1 / hit@5: a gold path among the first 1 / 5 sources; MRR@10: 1 / rank of the first one;
- line-overlap@5: a source among the first 5 whose lines overlap its file's gold range;
- answer rate (answerable questions answered), abstention (unanswerable ones declined);
- invalid links: links in an answer that are not a permalink into one of its sources, or whose
  lines do not exist in the file at the answer's commit; sources whose lines do not exist;
- altered quotes: quoted excerpts (a fenced block under a link to its lines) whose text is not
  exactly those lines of the file at the answer's commit;
- latency p50 / p95 of a whole ask.
"""

from __future__ import annotations

import functools
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ragqa.answer import Answer
from ragqa.answer.linkguard import LinkTarget, find_links, line_range, match_target
from ragqa.chunking import split_lines
from ragqa.errors import RagqaError
from ragqa.index import ProjectRecord
from ragqa.inputs import load_json, read_text
from ragqa.settings import Settings
from ragqa.sources import SourceKind
from ragqa.sources.git import mirror_name
from ragqa.sources.secrets import redact

FileReader = Callable[[str, str], list[str] | None]  # (path, commit) → the file's lines, None if absent
METRICS = ["hit@1", "hit@5", "mrr@10", "line_overlap@5", "answer_rate", "abstention",
           "invalid_links", "altered_quotes", "p50_ms", "p95_ms"]
_QUOTE = re.compile(r"^\*\*\[[^\n]*\]\((?P<url>[^)\s]+)\)\*\*[^\n]*\n\n(?P<fence>`{3,})[^\n`]*\n"
                    r"(?P<body>.*?)\n(?P=fence)$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold: list[str]
    lines: dict[str, tuple[int, int]]
    kind: str = ""
    style: str = ""


@dataclass
class QuestionSet:
    repo: str
    commit: str
    url: str
    questions: list[Question] = field(default_factory=list)


def load(path: Path, max_bytes: int = 1_000_000) -> QuestionSet:
    """Read a question set; a malformed line is an error naming the file and the line (see
    `ragqa.inputs` for what a file must be)."""
    return parse_set(read_text(path, max_bytes), str(path))


def parse_set(text: str, path: str) -> QuestionSet:
    """A question set from its JSONL text (`path` names it in errors)."""
    numbered = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(numbered) < 2:
        raise RagqaError(f"{path} holds no questions (a header line, then one question per line)")
    rows = [(number, load_json(line, f"{path} line {number}")) for number, line in numbered]
    header = rows[0][1]
    if not isinstance(header, dict):
        raise RagqaError(f"{path} line {rows[0][0]}: the header must be a JSON object "
                         "with repo, commit and url")
    questions = []
    for number, row in rows[1:]:
        try:
            questions.append(_question(row))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
            raise RagqaError(f"{path} line {number}: not a question ({type(error).__name__}: {error}); "
                             "a question is {\"id\", \"question\", \"gold\", …}") from error
    return QuestionSet(str(header.get("repo", "")), str(header.get("commit", "")),
                       str(header.get("url", "")), questions)


def _question(row: dict[str, Any]) -> Question:
    return Question(
        id=str(row["id"]), question=str(row["question"]), gold=list(row.get("gold", [])),
        lines={path: (int(span[0]), int(span[1])) for path, span in row.get("lines", {}).items()},
        kind=str(row.get("kind", "")), style=str(row.get("style", "")))


class QuestionResult(BaseModel):
    """One question's outcome."""

    id: str
    kind: str
    style: str
    answerable: bool
    answered: bool
    rank: int | None  # of the first gold source within the first 10
    line_overlap: bool
    invalid_links: list[str]
    altered_quotes: list[str] = Field(default_factory=list)
    ms: float
    sources: list[str]


class Report(BaseModel):
    """What `ragqa eval --json` prints."""

    questions_file: str
    project: str
    commit: str
    lines_checked: bool
    overall: dict[str, float]
    by_kind: dict[str, dict[str, float]]
    by_style: dict[str, dict[str, float]]
    questions: list[QuestionResult]


def evaluate(question_set: QuestionSet, ask: Callable[[str], Answer], files: FileReader | None,
             source_name: str = "") -> Report:
    """Ask every question and score the answers (after one untimed warm-up ask, so that latency
    is that of a warm process, as in a server)."""
    if question_set.questions:
        ask(question_set.questions[0].question)
    results: list[QuestionResult] = []
    last: Answer | None = None
    for question in question_set.questions:
        started = time.perf_counter()
        answer = ask(question.question)
        results.append(score(question, answer, (time.perf_counter() - started) * 1000, files))
        last = answer
    return Report(
        questions_file=source_name, project=last.project if last else "",
        commit=last.commit if last else "", lines_checked=files is not None,
        overall=summarise(results), by_kind=_grouped(results, "kind"),
        by_style=_grouped(results, "style"), questions=results)


def score(question: Question, answer: Answer, ms: float, files: FileReader | None) -> QuestionResult:
    rank = next((number for number, source in enumerate(answer.sources[:10], 1)
                 if source.path in question.gold), None)
    overlap = False
    for source in answer.sources[:5]:
        span = question.lines.get(source.path)
        overlap = overlap or bool(span and source.start_line <= span[1] and span[0] <= source.end_line)
    return QuestionResult(
        id=question.id, kind=question.kind, style=question.style, answerable=bool(question.gold),
        answered=answer.answered, rank=rank, line_overlap=overlap,
        invalid_links=invalid_links(answer, files),
        altered_quotes=altered_quotes(answer, files) if files else [], ms=round(ms, 1),
        sources=[f"{s.path}#L{s.start_line}-L{s.end_line}" for s in answer.sources])


def invalid_links(answer: Answer, files: FileReader | None) -> list[str]:
    """Links of the answer that point outside its sources or at lines the file does not have."""
    targets = [LinkTarget(s.id, s.url, s.path, s.start_line, s.end_line) for s in answer.sources]
    bad: list[str] = []
    for url in [*find_links(answer.answer), *(s.url for s in answer.sources)]:
        target = match_target(url, targets)
        lines = line_range(url)
        if target is None:
            bad.append(url)
        elif files is not None and lines is not None:
            content = files(target.path, answer.commit)
            if content is None or not 1 <= lines[0] <= lines[1] <= len(content):
                bad.append(url)
    return list(dict.fromkeys(bad))


def altered_quotes(answer: Answer, files: FileReader) -> list[str]:
    """The links of quoted excerpts whose text differs from those lines of the file."""
    targets = [LinkTarget(s.id, s.url, s.path, s.start_line, s.end_line) for s in answer.sources]
    altered: list[str] = []
    for quote in _QUOTE.finditer(answer.answer):
        url = quote.group("url")
        target, lines = match_target(url, targets), line_range(url)
        content = files(target.path, answer.commit) if target is not None else None
        if content is None or lines is None or \
                quote.group("body") != "\n".join(content[lines[0] - 1:lines[1]]):
            altered.append(url)
    return altered


def summarise(results: Sequence[QuestionResult]) -> dict[str, float]:
    answerable = [result for result in results if result.answerable]
    unanswerable = [result for result in results if not result.answerable]
    figures: dict[str, float] = {"questions": len(results)}
    if answerable:
        figures.update({
            "hit@1": _mean([r.rank == 1 for r in answerable]),
            "hit@5": _mean([r.rank is not None and r.rank <= 5 for r in answerable]),
            "mrr@10": _mean([1 / r.rank if r.rank else 0.0 for r in answerable]),
            "line_overlap@5": _mean([r.line_overlap for r in answerable]),
            "answer_rate": _mean([r.answered for r in answerable]),
        })
    if unanswerable:
        figures["abstention"] = _mean([not r.answered for r in unanswerable])
    figures["invalid_links"] = sum(len(r.invalid_links) for r in results)
    figures["altered_quotes"] = sum(len(r.altered_quotes) for r in results)
    if results:
        times = sorted(r.ms for r in results)
        figures["p50_ms"] = round(statistics.median(times), 1)
        figures["p95_ms"] = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return figures


def failures(overall: dict[str, float], min_hit5: float | None, min_mrr: float | None) -> list[str]:
    """Why a run fails: invalid links, or a threshold given on the command line not met."""
    problems = []
    if overall.get("invalid_links", 0):
        problems.append(f"{overall['invalid_links']:g} invalid links")
    if overall.get("altered_quotes", 0):
        problems.append(f"{overall['altered_quotes']:g} quotes that differ from the file")
    for name, minimum in (("hit@5", min_hit5), ("mrr@10", min_mrr)):
        if minimum is not None and overall.get(name, 0.0) < minimum:
            problems.append(f"{name} {overall.get(name, 0.0):g} is below {minimum:g}")
    return problems


def _grouped(results: Sequence[QuestionResult], attribute: str) -> dict[str, dict[str, float]]:
    groups: dict[str, list[QuestionResult]] = {}
    for result in results:
        groups.setdefault(getattr(result, attribute) or "-", []).append(result)
    return {name: summarise(members) for name, members in sorted(groups.items())}


def git_files(repository: Path) -> FileReader:
    """Read a file's lines at a commit of a local git repository (bare or not)."""
    cache: dict[tuple[str, str], list[str] | None] = {}

    def read(path: str, commit: str) -> list[str] | None:
        if (path, commit) not in cache:
            shown = subprocess.run(["git", "-C", str(repository), "show", f"{commit}:{path}"],
                                   capture_output=True, check=False)
            text = shown.stdout.decode("utf-8", "replace") if shown.returncode == 0 else None
            cache[path, commit] = None if text is None else split_lines(text)
        return cache[path, commit]

    return read


def any_files(readers: list[FileReader]) -> FileReader:
    """A reader over several projects' files (a set asked of several projects): the first that
    has the file at that commit."""
    if len(readers) == 1:
        return readers[0]

    def read(path: str, commit: str) -> list[str] | None:
        return next((lines for reader in readers if (lines := reader(path, commit)) is not None), None)

    return read


def folder_files(folder: Path) -> FileReader:
    """Read a file's lines in a plain folder (it has no commits)."""
    def read(path: str, commit: str) -> list[str] | None:
        try:
            return split_lines((folder / path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    return read


def _mean(values: Sequence[float | bool]) -> float:
    return round(sum(float(value) for value in values) / len(values), 4) if values else 0.0


def files_for(record: ProjectRecord, settings: Settings) -> FileReader:
    """Where the files of an indexed project can be read back — its repo, mirror or folder —
    with their secrets redacted as the index has them."""
    if record.source_kind == SourceKind.FOLDER:
        reader = folder_files(Path(record.source))
    elif record.source_kind == SourceKind.LOCAL_GIT:
        reader = git_files(Path(record.source))
    else:
        reader = git_files(settings.repos_dir / mirror_name(record.name))
    return redacting(reader) if record.redact_secrets else reader


def redacting(reader: FileReader) -> FileReader:
    """`reader` with each file's secrets replaced as ingest replaces them."""
    def read(path: str, commit: str) -> list[str] | None:
        lines = reader(path, commit)
        return None if lines is None else redact(path, "\n".join(lines)).text.split("\n")

    return functools.cache(read)
