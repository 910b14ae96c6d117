"""Freshness: what ragqa knows of commits newer than the ones it indexed.

A push webhook (`POST /webhooks/github`, `/webhooks/gitlab`) or the poller (`RAGQA_REFRESH_INTERVAL_S`)
records a project's newest known commit of its tracked ref as its *head* (collection
`ragqa-heads`, so every replica sees it) and queues a refresh. While the head is newer than the
indexed commit, every answer carries `behind` and says so in one line; the refresh clears it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ragqa.contract import Behind
from ragqa.errors import BadRequestError, RagqaError
from ragqa.index.documents import DocumentCollection
from ragqa.index.registry import ProjectRecord
from ragqa.links import web_url_from_remote

HEADS_COLLECTION = "ragqa-heads"


class Head(BaseModel):
    """The newest commit known for a project's tracked ref, and how it became known."""

    commit: str
    ref: str
    since: datetime
    commits: int | None = None  # commits the push added, when the webhook says
    via: str = "push"  # "github push", "gitlab push" or "poll"


def behind(record: ProjectRecord, head: Head | None) -> Behind | None:
    """`Behind` when `head` is a commit other than the indexed one, known since the last ingest."""
    if head is None or head.commit == record.commit or head.since <= record.indexed_at:
        return None
    return Behind(commit=head.commit, ref=head.ref, since=head.since, commits=head.commits)


class Heads:
    """The projects' heads in the store."""

    def __init__(self, client: Any) -> None:
        self._heads = DocumentCollection(client, HEADS_COLLECTION, Head)

    def get(self, project: str) -> Head | None:
        return self._heads.get(project)

    def all_raw(self) -> dict[str, str]:
        """Every project's head as stored (JSON), for the catalogue."""
        return dict(self._heads.find_raw())

    def put(self, project: str, head: Head) -> None:
        self._heads.put(project, head, {"commit": head.commit})


@dataclass(frozen=True)
class Push:
    """A push as a webhook tells it."""

    urls: tuple[str, ...]  # the repository's URLs (web, https clone, ssh clone)
    branch: str | None  # None for a tag or a deleted branch
    commit: str
    default_branch: str
    commits: int | None
    via: str

    @property
    def repo(self) -> str:
        return self.urls[0] if self.urls else "?"


class _Payload(BaseModel):
    """What ragqa reads of a webhook body; anything else in it is ignored, anything of the wrong
    shape is a 400 that names the field."""

    model_config = ConfigDict(extra="ignore")


class _GithubRepository(_Payload):
    html_url: str | None = None
    clone_url: str | None = None
    ssh_url: str | None = None
    default_branch: str | None = None


class _GithubPush(_Payload):
    repository: _GithubRepository
    ref: str | None = None
    after: str | None = None
    deleted: bool = False
    commits: list[Any] | None = None


class _GitlabProject(_Payload):
    web_url: str | None = None
    git_http_url: str | None = None
    git_ssh_url: str | None = None
    default_branch: str | None = None


class _GitlabPush(_Payload):
    project: _GitlabProject
    ref: str | None = None
    after: str | None = None
    checkout_sha: str | None = None
    total_commits_count: int | None = None


def github_push(body: bytes, event: str, signature: str | None, secret: str) -> Push | None:
    """The push a GitHub delivery carries (None for a ping); `RagqaError`s for a bad signature or
    payload (`WebhookAuthError`: 401, `BadRequestError`: 400)."""
    expected = b"sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    if not _matches(signature, expected):
        raise WebhookAuthError("the X-Hub-Signature-256 header is missing or does not match "
                               "RAGQA_WEBHOOK_SECRET")
    if event == "ping":
        return None
    if event != "push":
        raise BadRequestError(f"only push events are handled, not {_shown(event)}")
    payload = _parse(_GithubPush, body, "GitHub push")
    repo = payload.repository
    return Push(urls=_urls(repo.html_url, repo.clone_url, repo.ssh_url),
                branch=None if payload.deleted else _branch(payload.ref), commit=payload.after or "",
                default_branch=repo.default_branch or "",
                commits=len(payload.commits) if payload.commits is not None else None, via="github push")


def gitlab_push(body: bytes, event: str, token: str | None, secret: str) -> Push | None:
    """The push a GitLab delivery carries; its `X-Gitlab-Token` must be the secret."""
    if not _matches(token, secret.encode()):
        raise WebhookAuthError("the X-Gitlab-Token header is missing or is not RAGQA_WEBHOOK_SECRET")
    if event not in ("Push Hook", "System Hook"):
        raise BadRequestError(f"only push events are handled, not {_shown(event)}")
    payload = _parse(_GitlabPush, body, "GitLab push")
    project = payload.project
    commit = payload.checkout_sha or payload.after or ""
    return Push(urls=_urls(project.web_url, project.git_http_url, project.git_ssh_url),
                branch=_branch(payload.ref) if commit.strip("0") else None, commit=commit,
                default_branch=project.default_branch or "", commits=payload.total_commits_count,
                via="gitlab push")


def _matches(given: str | None, expected: bytes) -> bool:
    """A signature header against what it must be, as bytes (the header's own bytes: HTTP
    headers are Latin-1); a header that is not ASCII never matches."""
    if not given or not given.isascii():
        return False
    return hmac.compare_digest(given.strip().encode("ascii"), expected)


_Model = TypeVar("_Model", bound=BaseModel)


def _parse(model: type[_Model], body: bytes, what: str) -> _Model:
    """The body as `model`; a 400 naming the first field of the wrong shape otherwise."""
    payload = _json(body)
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        problem = "is missing" if first["type"] == "missing" else f"is wrong: {first['msg']}"
        raise BadRequestError(f"the body is not a {what}: {where} {problem}") from None


def _shown(text: str, most: int = 60) -> str:
    cut = text if len(text) <= most else text[:most] + "…"
    return repr(cut.encode("unicode_escape").decode("ascii"))


class WebhookAuthError(RagqaError):
    """A webhook delivery that is not signed with the configured secret."""

    code = "unauthorized"


def repo_key(url: str | None) -> str | None:
    """One spelling of a repository for matching: `https://host/owner/repo`, lower case."""
    web = web_url_from_remote(url) if url else None
    return web.lower() if web else None


def tracks(record: ProjectRecord, push: Push) -> bool:
    """Whether `record` follows the pushed branch of the pushed repository."""
    keys = {repo_key(url) for url in push.urls} - {None}
    mine = {repo_key(record.source), repo_key(record.web_url)} - {None}
    if not keys & mine or push.branch is None:
        return False
    return (record.ref or push.default_branch) == push.branch


def _urls(*urls: object) -> tuple[str, ...]:
    return tuple(str(url) for url in urls if isinstance(url, str) and url)


def _branch(ref: object) -> str | None:
    text = str(ref or "")
    return text.removeprefix("refs/heads/") if text.startswith("refs/heads/") else None


def _json(body: bytes) -> dict[str, Any]:
    import json

    try:
        payload = json.loads(body)
    except RecursionError:
        raise BadRequestError("the webhook body is nested too deeply") from None
    except ValueError:
        raise BadRequestError("the webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadRequestError("the webhook body is not a JSON object")
    return payload


def now() -> datetime:
    return datetime.now(UTC)
