"""What routes depend on: the services (built lazily, so the server starts while the store is
down), bearer-token scopes, and a per-token rate limit."""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from typing import Annotated, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ragqa.answer import Answerer
from ragqa.api.errors import ApiError
from ragqa.api.metrics import Metrics
from ragqa.api.pool import AnswerPool
from ragqa.feedback import FeedbackStore
from ragqa.index import chroma_client
from ragqa.jobs import Job, Jobs
from ragqa.settings import Settings
from ragqa.sources import SourcePolicy

Scope = Literal["ask", "admin"]


def _no_preload(settings: Settings) -> bool:
    return settings.preload_projects.strip().lower() in ("none", "0")


class Services:
    """The app's `Answerer` and `Jobs`, created on first use and again after a failed attempt."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.policy = SourcePolicy.of(settings.allowed_git_hosts.split(","), settings.allow_local_sources)
        self._answerer: Answerer | None = None
        self._jobs: Jobs | None = None
        self._feedback: FeedbackStore | None = None
        self._lock = threading.Lock()
        # the answers' CPU work on a fixed pool, first come first served (`ragqa.api.pool`)
        self.pool = AnswerPool(settings.answer_workers(), settings.max_queued_answers)
        # (loaded, to load) until the projects to preload are loaded; None once they are
        self.preloading: tuple[int, int] | None = None if _no_preload(settings) else (0, 0)

    @property
    def answerer(self) -> Answerer:
        with self._lock:
            if self._answerer is None:
                self._answerer = Answerer(self.settings)
            return self._answerer

    async def ready_answerer(self) -> Answerer:
        """The answerer, built on a worker thread the first time (it opens the store)."""
        if self._answerer is not None:
            return self._answerer
        return await run_in_threadpool(lambda: self.answerer)

    @property
    def feedback(self) -> FeedbackStore:
        with self._lock:
            if self._feedback is None:
                self._feedback = FeedbackStore(chroma_client(self.settings))
            return self._feedback

    @property
    def jobs(self) -> Jobs:
        with self._lock:
            if self._jobs is None:
                self._jobs = Jobs(self.settings, self.policy, on_finish=self._job_finished)
            return self._jobs

    def preload(self) -> None:
        """Open the projects `RAGQA_PRELOAD_PROJECTS` names ("all", "none" or the N most recently
        indexed) so that no question waits for its project to load; a project that fails to load
        is left for its first question to report."""
        choice = self.settings.preload_projects.strip().lower()
        if _no_preload(self.settings):
            return
        try:
            records = sorted(self.answerer.registry.all(), key=lambda r: r.indexed_at, reverse=True)
        except Exception:  # the store is down: /readyz says so, and the first question loads it
            self.preloading = None
            return
        if choice != "all":
            records = records[:int(choice)]
        self.preloading = (0, len(records))
        opened = []
        for loaded, record in enumerate(records, 1):
            with contextlib.suppress(Exception):
                index = self.answerer.project(record.name)
                opened.append(index)
                if len(records) > 1 and index.memory is not None:
                    index.memory.search.projection()  # ready to route a question to every project
            self.preloading = (loaded, len(records))
        self.preloading = None
        for index in opened:  # ready meanwhile: only reports and `locate` wait for a graph
            with contextlib.suppress(Exception):
                index.graph  # noqa: B018

    def _job_finished(self, job: Job) -> None:
        self.metrics.job_finished(job)
        if self._answerer is not None:
            self._answerer.forget(job.project)  # answers use the new commit from now on

    def close(self) -> None:
        self.pool.close()
        if self._jobs is not None:
            self._jobs.shutdown()


class Auth:
    """Bearer tokens with two scopes; `admin` tokens may also ask. No tokens: no auth (loopback)."""

    def __init__(self, settings: Settings) -> None:
        self.admin = _tokens(settings.admin_tokens)
        self.ask = _tokens(settings.ask_tokens) | self.admin

    @property
    def enabled(self) -> bool:
        return bool(self.ask)

    def check(self, request: Request, scope: Scope) -> str:
        """The caller's identity (its token, or its address without auth) if allowed."""
        if not self.enabled:
            return f"addr:{request.client.host if request.client else '?'}"
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "a bearer token is required",
                           {"WWW-Authenticate": "Bearer"})
        if not _member(token, self.ask):
            raise ApiError(401, "unauthorized", "unknown token", {"WWW-Authenticate": "Bearer"})
        if scope == "admin" and not _member(token, self.admin):
            raise ApiError(403, "forbidden", "this token may ask but not administer projects")
        return f"token:{token}"


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, in bursts of as many."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        rate = self.per_minute / 60
        with self._lock:
            tokens, last = self._buckets.get(caller, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[caller] = (tokens, now)
                wait = max(1, int((1 - tokens) / rate + 0.999))
                raise ApiError(429, "rate_limited", f"too many requests; retry in {wait} s",
                               {"Retry-After": str(wait)})
            self._buckets[caller] = (tokens - 1, now)


def _tokens(secret: object) -> set[str]:
    value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else ""
    return {token.strip() for token in str(value).split(",") if token.strip()}


def _member(token: str, tokens: set[str]) -> bool:
    return any(hmac.compare_digest(token.encode(), known.encode()) for known in tokens)


async def services(request: Request) -> Services:  # async: no thread hand-off for a lookup
    found: Services = request.app.state.services
    return found


def _guard(scope: Scope) -> object:
    async def check(request: Request) -> str:  # async: a token compare needs no worker thread
        caller = request.app.state.auth.check(request, scope)
        request.app.state.limiter.take(caller)
        return str(caller)

    return Depends(check)


ServicesDep = Annotated[Services, Depends(services)]
AskCaller = Annotated[str, _guard("ask")]
AdminCaller = Annotated[str, _guard("admin")]
