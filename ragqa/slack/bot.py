"""The Slack bot (slack-bolt): mentions, direct messages and `/ask`, answered in the thread.

It translates only: a Slack message becomes a question (with the thread's earlier turns as the
conversation and a project from `project:NAME`, the channel mapping or the default), the
`Answerer` answers, and the answer becomes mrkdwn and Block Kit. Building the app makes no call
to Slack: the token is checked lazily, on the first event.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from ragqa.answer import Answer, Answerer
from ragqa.answer.answerer import BadQuestionError, Turn
from ragqa.errors import ConfigError, ProjectNotFoundError, RagqaError
from ragqa.feedback import FeedbackStore, Vote
from ragqa.settings import Settings
from ragqa.slack.mrkdwn import answer_blocks, escape, to_mrkdwn

log = logging.getLogger("ragqa.slack")
# bolt reads SLACK_BOT_TOKEN itself and warns that the client we give it makes that token unused:
# true, and nothing a user should act on.
log.addFilter(lambda record: not record.getMessage().startswith("As you gave `client` as well"))
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_PROJECT = re.compile(r"(?:^|\s)project:([A-Za-z0-9._@/+-]+)")
HISTORY_TURNS = 10


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
        history = self._history(client, channel, event) if event.get("thread_ts") else []
        placeholder = client.chat_postMessage(channel=channel, thread_ts=thread,
                                              text=f":mag: Looking in {escape(project or 'the docs')}…")
        reply = self._reply(question, project, history, channel)
        client.chat_update(channel=channel, ts=placeholder["ts"], **reply)

    def _question(self, text: str, channel: str) -> tuple[str, str | None]:
        """The question without mentions or `project:NAME`, and the project to ask."""
        text = _MENTION.sub("", text)
        chosen = _PROJECT.search(text)
        if chosen:
            text = _PROJECT.sub(" ", text)
        project = chosen.group(1) if chosen else self.settings.slack_channel_projects.get(channel)
        return " ".join(text.split()), project

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

    def _reply(self, question: str, project: str | None, history: list[Turn], channel: str
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


def _plain(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def signature_problem(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                      now: float | None = None) -> str | None:
    """Why a request claiming to come from Slack must be refused, checked on the raw body before
    anything parses it; None when its signature is good and fresh (Slack's 5 minutes)."""
    from slack_sdk.signature import SignatureVerifier

    if not timestamp or not signature:
        return "the Slack signature headers are missing"
    if not timestamp.isdigit():
        return "the Slack request timestamp is not a number"
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > 300:
        return "the Slack request timestamp is too old (or in the future)"
    if not SignatureVerifier(secret).is_valid(body, timestamp, signature):
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
