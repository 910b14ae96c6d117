"""Answers given in Slack and the 👍/👎 votes on them, kept in the vector store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ragqa.answer import Answer
from ragqa.index.documents import DocumentCollection

FEEDBACK_COLLECTION = "ragqa-feedback"
Vote = Literal["up", "down"]


class FeedbackRecord(BaseModel):
    """One answer as it was given, and the vote on it once someone voted."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    question: str
    answer: str
    answered: bool
    project: str
    commit: str
    sources: list[str]
    channel: str = ""
    vote: Vote | None = None
    voter: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    voted_at: datetime | None = None


class FeedbackStore:
    """Record answers, then votes on them."""

    def __init__(self, client: Any) -> None:
        self._records = DocumentCollection(client, FEEDBACK_COLLECTION, FeedbackRecord)

    def record(self, question: str, answer: Answer, channel: str = "") -> FeedbackRecord:
        record = FeedbackRecord(question=question, answer=answer.answer, answered=answer.answered,
                                project=answer.project, commit=answer.commit, channel=channel,
                                sources=[source.url for source in answer.sources])
        self._save(record)
        return record

    def vote(self, record_id: str, vote: Vote, voter: str) -> FeedbackRecord | None:
        record = self.get(record_id)
        if record is None:
            return None
        record.vote, record.voter, record.voted_at = vote, voter, datetime.now(UTC)
        self._save(record)
        return record

    def get(self, record_id: str) -> FeedbackRecord | None:
        return self._records.get(record_id)

    def voted(self) -> list[FeedbackRecord]:
        """Every answer someone voted on, newest vote first."""
        records = self._records.find(where={"voted": True})
        return sorted(records, key=lambda r: r.voted_at or r.created_at, reverse=True)

    def counts(self) -> dict[str, int]:
        counts = {"up": 0, "down": 0}
        for meta in self._records.metadatas(where={"voted": True}):
            counts[str(meta.get("vote"))] = counts.get(str(meta.get("vote")), 0) + 1
        return counts

    def _save(self, record: FeedbackRecord) -> None:
        self._records.put(record.id, record, {"voted": record.vote is not None, "vote": record.vote or "",
                                              "project": record.project})
