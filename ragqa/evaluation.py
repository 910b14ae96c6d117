"""Retrieval and answer quality on a question set (the format of `../shared/eval/*.jsonl`).

Each question names the files (`gold`) and line ranges (`lines`) that answer it; `gold: []`
marks a question the project cannot answer. Metrics:
- hit@1 / hit@5: a gold path among the first 1 / 5 sources; MRR@10: 1 / rank of the first one;
- line-overlap@5: a source among the first 5 whose lines overlap the gold range of its file;
- answer rate (answerable questions answered) and abstention rate (unanswerable ones declined).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragqa.answer import Answer
from ragqa.errors import RagqaError


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


def load(path: Path) -> QuestionSet:
    """Read a question set; a malformed line is an error naming its line number."""
    try:
        rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise RagqaError(f"cannot read {path}: {error.strerror}") from error
    if not rows:
        raise RagqaError(f"{path} is empty")
    try:
        header = json.loads(rows[0])
        questions = [_question(json.loads(row)) for row in rows[1:]]
    except (ValueError, KeyError, TypeError) as error:
        raise RagqaError(f"{path}: not a question set ({error})") from error
    return QuestionSet(header.get("repo", ""), header.get("commit", ""), header.get("url", ""),
                       questions)


def _question(row: dict[str, Any]) -> Question:
    return Question(
        id=str(row["id"]), question=str(row["question"]), gold=list(row.get("gold", [])),
        lines={path: (int(span[0]), int(span[1])) for path, span in row.get("lines", {}).items()},
        kind=str(row.get("kind", "")), style=str(row.get("style", "")))


@dataclass
class Outcome:
    """One question's result."""

    question: Question
    answer: Answer
    seconds: float

    @property
    def answerable(self) -> bool:
        return bool(self.question.gold)

    def rank(self, limit: int = 10) -> int | None:
        """1-based rank of the first source in a gold file, within `limit`."""
        for rank, source in enumerate(self.answer.sources[:limit], 1):
            if source.path in self.question.gold:
                return rank
        return None

    def overlaps(self, limit: int = 5) -> bool:
        for source in self.answer.sources[:limit]:
            span = self.question.lines.get(source.path)
            if span and source.start_line <= span[1] and span[0] <= source.end_line:
                return True
        return False


def metrics(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """The summary figures over some outcomes (answerable and unanswerable ones mixed)."""
    answerable = [outcome for outcome in outcomes if outcome.answerable]
    unanswerable = [outcome for outcome in outcomes if not outcome.answerable]
    ranks = [outcome.rank() for outcome in answerable]
    result: dict[str, float] = {"questions": len(outcomes)}
    if answerable:
        result.update({
            "hit@1": _mean([rank == 1 for rank in ranks]),
            "hit@5": _mean([rank is not None and rank <= 5 for rank in ranks]),
            "mrr@10": _mean([1 / rank if rank else 0.0 for rank in ranks]),
            "line_overlap@5": _mean([outcome.overlaps() for outcome in answerable]),
            "answer_rate": _mean([outcome.answer.answered for outcome in answerable]),
        })
    if unanswerable:
        result["abstention"] = _mean([not outcome.answer.answered for outcome in unanswerable])
    return result


def run(questions: Sequence[Question], ask: Callable[[str], Answer]) -> list[Outcome]:
    import time

    outcomes = []
    for question in questions:
        started = time.perf_counter()
        answer = ask(question.question)
        outcomes.append(Outcome(question, answer, time.perf_counter() - started))
    return outcomes


def _mean(values: Sequence[float | bool]) -> float:
    return round(sum(float(value) for value in values) / len(values), 4) if values else 0.0
