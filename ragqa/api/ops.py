"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ragqa.api.deps import AskCaller, ServicesDep
from ragqa.index import get_embedder

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the vector store answers, the embedding model is loaded and the projects to
    preload are (503 otherwise)."""
    checks: dict[str, str] = {}
    try:
        services.answerer.registry.names()
        checks["store"] = "ok"
    except Exception as error:
        checks["store"] = f"unavailable: {type(error).__name__}"
    loaded = getattr(get_embedder(services.settings), "loaded", True)
    checks["embedder"] = "ok" if loaded else "loading"
    if services.preloading is not None:
        done, total = services.preloading
        checks["projects"] = f"loading {done}/{total}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503,
                        headers=None if ready else {"Retry-After": "5"})


@router.get("/metrics")
def metrics(services: ServicesDep, caller: AskCaller) -> Response:
    """Prometheus metrics: requests, latency, answers, abstentions, links removed, ingest jobs."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
