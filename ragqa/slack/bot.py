"""The Slack bot (slack-bolt): mentions, direct messages and `/ask`, answered in the thread.

It translates only: a Slack message becomes a question (with the thread's earlier turns as the
conversation and a project from `project:NAME`, the channel mapping or the default), the
`Answerer` answers, and the answer becomes mrkdwn and Block Kit. Building the app makes no call
to Slack: the token is checked lazily, on the first event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_bolt import App
from slack_sdk import WebClient

from ragqa.answer import Answer, Answerer
from ragqa.answer.answerer import BadQuestionError, ProjectChoice, Turn
from ragqa.errors import ConfigError, ProjectNotFoundError, RagqaError
from ragqa.feedback import FeedbackStore, Vote
from ragqa.settings import Settings
from ragqa.slack.mrkdwn import answer_blocks, escape, to_mrkdwn

log = logging.getLogger("ragqa.slack")
# bolt reads SLACK_BOT_TOKEN itself and warns that the client we give it makes that token unused:
# true, and nothing a user should act on.
log.addFilter(lambda record: not record.getMessage().startswith("As you gave `client` as well"))
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_PROJECT = re.compile(r"(?:^|\s)project:([A-Za-z0-9._@/+,*-]+)")
_SLACK_LINK = re.compile(r"<(?P<target>[^<>|\s]+)(?:\|(?P<label>[^<>]*))?>")
_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml",
                         "application/javascript"})
HISTORY_TURNS = 10
MAX_FILES = 3  # shared files read per message


class SlackBot:
    """Answers Slack messages with an `Answerer`; `register` wires it into a bolt `App`."""

    def __init__(self, settings: Settings, answerer: Callable[[], Answerer],
                 feedback: Callable[[], FeedbackStore], on_vote: Callable[[Vote], None] | None = None):
        self.settings = settings
        self.answerer = answerer
        self.feedback = feedback
        self.on_vote = on_vote

    def register(self, app: App) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command("/ask")(self.on_command)
        app.action(re.compile(r"^ragqa_feedback_(up|down)$"))(self.on_feedback)

    def on_mention(self, event: dict[str, Any], client: WebClient) -> None:
        self._answer_in_thread(event, client)

    def on_message(self, event: dict[str, Any], client: WebClient) -> None:
        """Direct messages only (channel messages need a mention); never the bot's own."""
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            self._answer_in_thread(event, client)

    def on_command(self, ack: Callable[..., None], command: dict[str, Any],
                   respond: Callable[..., Any]) -> None:
        """`/ask question`: acknowledged at once (Slack allows 3 s), answered when ready."""
        text = command.get("text", "")
        ack(text=f"Looking that up: _{escape(text.strip()[:200])}_")
        question, project = self._question(text, command.get("channel_id", ""))
        reply = self._reply(question, project, [], command.get("channel_id", ""))
        respond(response_type="in_channel", replace_original=False, **reply)

    def on_feedback(self, ack: Callable[[], None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = body["actions"][0]
        vote: Vote = "up" if action["action_id"].endswith("_up") else "down"
        record_id = json.loads(action.get("value") or "{}").get("id", "")
        user = body.get("user", {}).get("id", "")
        if self.feedback().vote(record_id, vote, user) is None:
            return
        if self.on_vote is not None:
            self.on_vote(vote)
        message = body.get("message", {})
        blocks = [block for block in message.get("blocks", []) if block.get("block_id") != "ragqa_feedback"]
        verdict = "found this helpful" if vote == "up" else "did not find this helpful"
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"{'👍' if vote == 'up' else '👎'} <@{user}> {verdict}. Thanks!"}]})
        client.chat_update(channel=body["channel"]["id"], ts=message["ts"], blocks=blocks,
                           text=message.get("text", "ragqa answer"))

    def _answer_in_thread(self, event: dict[str, Any], client: WebClient) -> None:
        channel = event["channel"]
        thread = event.get("thread_ts") or event["ts"]
        question, project = self._question(event.get("text", ""), channel)
        question = "\n\n".join(part for part in (question, *self._snippets(event, client)) if part)
        history = self._history(client, channel, event) if event.get("thread_ts") else []
        placeholder = client.chat_postMessage(channel=channel, thread_ts=thread,
                                              text=f":mag: Looking in {escape(_shown(project))}…")
        reply = self._reply(question, project, history, channel)
        client.chat_update(channel=channel, ts=placeholder["ts"], **reply)

    def _question(self, text: str, channel: str) -> tuple[str, ProjectChoice]:
        """The question without mentions or `project:NAME`, and the project to ask. Lines are
        kept (a pasted traceback or code block is read line by line) and Slack's escapes undone."""
        text = _MENTION.sub("", text)
        chosen = _PROJECT.search(text)
        if chosen:
            text = _PROJECT.sub(" ", text)
        project = chosen.group(1) if chosen else self.settings.slack_channel_projects.get(channel)
        return from_slack(text).strip(), project

    def _snippets(self, event: dict[str, Any], client: WebClient) -> list[str]:
        """The text of snippets and text files shared with the message, each fenced, so a
        traceback posted as a snippet counts as part of the question. Read with the bot token
        from Slack's own file host only; a file that cannot be read is left out."""
        texts = []
        for shared in event.get("files", [])[:MAX_FILES]:
            url = shared.get("url_private_download") or shared.get("url_private") or ""
            if not _is_text_file(shared) or not self._slack_host(url):
                continue
            try:
                text = _download(url, client.token or "", self.settings.max_question_chars)
            except (httpx.HTTPError, UnicodeDecodeError) as error:
                log.warning("could not read the shared file %s: %s", shared.get("name", "?"),
                            type(error).__name__)
                continue
            fence = "~~~~" if "```" in text else "```"
            texts.append(f"{shared.get('name') or 'snippet'}:\n{fence}\n{text.rstrip()}\n{fence}")
        return texts

    def _slack_host(self, url: str) -> bool:
        """Whether `url` is on Slack (or the configured Web API host): the bot token goes nowhere else."""
        host = urlsplit(url).hostname or ""
        configured = urlsplit(self.settings.slack_api_url or "").hostname
        return host == "slack.com" or host.endswith(".slack.com") or \
            (configured is not None and host == configured)

    def _history(self, client: WebClient, channel: str, event: dict[str, Any]) -> list[Turn]:
        """The thread's earlier messages, as conversation turns."""
        try:
            replies = client.conversations_replies(channel=channel, ts=event["thread_ts"], limit=50)
        except Exception:  # a thread we cannot read: answer the question alone
            log.warning("could not read the thread %s in %s", event["thread_ts"], channel)
            return []
        turns = []
        messages: list[dict[str, Any]] = replies.get("messages", [])
        for message in messages:
            if message.get("ts") == event["ts"] or not message.get("text"):
                continue
            text = _MENTION.sub("", message["text"]).strip()
            turns.append(Turn("assistant", text) if message.get("bot_id") else Turn("user", text))
        return turns[-HISTORY_TURNS:]

    def _reply(self, question: str, project: ProjectChoice, history: list[Turn], channel: str
               ) -> dict[str, Any]:
        """`text` and `blocks` for a message: the answer, or a friendly word on what went wrong."""
        if not question:
            return _plain("Ask me a question about the code or docs, e.g. "
                          "`@ragqa how do I set a connect-only timeout?`")
        try:
            answer = self.answerer().ask(question, project, history=history)
        except ProjectNotFoundError as error:
            return _plain(f":grey_question: {escape(str(error))}. Name one with `project:NAME`.")
        except BadQuestionError as error:
            return _plain(f":grey_question: {escape(str(error))}.")
        except (RagqaError, ConfigError) as error:
            return _plain(f":warning: Sorry, I can't answer right now: {escape(str(error))}")
        except Exception:
            log.exception("answering %r failed", question)
            return _plain(":warning: Sorry, something went wrong on my side. Please try again later.")
        return self._answer_message(question, answer, channel)

    def _answer_message(self, question: str, answer: Answer, channel: str) -> dict[str, Any]:
        record_id = None
        try:
            record_id = self.feedback().record(question, answer, channel).id
        except Exception:  # feedback is a nicety; the answer still goes out
            log.exception("could not record the answer for feedback")
        if not answer.answered:
            answer = answer.model_copy(update={"answer": (
                f"Hmm, I'm not sure. I could not find this in the code or docs of **{answer.project}**.")})
        summary = to_mrkdwn(answer.answer.split("\n**References**\n", 1)[0])[:2_900]
        return {"text": summary, "blocks": answer_blocks(answer, record_id)}


