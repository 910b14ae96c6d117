"""`POST /ask`: the answer contract as JSON, or as Server-Sent Events; `POST /locate`: where in
the code a pasted issue, traceback or log points."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from itertools import chain
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ragqa.answer import Answer, Answerer, AnswerEvent
from ragqa.answer.answerer import final_answer
from ragqa.answer.location import Location
from ragqa.api.deps import AskCaller, Services, ServicesDep
from ragqa.api.errors import ApiError, status_of
from ragqa.api.metrics import Metrics
from ragqa.api.pool import Overloaded
from ragqa.errors import RagqaError
from ragqa.retrieve import Filters

router = APIRouter(tags=["ask"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
OVERLOADED_RETRY_S = "1"


class AskRequest(BaseModel):
    question: str = Field(min_length=1, description="The question.")
    project: str | list[str] | None = Field(
        None, description='Project to ask (default: the only/default one); a list of names, or "*" for '
                          "every project, asks across projects.")
    top_k: int | None = Field(None, ge=1, le=50, description="Sources to build the answer on.")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    path_prefix: str | None = Field(None, description="Only files under this path.")
    only: Literal["code", "docs"] | None = Field(None, description="Only code or only docs.")


@router.post("/ask", response_model=Answer, responses={200: {"content": {"text/event-stream": {}}}})
async def ask(body: AskRequest, request: Request, services: ServicesDep, caller: AskCaller) -> Response:
    """Answer a question with links to the exact lines.

    With `"stream": true` or `Accept: text/event-stream` the answer comes as Server-Sent Events:
    one `sources` event, `delta` events with answer text, then one `done` event carrying the
    whole answer contract (after link checking). Errors before the first event are JSON errors;
    a failure after it is an `error` event.
    """
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    answerer = await services.ready_answerer()
    if answerer.llm is not None:  # a model takes seconds to answer: not on the answer workers
        return await run_in_threadpool(answer_response, answerer, body, wants_stream, services.metrics)
    return await pooled(services, partial(answer_response, answerer, body, wants_stream, services.metrics))


def answer_response(answerer: Answerer, body: AskRequest, wants_stream: bool, metrics: Metrics) -> Response:
    """The answer as JSON, or as Server-Sent Events: a model's as it is written, an extractive
    one (whole in milliseconds) computed here and then sent without a thread per frame."""
    events = answerer.stream(body.question, body.project, body.top_k, Filters(body.path_prefix, body.only))
    first = next(events)  # project and question errors surface here, as JSON errors
    if not wants_stream:
        answer = final_answer(chain([first], events))
        metrics.answered(answer)
        return json_response(answer)
    frames = sse_events(chain([first], events), metrics)
    if answerer.llm is None:
        return StreamingResponse(_replay(list(frames)), media_type="text/event-stream", headers=SSE_HEADERS)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


async def pooled(services: Services, work: Callable[[], Response]) -> Response:
    """`work()` on the answer workers (`ragqa.api.pool`); 503 when too many answers wait."""
    try:
        return await services.pool.run(work)
    except Overloaded as error:
        raise ApiError(503, "overloaded", f"the server is busy ({error}); retry shortly",
                       {"Retry-After": OVERLOADED_RETRY_S}) from None


def json_response(model: BaseModel) -> Response:
    """A model as its JSON response, serialised once (what `response_model` would send, without
    validating the model again and building a dict first)."""
    return Response(model.model_dump_json(), media_type="application/json")


async def _replay(frames: list[str]) -> AsyncIterator[str]:
    for frame in frames:
        yield frame


class LocateRequest(BaseModel):
    text: str = Field(min_length=1, description="An issue, a traceback, a log or a question.")
    project: str | None = Field(None, description="Project to search (default: the only/default one).")
    top_k: int | None = Field(None, ge=1, le=50, description="Files to return (default 10).")
    path_prefix: str | None = Field(None, description="Only files under this path.")
    only: Literal["code", "docs"] | None = Field(None, description="Only code or only docs.")


@router.post("/locate", response_model=Location)
async def locate(body: LocateRequest, services: ServicesDep, caller: AskCaller) -> Response:
    """The files to change first and, inside them, the functions and classes — each with a
    permalink and its reasons (a traceback frame, a quoted message it raises, a name it
    defines). No model is involved, so this answers in milliseconds."""
    answerer = await services.ready_answerer()
    return await pooled(services, lambda: json_response(answerer.locate(
        body.text, body.project, body.top_k, Filters(body.path_prefix, body.only))))


def sse_events(events: Iterator[AnswerEvent], metrics: Metrics) -> Iterator[str]:
    """Answer events as SSE frames; a failure mid-stream becomes an `error` event."""
    try:
        for event in events:
            if event.kind == "sources":
                yield sse("sources", {"sources": [s.model_dump() for s in event.sources or []]})
            elif event.kind == "delta":
                yield sse("delta", {"text": event.text})
            elif event.answer is not None:
                metrics.answered(event.answer)
                yield sse("done", event.answer.model_dump(mode="json"))
    except RagqaError as error:
        yield sse("error", {"error": {"code": error.code, "message": str(error),
                                      "status": status_of(error)}})
    except Exception as error:  # never a traceback on the wire
        yield sse("error", {"error": {"code": "internal", "message": type(error).__name__}})


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
