"""The Slack door (`POST /slack/events`) of the real app under uvicorn, with the real slack-bolt
and slack-sdk talking to a fake Slack Web API on loopback: the signature is checked on the raw
body before anything parses it (401 in one JSON line for anything unsigned, stale or not ASCII,
never a 500), a signed body of the wrong shape is 400, and what the bot posts links only to
lines that exist."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ragqa.api import create_app
from tests.fake_slack import FakeSlack
from tests.hostile.conftest import MEGABYTE, Indexed, assert_links_exist, cpu_budget, one_line
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
SECRET = "slack-secret"
CHALLENGE = json.dumps({"type": "url_verification", "challenge": "c1", "token": "x"}).encode()


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def url(indexed: Indexed, slack: FakeSlack) -> Iterator[str]:
    settings = indexed.settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=f"{slack.url}/api/",
        slack_channel_projects={"CS": "sample"},
    )
    with LiveServer(create_app(settings)) as served:
        yield served


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    return (
        "v0="
        + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    )


def post(
    url: str,
    body: bytes,
    timestamp: str | bytes | None = None,
    sig: str | bytes | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    stamp = str(int(time.time())) if timestamp is None else timestamp
    headers: dict[str, Any] = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sig if sig is not None else signature(body, str(stamp)),
    }
    return httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=60)


def refused(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert fragment in one_line(response.json()["error"]["message"]), response.text[:300]


# A signature over the current time is made when the case runs, not when the module is collected:
# a slow run reaches these cases more than Slack's five minutes later.
HEADER_CASES = [
    pytest.param(None, "v0=\u00e9".encode("latin-1"), "does not match", id="signature-not-ascii"),
    pytest.param(
        None, ("v0=" + "\u00ff" * 64).encode("latin-1"), "does not match", id="signature-latin-1-hex-length"
    ),
    pytest.param(b"\xb2", None, "not a number", id="timestamp-superscript-two"),
    pytest.param("9" * 5000, None, "not a number", id="timestamp-five-thousand-digits"),
    pytest.param("-1", None, "not a number", id="timestamp-negative"),
    pytest.param("1.5", None, "not a number", id="timestamp-float"),
    pytest.param("0x10", None, "not a number", id="timestamp-hex"),
    pytest.param(str(10**12), None, "too old", id="timestamp-in-the-future"),
    pytest.param("100", None, "too old", id="timestamp-1970"),
    pytest.param(None, "v1=" + "0" * 64, "does not match", id="signature-v1"),
    pytest.param(
        None,
        lambda now: signature(CHALLENGE, now) + "0" * 8000,
        "does not match",
        id="signature-eight-kilobytes",
    ),
    pytest.param(
        None,
        lambda now: signature(CHALLENGE, now, "another"),
        "does not match",
        id="signature-another-secret",
    ),
    pytest.param(
        None, lambda now: signature(CHALLENGE + b" ", now), "does not match", id="signature-of-another-body"
    ),
    pytest.param(None, "", "missing", id="signature-empty"),
    pytest.param("", None, "missing", id="timestamp-empty"),
]


@pytest.mark.parametrize(("timestamp", "sig", "fragment"), HEADER_CASES)
def test_unsigned_stale_or_non_ascii_is_401(
    url: str, timestamp: str | bytes | None, sig: str | bytes | Callable[[str], str] | None, fragment: str
) -> None:
    now = str(int(time.time()))
    if callable(sig):
        sig = sig(now)
    if sig is None and timestamp is not None:
        sig = signature(CHALLENGE, timestamp.decode("latin-1") if isinstance(timestamp, bytes) else timestamp)
    refused(post(url, CHALLENGE, timestamp if timestamp is not None else now, sig), 401, fragment)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'{"type": "event_callback", ', "application/json", id="json-cut-short"),
        pytest.param(b"payload=%7Bbad json", "application/x-www-form-urlencoded", id="form-payload-not-json"),
        pytest.param(b"[" * 50_000 + b"]" * 50_000, "application/json", id="nested-fifty-thousand-deep"),
        pytest.param(b"\xff\xfe\x00", "application/json", id="not-utf8"),
    ],
)
def test_signed_bodies_of_the_wrong_shape_are_400(url: str, body: bytes, content_type: str) -> None:
    refused(post(url, body, content_type=content_type), 400, "malformed")


def test_the_challenge_is_answered(url: str) -> None:
    response = post(url, CHALLENGE)
    assert response.status_code == 200 and "c1" in response.text


def test_a_megabyte_signed_body_is_refused_in_linear_time(url: str) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "x" * MEGABYTE}).encode()
    with cpu_budget(2.0):
        response = post(url, body)
    refused(response, 413, "bytes")


def mention(text: str, event_id: str) -> bytes:
    ts = f"{time.time():.6f}"
    return json.dumps(
        {
            "token": "x",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
            "event": {
                "type": "app_mention",
                "user": "U1",
                "text": f"<@UBOT> {text}",
                "ts": ts,
                "channel": "CS",
                "event_ts": ts,
            },
        }
    ).encode()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("How do I retry with exponential backoff?", "blob/", id="a-question"),
        pytest.param("project:../etc how?", "is not a project name", id="project-traversal"),
        pytest.param("\ud800 retry backoff?", "", id="lone-surrogate"),
        pytest.param("`Session.request` " * 3000, "", id="a-long-paste"),
    ],
)
def test_what_the_bot_posts_links_only_lines_that_exist(
    url: str, slack: FakeSlack, indexed: Indexed, text: str, fragment: str
) -> None:
    slack.reset()
    assert post(url, mention(text, f"Ev{abs(hash(text))}")).status_code == 200
    posted = json.dumps(slack.wait_for("chat.update")[-1])
    assert fragment in posted and "Traceback" not in posted, posted[:500]
    assert_links_exist(posted.replace("\\/", "/"), indexed)