def _shown(project: ProjectChoice) -> str:
    if isinstance(project, list):
        return ", ".join(project)
    return "every project" if project == "*" else project or "the docs"


def from_slack(text: str) -> str:
    """Slack's message text as typed: links and channel names unwrapped, `&lt;` `&gt;` `&amp;`
    undone (in that order of Slack's escaping)."""
    text = _SLACK_LINK.sub(lambda m: m.group("label") or m.group("target"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _is_text_file(shared: dict[str, Any]) -> bool:
    mimetype = str(shared.get("mimetype") or "")
    return shared.get("mode") == "snippet" or mimetype.startswith("text/") or mimetype in _TEXT_TYPES


def _download(url: str, token: str, max_chars: int) -> str:
    """A shared file's text, at most `max_chars` characters (the rest is not read)."""
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=20,
                      follow_redirects=False) as response:
        response.raise_for_status()
        data = b""
        for piece in response.iter_bytes():
            data += piece
            if len(data) > max_chars * 4:
                break
    return data.decode("utf-8")[:max_chars]


def _plain(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def signature_problem(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                      now: float | None = None) -> str | None:
    """Why a request claiming to come from Slack must be refused, checked on the raw body before
    anything parses it; None when its signature is good and fresh (Slack's 5 minutes)."""
    if not timestamp or not signature:
        return "the Slack signature headers are missing"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20):  # "²" is a digit too
        return "the Slack request timestamp is not a number"
    if not signature.isascii():  # hmac.compare_digest refuses non-ASCII text (a TypeError, not a no)
        return "the Slack signature does not match"
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > 300:
        return "the Slack request timestamp is too old (or in the future)"
    # Slack's v0 scheme, on the raw bytes (slack-sdk's verifier decodes the body first: a body
    # that is not UTF-8 would be a 500 there)
    expected = b"v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body,
                                 hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(signature.encode("ascii"), expected):
        return "the Slack signature does not match"
    return None


def build_app(settings: Settings, bot: SlackBot) -> App:
    """A bolt `App` for `settings`; no call to Slack happens here."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    if not token:
        raise ConfigError("the Slack bot needs SLACK_BOT_TOKEN")
    client = WebClient(token=token, base_url=settings.slack_api_url or WebClient.BASE_URL)
    app = App(client=client, signing_secret=secret, token_verification_enabled=False,
              request_verification_enabled=secret is not None, logger=log)
    bot.register(app)
    return app
