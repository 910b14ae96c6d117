"""Markdown → Slack mrkdwn, and an answer → Block Kit blocks.

Slack's mrkdwn is not Markdown: links are `<url|text>`, bold is `*x*`, italics `_x_`, there are
no headings, and `&`, `<`, `>` must be escaped in text. Code (fenced blocks and inline spans) is
passed through untouched apart from that escaping, and the language after a fence is dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ragqa.answer import Answer
from ragqa.contract import behind_line
from ragqa.markdown import MD_LINK, code_spans, walk

SECTION_LIMIT = 2_900  # Slack allows 3,000 characters in a section's text
_LINK = re.compile(MD_LINK)
_AUTOLINK = re.compile(r"&lt;((?:https?|mailto):[^\s&]+?)&gt;")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_PLACEHOLDER = "\x00{}\x00"
_ESCAPED = re.compile(r"\\([\\`*_\[\]<>])")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link_text(text: str) -> str:
    """Text for a Slack link `<url|text>`: escaped, on one line, with no `|` to end it early."""
    return escape(" ".join(text.split())).replace("|", "∣")


def to_mrkdwn(markdown: str) -> str:
    """Convert Markdown to Slack mrkdwn."""
    converted = {"fence": lambda line: "```", "code": _code, "text": _line}
    return "\n".join(converted[kind](line) for line, kind in walk(markdown))


def _code(line: str) -> str:
    """A line inside a code block; Slack has no longer fences, so a ``` in the code (a quoted
    Markdown example) is broken with a zero-width space instead of ending the block early."""
    return escape(line).replace("```", "`\u200b``")


def _line(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        return f"*{_inline(heading.group(1))}*"
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet.group(1)}• {_inline(line[bullet.end():])}"
    return _inline(line)


def _inline(text: str) -> str:
    """Convert one line's inline Markdown; inline code is kept as it is."""
    return "".join(escape(part) if is_code else _prose(part) for part, is_code in code_spans(text))


def _prose(text: str) -> str:
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return _PLACEHOLDER.format(len(kept) - 1)

    def link(match: re.Match[str]) -> str:
        url = match.group(3).strip("<>")
        label = _ESCAPED.sub(r"\1", match.group(2)).strip() or url
        label = _emphasis(escape(label)).replace("|", "∣")
        return keep(f"<{escape(url)}|{label}>")

    text = _LINK.sub(link, text)
    text = _ESCAPED.sub(r"\1", text)  # Markdown's backslash escapes mean nothing to Slack
    text = escape(text)
    text = _AUTOLINK.sub(lambda m: keep(f"<{m.group(1)}>"), text)
    text = _emphasis(text)
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], text)


def _emphasis(text: str) -> str:
    text = _ITALIC.sub(lambda m: f"_{m.group(1)}_", text)
    return _BOLD.sub(lambda m: f"*{m.group(2)}*", text)


def answer_blocks(answer: Answer, feedback_id: str | None) -> list[dict[str, Any]]:
    """The answer, a Sources block with links to the exact lines, then 👍/👎 buttons."""
    body = answer.answer.split("\n**References**\n", 1)[0].strip()
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in _sections(to_mrkdwn(body))]
    if answer.answered and answer.sources:
        lines = [f"• <{escape(s.url)}|{link_text(f'{s.path}#L{s.start_line}-L{s.end_line}')}>"
                 for s in answer.sources]
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "*Sources*\n" + "\n".join(lines)}})
    where = ", ".join(f"{name} @ `{commit[:10]}`" for name, commit in answer.projects.items()) \
        or f"{answer.project} @ `{answer.commit[:10]}`"
    footer = f"{where} · {answer.model}"
    if answer.behind is not None:
        footer += f"\n:warning: {behind_line(answer.commit, answer.behind)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(footer)}]})
    if feedback_id:
        blocks.append({"type": "actions", "block_id": "ragqa_feedback", "elements": [
            _button("👍 Helpful", "ragqa_feedback_up", feedback_id),
            _button("👎 Not helpful", "ragqa_feedback_down", feedback_id)]})
    return blocks[:50]


def _button(text: str, action_id: str, feedback_id: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": json.dumps({"id": feedback_id}),
            "text": {"type": "plain_text", "text": text, "emoji": True}}


def _sections(text: str) -> list[str]:
    """Split at blank lines outside code blocks into pieces of the size Slack accepts."""
    paragraphs: list[str] = []
    current: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        if not line.strip() and not in_code and current:
            paragraphs.append("\n".join(current))
            current = []
        elif line.strip() or in_code:
            current.append(line)
    if current:
        paragraphs.append("\n".join(current))
    pieces: list[str] = []
    for paragraph in paragraphs:
        candidate = f"{pieces[-1]}\n\n{paragraph}" if pieces else paragraph
        if pieces and len(candidate) <= SECTION_LIMIT:
            pieces[-1] = candidate
        else:
            pieces.extend(paragraph[start:start + SECTION_LIMIT]
                          for start in range(0, len(paragraph), SECTION_LIMIT))
    return pieces or [" "]
