"""The Slack front door: a slack-bolt app over the `Answerer` (see docs/slack.md)."""

from ragqa.slack.bot import SlackBot, build_app

__all__ = ["SlackBot", "build_app"]
