"""Projects and ingest jobs: list, show, ingest (202 + job), refresh, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ragqa.api.deps import AdminCaller, AskCaller, ServicesDep
from ragqa.api.errors import ApiError
from ragqa.ingest import IngestRequest
from ragqa.jobs import Job
from ragqa.tune import tuning_questions

router = APIRouter(tags=["projects"])


class ProjectCreate(BaseModel):
    source: str = Field(min_length=1, max_length=2_000, description="An https git URL.")
    name: str | None = Field(None, max_length=100)
    ref: str | None = Field(None, max_length=200)
    web_url: str | None = Field(None, max_length=500)
    include: list[str] | None = Field(None, max_length=100)
    exclude: list[str] | None = Field(None, max_length=100)
    audience: str | None = Field(None, max_length=200)
    instructions: str | None = Field(None, max_length=4_000)
    replace: bool = Field(False, description="Index this source under a name another source holds.")
    reembed: bool = Field(False, description="Embed the project again in the vector space the settings "
                                             "select (it otherwise keeps the one it was indexed in).")


@router.get("/projects")
def list_projects(services: ServicesDep, caller: AskCaller) -> list[dict[str, Any]]:
    """Every indexed project (without its file manifest); a damaged one has `state: damaged`
    and an `error` that says how to fix it."""
    return services.jobs.ingester.listing()


@router.get("/projects/{name:path}")
def get_project(name: str, services: ServicesDep, caller: AskCaller) -> dict[str, Any]:
    """One project: source, commit, counts, options."""
    return services.jobs.ingester.get(name).summary()


@router.post("/projects", status_code=202)
def create_project(body: ProjectCreate, response: Response, services: ServicesDep,
                   caller: AdminCaller) -> Job:
    """Start indexing a repository; poll `GET /jobs/{id}`."""
    job = services.jobs.ingest(IngestRequest(**body.model_dump()))
    response.headers["Location"] = f"/jobs/{job.id}"
    return job


@router.post("/projects/{name:path}/refresh", status_code=202)
def refresh_project(name: str, response: Response, services: ServicesDep, caller: AdminCaller) -> Job:
    """Re-ingest a project from its source (only what changed is embedded)."""
    job = services.jobs.refresh(name)
    response.headers["Location"] = f"/jobs/{job.id}"
    return job


class TuneRequest(BaseModel):
    questions: str | None = Field(None, description="A question set: its JSONL text (`ragqa questions`).")
    generate: int | None = Field(None, ge=20, le=500, description="Or: write this many questions offline.")
    reset: bool = Field(False, description="Go back to the default settings instead.")


@router.post("/projects/{name:path}/tune", status_code=202)
def tune_project(name: str, body: TuneRequest, response: Response, services: ServicesDep,
                 caller: AdminCaller) -> Job | dict[str, Any]:
    """Fit the project's ranking weights and abstention threshold on a question set (given, or
    written offline from the repo); poll `GET /jobs/{id}` for the report. `reset` goes back to
    the defaults at once (200)."""
    if body.reset:
        response.status_code = 200
        return services.jobs.ingester.set_tuning(name, {}).summary()
    questions = tuning_questions(services.answerer, name, body.questions, body.generate)
    job = services.jobs.tune(name, questions, services.answerer)
    response.headers["Location"] = f"/jobs/{job.id}"
    return job


@router.delete("/projects/{name:path}", status_code=204)
def delete_project(name: str, services: ServicesDep, caller: AdminCaller) -> Response:
    """Delete a project and everything stored for it."""
    services.jobs.ingester.remove(name)
    return Response(status_code=204)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, services: ServicesDep, caller: AskCaller) -> Job:
    """An ingest job's state and progress."""
    job = services.jobs.get(job_id)
    if job is None:
        shown = job_id if len(job_id) <= 64 else job_id[:64] + "…"
        raise ApiError(404, "not_found", f"no job {shown!r}")
    return job
