"""The Slack bot for real (slack-bolt in the real server), Slack's Web API faked on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from ragqa.slack.mrkdwn import to_mrkdwn
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo, run_cli
from tests.fake_slack import FakeSlack
from tests.live_server import LiveServer

SECRET = "signing-secret"
WEB = "https://github.com/acme/sample"
pytestmark = pytest.mark.slow


def test_markdown_becomes_slack_mrkdwn() -> None:
    markdown = ("## Timeouts\nUse **connect** and *read* timeouts, see [the guide](https://x.io/a_b/c#L1-L2) "
                "or <https://x.io/d_e>; a < b & c.\n- one `code <x>` item\n* two __bold__\n"
                "```python\nif a < b: print('**kept**')\n```\nsnake_case and 2*3*4 stay.")
    assert to_mrkdwn(markdown).split("\n") == [
        "*Timeouts*",
        "Use *connect* and _read_ timeouts, see <https://x.io/a_b/c#L1-L2|the guide> "
        "or <https://x.io/d_e>; a &lt; b &amp; c.",
        "• one `code &lt;x&gt;` item",
        "• two *bold*",
        "```",
        "if a &lt; b: print('**kept**')",
        "```",
        "snake_case and 2*3*4 stay.",
    ]
    assert to_mrkdwn("[a|b](https://x.io/?q=1&r=2)") == "<https://x.io/?q=1&amp;r=2|a∣b>"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    root = tmp_path_factory.mktemp("slack")
    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", slack_bot_token="xoxb-test",
                        slack_signing_secret=SECRET, slack_api_url=f"{slack.url}/api/",
                        slack_channel_projects={"CSAMPLE": "sample", "CBOTH": ["sample", "other"]},
                        _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), name="other", web_url=WEB))
    with LiveServer(create_app(settings)) as url:
        yield url, settings


def signed(url: str, body: str, content_type: str, *, secret: str = SECRET, age: int = 0) -> httpx.Response:
    timestamp = str(int(time.time()) - age)
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return httpx.post(f"{url}/slack/events", content=body.encode(), headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})


def event(url: str, payload: dict[str, Any], **options: Any) -> httpx.Response:
    body = {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}", "event_time": int(time.time()), "event": payload,
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]}
    return signed(url, json.dumps(body), "application/json", **options)


def mention(text: str, channel: str = "CSAMPLE", **extra: Any) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {"type": "app_mention", "user": "UASKER", "text": f"<@UBOT> {text}", "ts": ts,
            "channel": channel, "event_ts": ts, **extra}


def test_signatures_are_checked(server: tuple[str, Settings]) -> None:
    url, _ = server
    challenge = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})
    good = signed(url, challenge, "application/json")
    assert good.status_code == 200 and "abc123" in good.text
    assert signed(url, challenge, "application/json", secret="wrong").status_code == 401
    assert signed(url, challenge, "application/json", age=600).status_code == 401, "stale"
    unsigned = httpx.post(f"{url}/slack/events", content=challenge,
                          headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401


def test_a_mention_is_answered_in_its_thread(server: tuple[str, Settings], slack: FakeSlack) -> None:
    url, _ = server
    slack.reset()
    asked = mention("how do I retry a call with exponential backoff?")
    assert event(url, asked).status_code == 200
    placeholder = slack.wait_for("chat.postMessage")[0]
    assert placeholder["channel"] == "CSAMPLE" and placeholder["thread_ts"] == asked["ts"]
    update = slack.wait_for("chat.update")[0]
    blocks = update["blocks"]
    text = "\n".join(block["text"]["text"] for block in blocks if block["type"] == "section")
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    assert "retry_with_backoff" in text and "**" not in prose and "](" not in prose
    sources = next(block for block in blocks if block["type"] == "section"
                   and block["text"]["text"].startswith("*Sources*"))["text"]["text"]
    assert re.search(rf"<{WEB}/blob/[0-9a-f]{{40}}/[^|>]+#L\d+-L\d+\|[^>]+#L\d+-L\d+>", sources)
    actions = next(block for block in blocks if block["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == ["ragqa_feedback_up", "ragqa_feedback_down"]
    assert "sample @" in next(b for b in blocks if b["type"] == "context")["elements"][0]["text"]


TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/main.py", line 3, in <module>
    run()
  File "/srv/venv/lib/python3.11/site-packages/sample/http.py", line 11, in connect_timeout
    raise ValueError("timeout must be positive")
ValueError: timeout must be positive"""


