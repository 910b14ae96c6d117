"""The HTTP server: a thin FastAPI adapter over the `Answerer` and the ingest `Jobs`.

`create_app(settings)` builds it; `ragqa serve` runs it under uvicorn. The process keeps no
state of its own beyond caches: projects, jobs and chunks live in the vector store, so several
replicas can serve one Chroma server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from mcp.server.mcpserver import MCPServer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragqa import __version__
from ragqa.api import ask, chat, errors, ops, projects, webhooks
from ragqa.api.deps import Auth, RateLimiter, Services
from ragqa.api.errors import ApiError
from ragqa.api.metrics import Metrics
from ragqa.index import get_embedder
from ragqa.logs import configure as configure_logging
from ragqa.mcp_server import build_server
from ragqa.settings import Settings

log = logging.getLogger("ragqa.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ragqa API for `settings` (default: from the environment)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm_up, args=(app.state.services,), daemon=True).start()
        stop = threading.Event()
        if settings.refresh_interval_s > 0:
            threading.Thread(target=_poll, args=(app.state.services, settings.refresh_interval_s, stop),
                             daemon=True, name="ragqa-poll").start()
        async with mcp.session_manager.run():
            yield
        stop.set()
        app.state.services.close()

    app = FastAPI(title="ragqa", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Answers about a codebase with links to the exact lines.",
                  redirect_slashes=False)  # a redirect's Location would be built from the client's Host
    _mount_docs(app)
    app.state.services = Services(settings, metrics)
    app.state.auth = Auth(settings)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    errors.install(app)
    for router in (ask.router, chat.router, projects.router, ops.router, webhooks.router):
        app.include_router(router)
    mcp = _mount_mcp(app, settings)
    configure_logging(settings.log_format)  # after the MCP SDK installed its Rich handler
    metrics.watch_feedback(lambda: app.state.services.feedback.counts())
    if settings.slack_signing_secret:
        _mount_slack(app, settings, app.state.services)
    app.add_middleware(_Guard, max_body=settings.body_limit, metrics=metrics,
                       body_timeout=settings.body_timeout_s)
    return app


def _mount_mcp(app: FastAPI, settings: Settings) -> MCPServer:
    """`/mcp`: the MCP server (`ragqa.mcp_server`) over streamable HTTP, stateless (any replica
    answers any request), behind the ask tokens and the rate limit; the body limit and request
    ids come from the guard middleware like every route's."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.routing import Route

    server = build_server(lambda: app.state.services.answerer)
    # the Host and Origin checks are the gate's (JSON errors like every route's), not the SDK's
    server.streamable_http_app(stateless_http=True, json_response=True, host=settings.host,
                               transport_security=TransportSecuritySettings(
                                   enable_dns_rebinding_protection=False))
    gate = _Gate(StreamableHTTPASGIApp(server.session_manager), _is_loopback(settings.host))
    app.router.routes.extend([Route("/mcp", endpoint=gate), Route("/mcp/", endpoint=gate)])
    return server


def _poll(services: Services, interval: float, stop: threading.Event) -> None:
    """Ask the projects' remotes for new commits every `interval` seconds (hosts without webhooks)."""
    while not stop.wait(interval):
        try:
            services.jobs.poll()
        except Exception:  # the store or a remote is down: the next round tries again
            log.warning("polling the projects' remotes failed", exc_info=True)


class _Gate:
    """Lets a request through to the MCP app only with an ask-scope token and within the rate limit.

    A server listening on loopback also refuses a `Host` or `Origin` that is not loopback (421,
    403: DNS rebinding, as the MCP SDK would, but as JSON); a POST must be JSON (415)."""

    def __init__(self, app: ASGIApp, loopback_only: bool) -> None:
        self.app, self.loopback_only = app, loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            self._check_origin(request)
            caller = request.app.state.auth.check(request, "ask")
            request.app.state.limiter.take(caller)
            if request.method == "POST" and not request.headers.get("content-type", "").lower().startswith(
                    "application/json"):
                raise ApiError(415, "unsupported_media_type", "an MCP message is JSON: send it with "
                                                              "Content-Type: application/json")
        except ApiError as error:
            response = errors.error_response(error.status, error.code, error.message, error.headers,
                                             errors.request_id(request))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_origin(self, request: Request) -> None:
        if not self.loopback_only:
            return
        if not _is_loopback(_hostname(request.headers.get("host", ""))):
            raise ApiError(421, "misdirected", "this server listens on loopback and answers MCP only for "
                                               "a loopback Host (127.0.0.1, localhost, [::1])")
        origin = request.headers.get("origin")
        if origin is not None and not _is_loopback(_hostname(origin.partition("://")[2] or "?")):
            raise ApiError(403, "forbidden_origin", "MCP on a loopback server accepts no Origin but a "
                                                    "loopback one")


