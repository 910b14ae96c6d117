"""`POST /webhooks/github` and `/webhooks/gitlab`: a push re-indexes the projects that track the
pushed branch (see `ragqa.freshness`). The signature (GitHub) or token (GitLab) is checked on the
raw body before anything is parsed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ragqa.api.deps import ServicesDep
from ragqa.api.errors import ApiError
from ragqa.freshness import Push, github_push, gitlab_push, repo_key

router = APIRouter(tags=["webhooks"])
_DELIVERIES = 1_000  # delivery ids remembered, so a replayed delivery is refused


class _Seen:
    def __init__(self) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, delivery: str | None) -> bool:
        if not delivery:
            return True
        with self._lock:
            if delivery in self._ids:
                return False
            self._ids[delivery] = None
            while len(self._ids) > _DELIVERIES:
                self._ids.popitem(last=False)
            return True


_seen = _Seen()


@router.post("/webhooks/github", response_model=None)
async def github(request: Request, services: ServicesDep) -> dict[str, Any] | JSONResponse:
    """A GitHub push (`X-Hub-Signature-256` must sign the body with `RAGQA_WEBHOOK_SECRET`)."""
    body = await request.body()
    push = github_push(body, request.headers.get("x-github-event", ""),
                       request.headers.get("x-hub-signature-256"), _secret(services))
    if push is None:
        return {"ok": True, "event": "ping"}
    return _handle(push, request.headers.get("x-github-delivery"), services)


@router.post("/webhooks/gitlab", response_model=None)
async def gitlab(request: Request, services: ServicesDep) -> dict[str, Any] | JSONResponse:
    """A GitLab push (`X-Gitlab-Token` must be `RAGQA_WEBHOOK_SECRET`)."""
    body = await request.body()
    push = gitlab_push(body, request.headers.get("x-gitlab-event", ""), request.headers.get("x-gitlab-token"),
                       _secret(services))
    assert push is not None
    return _handle(push, request.headers.get("x-gitlab-event-uuid"), services)


def _secret(services: Any) -> str:
    secret = services.settings.webhook_secret
    if secret is None:
        raise ApiError(403, "webhooks_off", "webhooks are not configured here: set RAGQA_WEBHOOK_SECRET")
    return str(secret.get_secret_value())


def _handle(push: Push, delivery: str | None, services: Any) -> dict[str, Any] | JSONResponse:
    if not _seen.first_time(delivery):
        raise ApiError(409, "replayed", f"delivery {delivery} was received already")
    if push.branch is None:
        return JSONResponse({"ignored": "not a push to a branch (a tag or a deleted branch)"},
                            status_code=202)
    queued = services.jobs.on_push(push)
    if queued:
        return JSONResponse({"refreshing": queued, "commit": push.commit}, status_code=202)
    known = {repo_key(url) for url in push.urls} & {
        key for record in services.jobs.ingester.projects() for key in
        (repo_key(record.source), repo_key(record.web_url)) if key}
    if not known:
        raise ApiError(404, "unknown_repository", f"no project is indexed from {_cut(push.repo)}")
    ignored = f"no project tracks the branch {_cut(push.branch)!r} of {_cut(push.repo)}"
    return JSONResponse({"ignored": ignored}, status_code=202)


def _cut(text: str, most: int = 200) -> str:
    """A client's text as a message shows it: at most `most` characters."""
    return text if len(text) <= most else text[:most] + "…"