def test_a_pasted_traceback_or_snippet_is_read_line_by_line(server: tuple[str, Settings],
                                                            slack: FakeSlack) -> None:
    url, _ = server
    slack.reset()
    pasted = "we get this after upgrading &amp; restarting &lt;app&gt;:\n```\n" + TRACEBACK + "\n```"
    assert event(url, mention(pasted)).status_code == 200
    update = slack.wait_for("chat.update")[0]
    text = "\n".join(block["text"]["text"] for block in update["blocks"] if block["type"] == "section")
    assert text.startswith("Start at `connect_timeout` in `src/sample/http.py`: it is the traceback's "
                           "deepest frame in the project (`connect_timeout`, line 11)")
    slack.reset()
    snippet = {"id": "F1", "name": "trace.txt", "mode": "snippet", "mimetype": "text/plain",
               "url_private": slack.share("trace.txt", TRACEBACK)}
    elsewhere = {"id": "F2", "name": "x.txt", "mimetype": "text/plain", "url_private": "https://example.com/x.txt"}
    assert event(url, mention("what is going on here?", files=[snippet, elsewhere])).status_code == 200
    update = slack.wait_for("chat.update")[0]
    text = "\n".join(block["text"]["text"] for block in update["blocks"] if block["type"] == "section")
    assert "`connect_timeout` in `src/sample/http.py`" in text.split("\n", 1)[0]
    assert slack.file_auth == ["Bearer xoxb-test"]  # the token went to Slack's file host only