def _hostname(authority: str) -> str:
    """The host of a `host[:port]` authority (`[::1]:8000` → `::1`)."""
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    return authority.rpartition(":")[0] if authority.count(":") == 1 else authority


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mount_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI served from the `swagger-ui-bundle` package, so it works offline."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ragqa API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


def _mount_slack(app: FastAPI, settings: Settings, services: Services) -> None:
    """`POST /slack/events`: Slack's signed requests (events, `/ask`, buttons) for the bot. The
    signature is checked on the raw body first (401 otherwise); only then is the body parsed
    (400 when it is malformed) and handed to bolt."""
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

    from ragqa.slack import SlackBot, build_app
    from ragqa.slack.bot import signature_problem

    bot = SlackBot(settings, lambda: services.answerer, lambda: services.feedback)
    bolt = build_app(settings, bot)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        problem = signature_problem(secret, body, request.headers.get("x-slack-request-timestamp"),
                                    request.headers.get("x-slack-signature"))
        if problem:
            raise ApiError(401, "unauthorized", problem)
        try:
            body.decode("utf-8")  # bolt decodes it later, in its own thread, where a failure is a 500
            incoming = to_bolt_request(request, body)
        except Exception as error:  # a signed body that is not JSON or a form: Slack never sends one
            raise ApiError(400, "bad_request", f"the Slack request body is malformed "
                                               f"({type(error).__name__})") from error
        # dispatch acks; listeners then run in bolt's own threads
        response = await run_in_threadpool(bolt.dispatch, incoming)
        return to_starlette_response(response)


def _request_id(given: bytes) -> str:
    """The client's X-Request-ID when it is a plain token, else a new one."""
    text = given.decode("latin-1")
    return text if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text) else uuid.uuid4().hex[:16]


def _warm_up(services: Services) -> None:
    """Load the embedding model, then the projects (`RAGQA_PRELOAD_PROJECTS`), in the background:
    `/readyz` turns ready when they are, and the first question is as fast as the hundredth."""
    with contextlib.suppress(Exception):  # a failure is reported by /readyz and the first /ask
        get_embedder(services.settings).embed_query("warm up")
    services.preload()


class _Guard:
    """Gives every request an id (X-Request-ID, in errors and log lines), refuses bodies over
    the size limit (413) and counts every request for /metrics."""

    def __init__(self, app: ASGIApp, max_body: int, metrics: Metrics, body_timeout: float) -> None:
        self.app, self.max_body, self.metrics = app, max_body, metrics
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        headers = dict(scope["headers"])
        ident = _request_id(headers.get(b"x-request-id", b""))
        scope.setdefault("state", {})["request_id"] = ident

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", ident.encode())]
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._too_large(send_with_id, status, ident, bad=not length.isdigit())
        else:
            await self._forward(scope, receive, send_with_id, status)
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, status: dict[str, int]) -> None:
        received = 0
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # only "disconnect" is left to wait for, for as long as a stream runs
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise HTTPException(408, f"the body did not arrive within {self.body_timeout:g} s") from None
            received += len(message.get("body", b""))
            body_done = not message.get("more_body", False)
            if received > self.max_body:  # a chunked body with no Content-Length
                raise HTTPException(413, f"the body is over {self.max_body} bytes")
            return message

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, limited_receive, watched_send)

    async def _too_large(self, send: Send, status: dict[str, int], ident: str, bad: bool) -> None:
        message = "the Content-Length header is not a number" if bad else \
            f"the body is over {self.max_body} bytes"
        status["code"] = 400 if bad else 413
        response = errors.error_response(status["code"], "bad_request" if bad else "too_large", message,
                                         request_id=ident)

        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        scope: dict[str, Any] = {"type": "http"}
        await response(scope, no_body, send)
