"""Jobs for the HTTP server — ingest, refresh, tune — run in the background, one at a time per project.

A job's state lives in the vector store (collection `ragqa-jobs`), like the project registry,
so any API replica sharing the store can report on it. Progress is written when the stage
changes and at most once a second within a stage.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ragqa.errors import BusyError, RagqaError
from ragqa.evaluation import QuestionSet
from ragqa.freshness import Head, Heads, Push, now, tracks
from ragqa.index import chroma_client
from ragqa.index.documents import DocumentCollection
from ragqa.ingest import Ingester, IngestRequest, IngestSummary
from ragqa.settings import Settings
from ragqa.sources import SourcePolicy, parse_source, remote_head
from ragqa.tune import TuneReport, split, tune_project

JOBS_COLLECTION = "ragqa-jobs"
JobStateName = Literal["queued", "running", "succeeded", "failed"]


class JobError(BaseModel):
    code: str
    message: str


class Job(BaseModel):
    """What `GET /jobs/{id}` reports."""

    id: str
    kind: Literal["ingest", "refresh", "tune"]
    project: str
    state: JobStateName = "queued"
    stage: str = ""
    done: int = 0
    total: int | None = None
    summary: IngestSummary | None = None
    tuning: TuneReport | None = None  # a tune job's report
    error: JobError | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None


class Jobs:
    """Starts ingest jobs and reports on them."""

    def __init__(self, settings: Settings, policy: SourcePolicy, workers: int = 2,
                 on_finish: Any = None) -> None:
        self.settings = settings
        self.ingester = Ingester(settings)
        self.policy = policy
        self.on_finish = on_finish  # called with each finished Job (metrics)
        self._jobs = DocumentCollection(chroma_client(settings), JOBS_COLLECTION, Job)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ragqa-job")
        self._active: dict[str, str] = {}  # project → id of its queued or running job
        self._pending: set[str] = set()  # projects to refresh once their running job ends
        self.heads = Heads(chroma_client(settings))
        self._lock = threading.Lock()

    def ingest(self, request: IngestRequest) -> Job:
        """Vet the source now (a bad one is an error at once), then index it in the background."""
        self.policy.vet(parse_source(request.source))
        name = self.ingester.project_name(request)
        return self._start(Job(id=_new_id(), kind="ingest", project=name),
                           lambda progress: Ingester(self.settings, progress).ingest(request, self.policy))

    def refresh(self, name: str) -> Job:
        """Re-ingest a project; an unknown project (404) or a source this server may not fetch
        (400, e.g. a local path) is refused now rather than as a failed job."""
        record = self.ingester.get(name)
        self.policy.vet(parse_source(record.source))
        return self._start(Job(id=_new_id(), kind="refresh", project=name),
                           lambda progress: Ingester(self.settings, progress).refresh(name, self.policy))

    def tune(self, name: str, questions: QuestionSet, answerer: Any) -> Job:
        """Fit a project's settings on a question set in the background (`ragqa tune`); an
        unknown project or too small a set is refused now."""
        record = self.ingester.get(name)
        split(questions.questions)  # too small a set: a 400 now, not a failed job
        return self._start(Job(id=_new_id(), kind="tune", project=record.name),
                           lambda progress: tune_project(answerer, self.ingester, record.name, questions))

    def on_push(self, push: Push) -> list[str]:
        """A push to a branch: record it as the head of every project that tracks that branch and
        queue their refreshes (coalesced). The projects it concerns, by name."""
        matched = [record for record in self.ingester.projects() if tracks(record, push)]
        for record in matched:
            self.heads.put(record.name, Head(commit=push.commit, ref=push.branch or "", since=now(),
                                             commits=push.commits, via=push.via))
            self.refresh_soon(record.name)
        return [record.name for record in matched]

    def poll(self) -> list[str]:
        """Ask every git project's remote for its tracked ref's commit; a new one is recorded as
        the head and refreshed, as a push would be (`RAGQA_REFRESH_INTERVAL_S`)."""
        moved = []
        for record in self.ingester.projects():
            with contextlib.suppress(RagqaError):  # one unreachable remote: the others still polled
                commit = remote_head(parse_source(record.source), record.ref, self.settings)
                head = self.heads.get(record.name)
                if commit and commit != record.commit and (head is None or head.commit != commit):
                    self.heads.put(record.name, Head(commit=commit, ref=record.ref or "HEAD", since=now(),
                                                     via="poll"))
                    self.refresh_soon(record.name)
                    moved.append(record.name)
        return moved

    def refresh_soon(self, name: str) -> Job | None:
        """Refresh now, or once the project's running job ends: a burst of pushes makes at most
        one job more, which fetches the newest commit."""
        with self._lock:
            if name in self._active:
                self._pending.add(name)
                return None
        try:
            return self._start_refresh(name)
        except BusyError:  # started by another thread meanwhile
            with self._lock:
                self._pending.add(name)
            return None

    def _start_refresh(self, name: str) -> Job:
        return self._start(Job(id=_new_id(), kind="refresh", project=name),
                           lambda progress: Ingester(self.settings, progress).refresh(name, self.policy))

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _start(self, job: Job, work: Any) -> Job:
        with self._lock:
            if job.project in self._active:
                raise BusyError(f"a job for {job.project!r} (ingest, refresh or tune) is already queued "
                                f"or running (job {self._active[job.project]})")
            self._active[job.project] = job.id
        try:
            self._save(job)
            self._executor.submit(self._run, job, work)
        except BaseException:
            with self._lock:
                self._active.pop(job.project, None)  # a store outage must not leave it "busy"
            raise
        return job

    def _run(self, job: Job, work: Any) -> None:
        progress = _JobProgress(self, job)
        job.state = "running"
        try:
            self._save(job)
            result = work(progress)
            if isinstance(result, TuneReport):
                job.tuning = result
            else:
                job.summary = result
            job.state = "succeeded"
        except RagqaError as error:
            job.state, job.error = "failed", JobError(code=error.code, message=str(error))
        except Exception as error:  # a bug: reported on the job, never raised into the server
            job.state = "failed"
            job.error = JobError(code="internal", message=f"{type(error).__name__}: {error}")
        finally:
            job.finished_at = datetime.now(UTC)
            with self._lock:
                self._active.pop(job.project, None)
                again = job.project in self._pending
                self._pending.discard(job.project)
            with contextlib.suppress(Exception):  # the store is down: the job's last state stays
                self._save(job)
            if self.on_finish is not None:
                self.on_finish(job)
            if again:
                with contextlib.suppress(RagqaError):
                    self._start_refresh(job.project)

    def _save(self, job: Job) -> None:
        self._jobs.put(job.id, job, {"project": job.project, "state": job.state})


class _JobProgress:
    """Ingest progress written onto the job."""

    def __init__(self, jobs: Jobs, job: Job) -> None:
        self.jobs, self.job = jobs, job
        self._saved = 0.0

    def stage(self, name: str, total: int | None) -> None:
        self.job.stage, self.job.total, self.job.done = name, total, 0
        self._save(force=True)

    def advance(self, amount: int = 1) -> None:
        self.job.done += amount
        self._save()

    def note(self, message: str, *, verbose: bool = False) -> None:
        """Notes are for terminals; a job reports its stage and counts."""

    def _save(self, force: bool = False) -> None:
        if force or time.monotonic() - self._saved >= 1.0:
            self._saved = time.monotonic()
            self.jobs._save(self.job)


def _new_id() -> str:
    return uuid.uuid4().hex[:16]
