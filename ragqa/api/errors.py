"""Every error the server returns is JSON `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragqa.answer.answerer import BadQuestionError
from ragqa.answer.llm import LLMError
from ragqa.errors import (
    BadSourceError,
    BusyError,
    ConfigError,
    ProjectNotFoundError,
    RagqaError,
    SourceUnavailableError,
)
from ragqa.index import StoreUnavailableError

RETRY_AFTER_S = "5"
STATUS: list[tuple[type[RagqaError], int]] = [
    (BadQuestionError, 400), (BadSourceError, 400), (ProjectNotFoundError, 404), (BusyError, 409),
    (SourceUnavailableError, 422), (StoreUnavailableError, 503), (LLMError, 503), (ConfigError, 500),
]
log = logging.getLogger("ragqa.api")


class ApiError(Exception):
    """An error raised by the HTTP adapter itself (auth, limits)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def status_of(error: RagqaError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 400)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a JSON error."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.headers)

    @app.exception_handler(RagqaError)
    async def ragqa_error(request: Request, error: RagqaError) -> JSONResponse:
        status = status_of(error)
        headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
        return error_response(status, error.code, str(error), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'] if part != 'body')}: {item['msg']}"
            for item in error.errors()[:5])
        return error_response(422, "invalid_request", problems or "invalid request")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail), dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", f"internal error ({type(error).__name__})")
