"""`ragqa tune`: fit one project's ranking weights and abstention threshold on a question set.

The set (hand-written, or from `ragqa questions`) is split with a fixed seed: the fitting part
chooses, the checking part reports before and after. Ranking weights are fitted by coordinate
ascent from the defaults (one weight at a time over a few values, twice round), a change kept
only when it improves MRR@10 + hit@1/2 on the fitting part by more than `MIN_GAIN` — so a set
that says nothing clear changes nothing — and dropped again if the checking part's MRR falls.
The threshold is the lowest confidence that best separates answerable from unanswerable
questions of the fitting part (their mean of answer rate and abstention), kept only if the
checking part is separated no worse; with fewer than `MIN_UNANSWERABLE` unanswerable questions
it is left alone, and a set written by `ragqa questions` may only lower it. The guards come from
measurement (docs/quality.md): a generated set's questions are easier than hand-written ones
(their confidences run higher), and an unguarded fit on them made hand-written dev sets worse
(requests hit@1 0.769 → 0.692, starlette answer rate 1.0 → 0.81).
The fitted values are stored in the project's record, and every adapter answers with them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ragqa.errors import BadRequestError
from ragqa.evaluation import Question, QuestionSet
from ragqa.query import Query
from ragqa.retrieve import ProjectIndex, Retriever
from ragqa.settings import Settings

if TYPE_CHECKING:
    from ragqa.answer import Answerer
    from ragqa.ingest import Ingester

MIN_QUESTIONS = 20
MIN_UNANSWERABLE = 3
FIT_SHARE = 0.6
MIN_GAIN = 0.03
SPLIT_SEED = 13
TOP_K = 10
# The weights fitted and the values tried for each (the default is always among them).
CHOICES: dict[str, Sequence[float]] = {
    "dense_weight": (0.6, 1.0, 1.4),
    "lexical_weight": (0.6, 1.0, 1.4),
    "symbol_weight": (0.5, 1.0, 1.5),
    "file_evidence": (0.0, 0.1, 0.2),
    "secondary_weight": (0.3, 0.5, 0.7),
}
DOCS_BIAS_CHOICES = (1.2, 1.5, 2.0)  # for how-to questions (`intent_docs_bias["usage"]`)


class Figures(BaseModel):
    """Retrieval and abstention on a part of the set."""

    questions: int
    hit_at_1: float
    mrr: float
    answer_rate: float
    abstention: float | None  # None when the part has no unanswerable question


class TuneReport(BaseModel):
    """What `ragqa tune` fitted and how the held-out part fared before and after."""

    project: str
    questions: int
    fit_questions: int
    check_questions: int
    settings: dict[str, Any]
    before: Figures
    after: Figures
    notes: list[str]
    tuned_at: datetime


@dataclass
class _Outcome:
    rank: int | None  # of the first gold file, within the first TOP_K
    confidence: float
    answerable: bool


class Tuner:
    """Fits settings for one project; `make_retriever` builds a retriever for a settings variant."""

    def __init__(self, settings: Settings, make_retriever: Callable[[Settings], Retriever]) -> None:
        self.settings = settings
        self.make_retriever = make_retriever

    def tune(self, index: ProjectIndex, questions: QuestionSet) -> TuneReport:
        fit, check = split(questions.questions)
        base = self.settings  # a re-tune starts from the defaults, not from the last fit
        notes: list[str] = []
        before = self._figures(index, check, base)
        chosen = self._fit_weights(index, fit, base)
        if chosen and self._figures(index, check, base.model_copy(update=chosen)).mrr < before.mrr:
            notes.append(f"the weights fitted ({_listed(chosen)}) did worse on the checking part: "
                         "kept the defaults")
            chosen = {}
        threshold = self._fit_threshold(index, fit, base.model_copy(update=chosen), notes)
        if threshold is not None and threshold > base.min_confidence and generated(questions):
            notes.append(f"the set was written by `ragqa questions`: its questions are easier than real "
                         f"ones, so the threshold is only ever lowered (the fit said {threshold})")
            threshold = None
        if threshold is not None:
            trial = base.model_copy(update={**chosen, "min_confidence": threshold})
            if _balanced(self._figures(index, check, trial)) < _balanced(before):
                notes.append(f"the threshold fitted ({threshold}) separated the checking part worse: kept "
                             f"{base.min_confidence}")
            else:
                chosen["min_confidence"] = threshold
        if not chosen:
            notes.append("nothing tried did better than the defaults: nothing changed")
        after = self._figures(index, check, base.model_copy(update=chosen))
        return TuneReport(project=index.record.name, questions=len(questions.questions),
                          fit_questions=len(fit), check_questions=len(check), settings=chosen,
                          before=before, after=after, notes=notes, tuned_at=datetime.now(UTC))

    def _fit_weights(self, index: ProjectIndex, fit: list[Question], base: Settings) -> dict[str, Any]:
        answerable = [question for question in fit if question.gold]
        chosen: dict[str, Any] = {}
        best = _objective(self._outcomes(index, answerable, base))
        for _ in range(2):
            for name, values in [*CHOICES.items(), ("intent_docs_bias", DOCS_BIAS_CHOICES)]:
                for value in values:
                    trial = {**chosen, name: _value(base, name, value)}
                    score = _objective(self._outcomes(index, answerable, base.model_copy(update=trial)))
                    if score > best + MIN_GAIN:
                        best, chosen = score, trial
        return chosen

    def _fit_threshold(self, index: ProjectIndex, fit: list[Question], settings: Settings,
                       notes: list[str]) -> float | None:
        outcomes = self._outcomes(index, fit, settings)
        negatives = [o for o in outcomes if not o.answerable]
        if len(negatives) < MIN_UNANSWERABLE:
            notes.append(f"the abstention threshold was kept: the fitting part holds {len(negatives)} "
                         f"unanswerable questions, {MIN_UNANSWERABLE} are needed to fit it")
            return None
        default = settings.min_confidence
        candidates = sorted({round(o.confidence + 1e-4, 4) for o in outcomes} | {default})
        top = max(_separation(outcomes, t) for t in candidates)
        if top <= _separation(outcomes, default) + MIN_GAIN:
            return None
        # the lowest of the best thresholds: a set's own questions are easier than real ones, so
        # lean to answering
        return min(t for t in candidates if _separation(outcomes, t) >= top - 1e-9)

    def _outcomes(self, index: ProjectIndex, questions: list[Question], settings: Settings) -> list[_Outcome]:
        retriever = self.make_retriever(settings)
        outcomes = []
        for question in questions:
            query = Query.parse(question.question, settings.read_reports)
            retrieval = retriever.retrieve(index, query, TOP_K)
            paths = list(dict.fromkeys(passage.path for passage in retrieval.passages))
            rank = next((number for number, path in enumerate(paths, 1) if path in question.gold), None)
            outcomes.append(_Outcome(rank, retrieval.confidence.value, bool(question.gold)))
        return outcomes

    def _figures(self, index: ProjectIndex, questions: list[Question], settings: Settings) -> Figures:
        outcomes = self._outcomes(index, questions, settings)
        answerable = [o for o in outcomes if o.answerable]
        negatives = [o for o in outcomes if not o.answerable]
        threshold = settings.min_confidence
        return Figures(
            questions=len(outcomes),
            hit_at_1=_share(o.rank == 1 for o in answerable),
            mrr=round(sum(1 / o.rank for o in answerable if o.rank) / max(len(answerable), 1), 4),
            answer_rate=_share(o.confidence >= threshold for o in answerable),
            abstention=_share(o.confidence < threshold for o in negatives) if negatives else None)


def generated(questions: QuestionSet) -> bool:
    """Whether the set was written by `ragqa questions` (its ids are `<project>-gen-<n>`)."""
    return bool(questions.questions) and all("-gen-" in question.id for question in questions.questions)


def split(questions: list[Question]) -> tuple[list[Question], list[Question]]:
    """The fitting and checking parts: a fixed shuffle, each part with its share of
    unanswerable questions. Too small a set is refused with what it needs."""
    answerable = [q for q in questions if q.gold]
    unanswerable = [q for q in questions if not q.gold]
    if len(questions) < MIN_QUESTIONS or len(answerable) < MIN_QUESTIONS // 2:
        raise BadRequestError(
            f"the question set holds {len(questions)} questions ({len(answerable)} answerable): tuning "
            f"needs at least {MIN_QUESTIONS}, {MIN_QUESTIONS // 2} of them answerable, to fit on one part "
            "and check on the other (`ragqa questions PROJECT --count 60` writes a set)")
    rng = random.Random(SPLIT_SEED)
    fit: list[Question] = []
    check: list[Question] = []
    for group in (answerable, unanswerable):
        shuffled = list(group)
        rng.shuffle(shuffled)
        cut = round(len(shuffled) * FIT_SHARE)
        fit += shuffled[:cut]
        check += shuffled[cut:]
    return fit, check


def _balanced(figures: Figures) -> float:
    """Answer rate and abstention together (answer rate alone without unanswerable questions)."""
    if figures.abstention is None:
        return figures.answer_rate
    return (figures.answer_rate + figures.abstention) / 2


def _listed(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in values.items())


def _value(base: Settings, name: str, value: float) -> Any:
    if name == "intent_docs_bias":
        return {**base.intent_docs_bias, "usage": value}
    return value


def _objective(outcomes: list[_Outcome]) -> float:
    if not outcomes:
        return 0.0
    mrr = sum(1 / o.rank for o in outcomes if o.rank) / len(outcomes)
    hit = sum(o.rank == 1 for o in outcomes) / len(outcomes)
    return mrr + hit / 2


def _separation(outcomes: list[_Outcome], threshold: float) -> float:
    answerable = [o for o in outcomes if o.answerable]
    negatives = [o for o in outcomes if not o.answerable]
    answered = sum(o.confidence >= threshold for o in answerable) / max(len(answerable), 1)
    abstained = sum(o.confidence < threshold for o in negatives) / max(len(negatives), 1)
    return (answered + abstained) / 2


def _share(flags: Any) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else 0.0


def tune_project(answerer: Answerer, ingester: Ingester, project: str, questions: QuestionSet) -> TuneReport:
    """Fit `project` on `questions` and store the fitted values in its record."""
    index = answerer.project(project)
    embedder = answerer.retriever.embedder
    tuner = Tuner(answerer.settings, lambda settings: Retriever(settings, embedder, None))
    report = tuner.tune(index, questions)
    ingester.set_tuning(index.record.name, report.model_dump(mode="json"))
    answerer.forget(index.record.name)
    return report


def reset_project(ingester: Ingester, project: str) -> None:
    """Back to the default settings for `project`."""
    ingester.set_tuning(project, {})


def tuning_questions(answerer: Answerer, project: str, text: str | None, generate: int | None) -> QuestionSet:
    """The set to tune on: given as JSONL text, or written offline from the repo (`generate` questions)."""
    from ragqa.evaluation import parse_set
    from ragqa.questions import QuestionWriter

    if text:
        return parse_set(text, "the request's questions")
    if not generate:
        raise BadRequestError("give the question set (`questions`, JSONL text) or a number of questions to "
                              "write offline (`generate`)")
    index = answerer.project(project)
    written = QuestionWriter(answerer.settings, None).write(index, generate, "offline")
    return parse_set(written.eval_jsonl(index.record.name), "the generated questions")