def test_a_channel_mapped_to_several_projects_asks_them_all(server: tuple[str, Settings],
                                                            slack: FakeSlack) -> None:
    url, _ = server
    slack.reset()
    asked = mention("how do I retry a call with exponential backoff?", channel="CBOTH")
    assert event(url, asked).status_code == 200
    assert "Looking in sample, other" in slack.wait_for("chat.postMessage")[0]["text"]
    update = slack.wait_for("chat.update")[0]
    context = next(b for b in update["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert context.startswith("sample @ `") and ", other @ `" in context


def test_follow_ups_read_the_thread_and_projects_can_be_named(server: tuple[str, Settings],
                                                               slack: FakeSlack) -> None:
    url, _ = server
    slack.reset()
    parent = "1700000001.000100"
    slack.threads[parent] = [
        {"ts": parent, "user": "UASKER", "text": "<@UBOT> how do I retry with backoff?"},
        {"ts": "1700000002.000100", "bot_id": "BBOT", "text": "Use retry_with_backoff."}]
    follow_up = mention("and the connect timeout? project:other", thread_ts=parent)
    event(url, follow_up)
    replies = slack.wait_for("conversations.replies")
    assert replies[0]["ts"] == parent
    assert slack.wait_for("chat.postMessage")[0]["thread_ts"] == parent
    update = slack.wait_for("chat.update")[0]
    assert "other @" in json.dumps(update["blocks"])

    slack.reset()
    event(url, mention("what is this? project:ghost"))
    missing = slack.wait_for("chat.update")[0]["text"]
    assert "no project named 'ghost'" in missing and "Traceback" not in missing

    slack.reset()
    event(url, mention("How do I configure a Kafka producer to wait for all in-sync replicas?"))
    unsure = slack.wait_for("chat.update")[0]["text"]
    assert unsure.startswith("Hmm, I'm not sure.") and "*sample*" in unsure


def test_direct_messages_but_never_the_bots_own(server: tuple[str, Settings], slack: FakeSlack) -> None:
    url, _ = server
    slack.reset()
    ts = f"{time.time():.6f}"
    event(url, {"type": "message", "channel_type": "im", "channel": "DUSER", "user": "UASKER", "ts": ts,
                "text": "project:sample where is the connect timeout helper?"})
    assert slack.wait_for("chat.postMessage")[0]["thread_ts"] == ts
    slack.wait_for("chat.update")
    slack.reset()
    event(url, {"type": "message", "channel_type": "im", "channel": "DUSER", "bot_id": "BBOT",
                "user": "UBOT", "ts": f"{time.time():.6f}", "text": "an answer of mine"})
    time.sleep(1)
    assert slack.named("chat.postMessage") == []


def test_the_slash_command_acks_then_answers(server: tuple[str, Settings], slack: FakeSlack) -> None:
    url, _ = server
    slack.reset()
    body = urlencode({"command": "/ask", "text": "how do I retry with backoff?", "channel_id": "CSAMPLE",
                      "user_id": "UASKER", "team_id": "T1", "trigger_id": "t1",
                      "response_url": f"{slack.url}/respond/1"})
    started = time.perf_counter()
    ack = signed(url, body, "application/x-www-form-urlencoded")
    assert ack.status_code == 200 and "Looking that up" in ack.text
    assert time.perf_counter() - started < 3, "Slack's ack deadline"
    answer = slack.wait_for("response_url")[0]
    assert answer["response_type"] == "in_channel" and "retry_with_backoff" in json.dumps(answer["blocks"])


def test_feedback_round_trip(server: tuple[str, Settings], slack: FakeSlack, tmp_path: Path) -> None:
    url, settings = server
    slack.reset()
    event(url, mention("where is the connect timeout helper?"))
    update = slack.wait_for("chat.update")[0]
    button = next(b for b in update["blocks"] if b["type"] == "actions")["elements"][0]
    payload = {"type": "block_actions", "user": {"id": "UVOTER"}, "team": {"id": "T1"},
               "api_app_id": "A1", "token": "x", "trigger_id": "t2",
               "channel": {"id": "CSAMPLE"}, "container": {"type": "message"},
               "message": {"ts": update["ts"], "text": update["text"], "blocks": update["blocks"]},
               "actions": [{"action_id": button["action_id"], "block_id": "ragqa_feedback",
                            "value": button["value"], "type": "button"}]}
    slack.reset()
    assert signed(url, urlencode({"payload": json.dumps(payload)}),
                  "application/x-www-form-urlencoded").status_code == 200
    thanked = slack.wait_for("chat.update")[0]
    assert "<@UVOTER> found this helpful" in json.dumps(thanked["blocks"])
    assert not any(block["type"] == "actions" for block in thanked["blocks"])

    env = {"RAGQA_STORAGE_DIR": str(settings.storage_dir), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    listed = json.loads(run_cli(env, "feedback", "--json").stdout)
    assert listed[0]["vote"] == "up" and listed[0]["voter"] == "UVOTER"
    assert listed[0]["question"] == "where is the connect timeout helper?"
    assert listed[0]["project"] == "sample" and listed[0]["sources"][0].startswith(f"{WEB}/blob/")
    assert 'ragqa_feedback_votes{vote="up"} 1.0' in httpx.get(f"{url}/metrics").text


def test_the_server_starts_and_answers_while_slack_is_unreachable(tmp_path: Path, repo: GitRepo) -> None:
    settings = Settings(storage_dir=tmp_path / "st", llm="none", slack_bot_token="xoxb-test",
                        slack_signing_secret=SECRET, slack_api_url="http://127.0.0.1:9/api/",
                        _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    with LiveServer(create_app(settings)) as url:
        assert httpx.post(f"{url}/ask", json={"question": "connect timeout?"}).json()["answered"]
        refused = event(url, mention("connect timeout?"))  # bolt cannot check its token: Slack retries later
        assert "Traceback" not in refused.text
        assert httpx.post(f"{url}/ask", json={"question": "connect timeout?"}).json()["answered"]


def test_socket_mode_needs_its_app_token(cli_env: dict[str, str]) -> None:
    from tests.test_cli import assert_one_line_error

    env = {key: value for key, value in cli_env.items() if not key.startswith("SLACK_")}
    assert_one_line_error(run_cli({**env, "SLACK_BOT_TOKEN": "xoxb-test"}, "slack"), "needs SLACK_APP_TOKEN")
    unreachable = {**env, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test",
                   "RAGQA_SLACK_API_URL": "http://127.0.0.1:9/api/"}
    done = run_cli(unreachable, "slack", timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert lines[-1].startswith("error: cannot reach Slack") and "SLACK_APP_TOKEN" in lines[-1]
    assert not any("As you gave `client`" in line for line in lines), "no library warning"
