"""An OpenAI-compatible face: `POST /v1/chat/completions` and `GET /v1/models`.

`model` names the project: `project:NAME` (what `/v1/models` lists), or `ragqa` — also
`default` or empty — for the default project (RAGQA_DEFAULT_PROJECT, else the only one). The id
`ragqa` is reserved for that, so a project that happens to be named "ragqa" (the README's own
set-up makes one) is `project:ragqa`; any other plain name is taken as a project name too. The
last user message is the question; earlier turns are the conversation. Answers carry their sources in an
extra `sources` field (and `ragqa`: answered, links_removed, commit), which OpenAI clients keep
as extra data and ignore otherwise. Streaming sends `chat.completion.chunk` events, then `[DONE]`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from itertools import chain
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ragqa.answer import Answer, AnswerEvent
from ragqa.answer.answerer import Turn, final_answer
from ragqa.api.deps import AskCaller, ServicesDep
from ragqa.api.errors import ApiError
from ragqa.api.metrics import Metrics

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
DEFAULT_MODEL = "ragqa"
DEFAULT_MODEL_NAMES = {"", DEFAULT_MODEL, "default"}
PROJECT_PREFIX = "project:"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens …: accepted, not used
    model: str = ""
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


@router.get("/models")
def models(services: ServicesDep, caller: AskCaller) -> dict[str, Any]:
    """Each project as `project:NAME`, and `ragqa` when there is a default project for it to
    name (RAGQA_DEFAULT_PROJECT, or the only project): only ids a request can use are listed."""
    records = services.jobs.ingester.projects()
    names = {record.name for record in records}
    default = services.settings.default_project in names if services.settings.default_project else \
        len(records) == 1
    created = max((int(record.indexed_at.timestamp()) for record in records), default=0)
    listed = [_model(DEFAULT_MODEL, created)] if default else []
    listed += [_model(f"{PROJECT_PREFIX}{record.name}", int(record.indexed_at.timestamp()))
               for record in records]
    return {"object": "list", "data": listed}


def _model(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "ragqa"}


def project_of(model: str) -> str | list[str] | None:
    """The project a `model` id names; several for `a,b` (`project:a,project:b`), every one for
    `*`; None for the default project."""
    name = model.strip()
    if name.lower() in DEFAULT_MODEL_NAMES:
        return None
    names = [part.strip().removeprefix(PROJECT_PREFIX) for part in name.split(",") if part.strip()]
    return names if len(names) > 1 else name.removeprefix(PROJECT_PREFIX)


@router.post("/chat/completions", response_model=None)
def chat_completions(body: ChatRequest, services: ServicesDep, caller: AskCaller
                     ) -> dict[str, Any] | StreamingResponse:
    """Answer the last user message about the project named by `model`."""
    question, history = _conversation(body.messages)
    project = project_of(body.model)
    events = services.answerer.stream(question, project, history=history)
    first = next(events)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.stream:
        return StreamingResponse(_chunks(chain([first], events), completion_id, services.metrics),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    answer = final_answer(chain([first], events))
    services.metrics.answered(answer)
    return {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()),
        "model": answer.project,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": answer.answer}}],
        "usage": _usage(answer), **_extras(answer)}


def _conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    turns = [message for message in messages if message.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ApiError(400, "bad_question", "the last message must be a user message with text")
    history = [Turn(role="user" if m.role == "user" else "assistant", content=m.text()) for m in turns[:-1]]
    return turns[-1].text(), history


def _chunks(events: Iterator[AnswerEvent], completion_id: str, metrics: Metrics) -> Iterator[str]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": extra.pop("model", ""), "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in events:
            if event.kind == "delta" and event.text:
                yield chunk({"content": event.text})
            elif event.answer is not None:
                metrics.answered(event.answer)
                yield chunk({}, "stop", model=event.answer.project, usage=_usage(event.answer),
                            **_extras(event.answer))
    except Exception as error:  # the stream is under way: say so in-band, never a traceback
        yield chunk({"content": f"\n\n(error: {type(error).__name__})"}, "stop")
    yield "data: [DONE]\n\n"


def _usage(answer: Answer) -> dict[str, int]:
    prompt, completion = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _extras(answer: Answer) -> dict[str, Any]:
    return {"sources": [source.model_dump() for source in answer.sources],
            "ragqa": {"answered": answer.answered, "links_removed": answer.links_removed,
                      "commit": answer.commit, "model": answer.model}}
