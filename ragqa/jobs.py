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
from ragqa.index import chroma_client
from ragqa.index.documents import DocumentCollection
from ragqa.ingest import Ingester, IngestRequest, IngestSummary
from ragqa.settings import Settings
from ragqa.sources import SourcePolicy, parse_source
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
            with contextlib.suppress(Exception):  # the store is down: the job's last state stays
                self._save(job)
            if self.on_finish is not None:
                self.on_finish(job)

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
