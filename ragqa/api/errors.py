"""Every error the server returns is JSON `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragqa.answer.answerer import BadQuestionError
from ragqa.answer.llm import LLMError
from ragqa.errors import (
    AmbiguousProjectError,
    BadRequestError,
    BadSourceError,
    BusyError,
    ConfigError,
    DamagedProjectError,
    ModelError,
    ProjectNotFoundError,
    RagqaError,
    SourceUnavailableError,
)
from ragqa.freshness import WebhookAuthError
from ragqa.index import StoreUnavailableError

RETRY_AFTER_S = "5"
STATUS: list[tuple[type[RagqaError], int]] = [
    (BadQuestionError, 400), (BadSourceError, 400), (BadRequestError, 400), (AmbiguousProjectError, 400),
    (ProjectNotFoundError, 404), (BusyError, 409), (DamagedProjectError, 409),
    (SourceUnavailableError, 422), (StoreUnavailableError, 503), (LLMError, 503), (ModelError, 503),
    (ConfigError, 500), (WebhookAuthError, 401),
]
log = logging.getLogger("ragqa.api")


class ApiError(Exception):
    """An error raised by the HTTP adapter itself (auth, limits)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   request_id: str = "") -> JSONResponse:
    body: dict[str, str] = {"code": code, "message": message}
    if request_id:
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def status_of(error: RagqaError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 400)


def request_id(request: Request) -> str:
    """The id the guard middleware gave this request (sent back as X-Request-ID)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a JSON error.

    A failure caused by the request (4xx) is one log line — request id, route, status, reason —
    and never a traceback; only a failure of ragqa itself (500) logs one, under its request id.
    """

    def respond(request: Request, status: int, code: str, message: str,
                headers: dict[str, str] | None = None) -> JSONResponse:
        ident = request_id(request)
        log.log(logging.WARNING if status >= 500 else logging.INFO, "request %s %s %s → %d %s: %s",
                ident, request.method, request.url.path, status, code, message)
        return error_response(status, code, message, headers, ident)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return respond(request, error.status, error.code, error.message, error.headers)

    @app.exception_handler(RagqaError)
    async def ragqa_error(request: Request, error: RagqaError) -> JSONResponse:
        status = status_of(error)
        headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
        return respond(request, status, error.code, str(error), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return respond(request, 422, "invalid_request", describe(error.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 408: "timeout", 413: "too_large"}.get(
            error.status_code, "http_error")
        return respond(request, error.status_code, code, str(error.detail), dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        ident = request_id(request)
        log.exception("request %s %s %s: internal error", ident, request.method, request.url.path)
        return error_response(500, "internal", f"internal error ({type(error).__name__}); "
                                               f"request id {ident}", request_id=ident)


def describe(problems: Sequence[Any]) -> str:
    """What is wrong with a request body, in words a client can act on."""
    messages = []
    for item in list(problems)[:5]:
        where = ".".join(str(part) for part in item["loc"] if part != "body" and not isinstance(part, int))
        kind = item.get("type", "")
        if kind == "json_invalid":
            detail = item.get("ctx", {}).get("error", "")
            messages.append(f"the body is not valid JSON ({detail}); send a JSON object with "
                            "Content-Type: application/json")
        elif kind in ("model_attributes_type", "dict_type") and not where:
            messages.append("the body must be a JSON object with Content-Type: application/json, "
                            "such as {\"question\": \"…\"}")
        elif kind == "missing":
            messages.append(f"{where} is required")
        else:
            messages.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(dict.fromkeys(messages)) or "invalid request"
