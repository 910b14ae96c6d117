"""Stage 6 — answer: a model or the extractive fallback, with the link guarantee."""

from ragqa.answer.answerer import Answerer, BadQuestionError
from ragqa.contract import Answer, AnswerEvent, Source

__all__ = ["Answer", "AnswerEvent", "Answerer", "BadQuestionError", "Source"]
