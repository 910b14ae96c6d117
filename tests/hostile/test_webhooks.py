"""The push-webhook door (`POST /webhooks/github`, `/webhooks/gitlab`) of the real app under
uvicorn: the signature is checked on the raw body as bytes (anything not ASCII is 401, never a
500), only then is the body read — through a typed model, 400 naming the field for anything of
another shape — and a megabyte repository URL costs linear CPU time and a bounded log line."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ragqa.api import create_app
from tests.hostile.conftest import MEGABYTE, WEB, Indexed, cpu_budget, one_line
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
SECRET = "hook-secret"
SHA = "a" * 40


@pytest.fixture(scope="module")
def url(indexed: Indexed) -> Iterator[str]:
    settings = indexed.settings(webhook_secret=SECRET, max_body_bytes=3 * MEGABYTE)
    with LiveServer(create_app(settings)) as served:
        yield served


def push(**changes: Any) -> dict[str, Any]:
    """A GitHub push to a branch no project tracks (nothing is re-indexed by these cases)."""
    body: dict[str, Any] = {
        "ref": "refs/heads/feature",
        "after": SHA,
        "deleted": False,
        "commits": [],
        "repository": {"html_url": WEB, "clone_url": f"{WEB}.git", "default_branch": "main"},
    }
    body.update(changes)
    return body


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github(url: str, body: bytes, signature: str | bytes | None, event: str = "push") -> httpx.Response:
    headers: dict[str, str | bytes] = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(f"{url}/webhooks/github", content=body, headers=headers)


def gitlab(url: str, body: bytes, token: str | bytes | None, event: str = "Push Hook") -> httpx.Response:
    headers: dict[str, str | bytes] = {"X-Gitlab-Event": event, "Content-Type": "application/json"}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return httpx.post(f"{url}/webhooks/gitlab", content=body, headers=headers)


def refused(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert fragment in one_line(response.json()["error"]["message"]), response.text[:300]


BODY = json.dumps(push()).encode()


@pytest.mark.parametrize(
    ("signature", "fragment"),
    [
        pytest.param("sha256=é".encode("latin-1"), "X-Hub-Signature-256", id="non-ascii-latin-1"),
        pytest.param(("sha256=\u00ff" * 3).encode("latin-1"), "X-Hub-Signature-256", id="non-ascii-repeated"),
        pytest.param("sha256=" + "z" * 64, "X-Hub-Signature-256", id="not-hex"),
        pytest.param(signed(BODY, "another secret"), "X-Hub-Signature-256", id="another-secret"),
        pytest.param(signed(BODY).replace("sha256", "sha1"), "X-Hub-Signature-256", id="sha1-prefix"),
        pytest.param(signed(BODY)[:-1], "X-Hub-Signature-256", id="one-character-short"),
        pytest.param(signed(BODY).upper(), "X-Hub-Signature-256", id="upper-case"),
        pytest.param("", "X-Hub-Signature-256", id="empty"),
        pytest.param(None, "X-Hub-Signature-256", id="missing"),
        pytest.param(signed(BODY) + "0" * 8000, "X-Hub-Signature-256", id="eight-kilobytes"),
    ],
)
def test_github_signatures_are_bytes_and_refused_with_401(
    url: str, signature: str | bytes | None, fragment: str
) -> None:
    refused(github(url, BODY, signature), 401, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(push(repository=5), "repository", id="repository-a-number"),
        pytest.param(push(repository="x"), "repository", id="repository-a-string"),
        pytest.param(push(repository=None), "repository", id="repository-null"),
        pytest.param(
            {k: v for k, v in push().items() if k != "repository"},
            "repository is missing",
            id="repository-missing",
        ),
        pytest.param(push(repository={"html_url": ["x"]}), "repository.html_url", id="url-a-list"),
        pytest.param(push(ref=5), "ref", id="ref-a-number"),
        pytest.param(push(commits="many"), "commits", id="commits-a-string"),
        pytest.param(push(deleted={"x": 1}), "deleted", id="deleted-an-object"),
        pytest.param([push()], "JSON object", id="a-json-array"),
        pytest.param("push", "JSON object", id="a-json-string"),
    ],
)
def test_signed_github_bodies_of_the_wrong_shape_are_400(url: str, body: Any, fragment: str) -> None:
    raw = json.dumps(body).encode()
    refused(github(url, raw, signed(raw)), 400, fragment)


@pytest.mark.parametrize(
    ("raw", "event", "status", "fragment"),
    [
        pytest.param(b"{not json", "push", 400, "not JSON", id="not-json"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "push", 400, "nested too deeply", id="nested-deep"),
        pytest.param(b"\xff\xfe{}", "push", 400, "not JSON", id="not-utf8"),
        pytest.param(BODY, "issues", 400, "only push events", id="not-a-push"),
        pytest.param(BODY, "x" * 5000, 400, "only push events", id="event-five-kilobytes"),
    ],
)
def test_signed_bodies_that_are_not_pushes(
    url: str, raw: bytes, event: str, status: int, fragment: str
) -> None:
    refused(github(url, raw, signed(raw), event), status, fragment)


def test_a_ping_and_a_push_nobody_tracks_are_answered(url: str) -> None:
    ping = b'{"zen": "hi"}'
    assert github(url, ping, signed(ping), "ping").json() == {"ok": True, "event": "ping"}
    response = github(url, BODY, signed(BODY))
    assert (
        response.status_code == 202 and "no project tracks the branch 'feature'" in response.json()["ignored"]
    )
    tag = json.dumps(push(ref="refs/tags/v1")).encode()
    assert github(url, tag, signed(tag)).status_code == 202


def test_a_replayed_delivery_is_409(url: str) -> None:
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signed(BODY), "X-GitHub-Delivery": "d-1"}
    first = httpx.post(f"{url}/webhooks/github", content=BODY, headers=headers)
    assert first.status_code == 202
    refused(httpx.post(f"{url}/webhooks/github", content=BODY, headers=headers), 409, "received already")


def test_a_megabyte_repository_url_is_404_in_linear_time_with_a_bounded_log(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    long_url = "https://github.com/acme/" + "x" * MEGABYTE
    raw = json.dumps(push(repository={"html_url": long_url, "default_branch": "main"})).encode()
    caplog.set_level(logging.INFO)
    with cpu_budget(3.0):
        response = github(url, raw, signed(raw))
    refused(response, 404, "no project is indexed from https://github.com/acme/xxx")
    assert len(response.text) < 1_000
    from ragqa.logs import RagqaHandler

    [ours] = [h for h in logging.getLogger().handlers if isinstance(h, RagqaHandler)]
    assert all(len(ours.format(record)) < 3_000 for record in caplog.records)


GITLAB = json.dumps(
    {"ref": "refs/heads/feature", "checkout_sha": SHA, "project": {"web_url": WEB, "default_branch": "main"}}
).encode()


@pytest.mark.parametrize(
    ("raw", "token", "event", "status", "fragment"),
    [
        pytest.param(
            GITLAB, "hook-secrét".encode("latin-1"), "Push Hook", 401, "X-Gitlab-Token", id="non-ascii"
        ),
        pytest.param(GITLAB, "wrong", "Push Hook", 401, "X-Gitlab-Token", id="wrong-token"),
        pytest.param(GITLAB, None, "Push Hook", 401, "X-Gitlab-Token", id="missing-token"),
        pytest.param(GITLAB, SECRET, "Push Hook", 202, "", id="the-right-token"),
        pytest.param(b'{"project": "x"}', SECRET, "Push Hook", 400, "project", id="project-a-string"),
        pytest.param(
            b'{"ref": "refs/heads/main"}',
            SECRET,
            "Push Hook",
            400,
            "project is missing",
            id="project-missing",
        ),
        pytest.param(
            b'{"project": {}, "total_commits_count": "ten"}',
            SECRET,
            "Push Hook",
            400,
            "total_commits_count",
            id="count-a-string",
        ),
        pytest.param(GITLAB, SECRET, "Issue Hook", 400, "only push events", id="not-a-push"),
        pytest.param(b"", SECRET, "Push Hook", 400, "not JSON", id="empty-body"),
    ],
)
def test_gitlab(
    url: str, raw: bytes, token: str | bytes | None, event: str, status: int, fragment: str
) -> None:
    response = gitlab(url, raw, token, event)
    if status == 202:
        assert response.status_code == 202, response.text
    else:
        refused(response, status, fragment)


def test_webhooks_off_is_403(indexed: Indexed) -> None:
    with LiveServer(create_app(indexed.settings())) as served:
        refused(github(served, BODY, signed(BODY)), 403, "RAGQA_WEBHOOK_SECRET")
