"""Freshness: signed push webhooks (GitHub's and GitLab's real payload shapes) re-index the
projects that track the pushed branch, bursts coalesce, a poller does the same without webhooks,
and every answer says when its index is behind. Real git, real embedded Chroma, the real local
model, the real app under uvicorn."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragqa.answer import Answerer
from ragqa.api import create_app
from ragqa.freshness import Head, Heads, now
from ragqa.index import chroma_client
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from ragqa.slack.mrkdwn import answer_blocks
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo, run_cli
from tests.live_server import LiveServer

SECRET = "webhook-secret"
WEB = "https://github.com/acme/sample"


def _settings(storage: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"storage_dir": storage, "llm": "none", "webhook_secret": SECRET,
                                 "allow_local_sources": True, **changes}
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Settings, GitRepo]:
    repo = GitRepo(tmp_path / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    settings = _settings(tmp_path / "storage")
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    return settings, repo


def github_push(repo: GitRepo, ref: str = "refs/heads/main", html_url: str = WEB) -> dict[str, Any]:
    """A push payload as GitHub sends it (the fields ragqa reads, and a few it does not)."""
    after = repo.git("rev-parse", "HEAD")
    ssh = html_url.replace("https://github.com/", "git@github.com:") + ".git"
    return {"ref": ref, "before": "0" * 40, "after": after, "created": False, "deleted": False,
            "forced": False,
            "repository": {"id": 1, "name": "sample", "full_name": "acme/sample", "html_url": html_url,
                           "clone_url": f"{html_url}.git", "ssh_url": ssh,
                           "default_branch": "main"},
            "pusher": {"name": "dev"}, "commits": [{"id": after, "message": "change"}],
            "head_commit": {"id": after}}


def signed(url: str, payload: dict[str, Any], event: str = "push", secret: str = SECRET,
           delivery: str | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{url}/webhooks/github", content=body, timeout=30, headers={
        "Content-Type": "application/json", "X-GitHub-Event": event, "X-Hub-Signature-256": signature,
        "X-GitHub-Delivery": delivery or f"d-{time.monotonic_ns()}"})


def _jobs(app: Any, project: str) -> list[Any]:
    return [job for job in app.state.services.jobs._jobs.find({"project": project}) if job.kind == "refresh"]


def _settled(app: Any, project: str) -> list[Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = _jobs(app, project)
        if jobs and all(job.state in ("succeeded", "failed") for job in jobs) and \
                project not in app.state.services.jobs._active:
            return jobs
        time.sleep(0.1)
    raise AssertionError("the refresh never finished")


def test_a_signed_push_refreshes_the_project(project: tuple[Settings, GitRepo]) -> None:
    settings, repo = project
    repo.write("src/sample/extra.py", '"""Extra."""\n\n\ndef extra():\n    """More."""\n').commit("extra")
    app = create_app(settings)
    with LiveServer(app) as url:
        assert signed(url, {"zen": "Keep it simple.", "hook_id": 1}, event="ping").json()["event"] == "ping"
        accepted = signed(url, github_push(repo))
        assert accepted.status_code == 202 and accepted.json()["refreshing"] == ["sample"]
        [job] = _settled(app, "sample")
        assert job.state == "succeeded", job.error
        assert Ingester(settings).get("sample").commit == repo.git("rev-parse", "HEAD")
        assert httpx.post(f"{url}/ask", json={"question": "What does extra do?"}).json()["behind"] is None


def test_bad_deliveries_are_refused(project: tuple[Settings, GitRepo], tmp_path: Path) -> None:
    settings, repo = project
    app = create_app(settings)
    with LiveServer(app) as url:
        body = json.dumps(github_push(repo)).encode()
        unsigned = httpx.post(f"{url}/webhooks/github", content=body, headers={"X-GitHub-Event": "push"})
        assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "unauthorized"
        assert signed(url, github_push(repo), secret="wrong").status_code == 401
        unknown = signed(url, github_push(repo, html_url="https://github.com/acme/other"))
        assert unknown.status_code == 404
        assert "no project is indexed from" in unknown.json()["error"]["message"]
        branch = signed(url, github_push(repo, ref="refs/heads/feature"))
        assert branch.status_code == 202
        assert "no project tracks the branch 'feature'" in branch.json()["ignored"]
        tag = signed(url, github_push(repo, ref="refs/tags/v1"))
        assert tag.status_code == 202 and "not a push to a branch" in tag.json()["ignored"]
        assert signed(url, github_push(repo), event="issues").status_code == 400
        assert signed(url, github_push(repo), delivery="same").status_code in (200, 202)
        replayed = signed(url, github_push(repo), delivery="same")
        assert replayed.status_code == 409 and replayed.json()["error"]["code"] == "replayed"
        head = repo.git("rev-parse", "HEAD")
        gitlab = {"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": head,
                  "total_commits_count": 1,
                  "project": {"web_url": WEB, "git_http_url": f"{WEB}.git", "default_branch": "main"}}
        wrong_token = httpx.post(f"{url}/webhooks/gitlab", json=gitlab,
                                 headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope"})
        assert wrong_token.status_code == 401
        good = httpx.post(f"{url}/webhooks/gitlab", json=gitlab,
                          headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET})
        assert good.status_code == 202 and good.json()["refreshing"] == ["sample"]
        _settled(app, "sample")
    with LiveServer(create_app(_settings(settings.storage_dir, webhook_secret=None))) as url:
        off = signed(url, github_push(repo))
        assert off.status_code == 403 and "RAGQA_WEBHOOK_SECRET" in off.json()["error"]["message"]


def test_a_burst_of_pushes_makes_one_or_two_jobs(project: tuple[Settings, GitRepo]) -> None:
    settings, repo = project
    app = create_app(settings)
    with LiveServer(app) as url:
        payloads = []
        for number in range(10):  # ten commits pushed one after another, delivered as a burst
            repo.write("src/sample/burst.py", f"VALUE = {number}\n").commit(f"burst {number}")
            payloads.append(github_push(repo))
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda payload: signed(url, payload).status_code, payloads))
        assert statuses == [202] * 10
        jobs = _settled(app, "sample")
        assert 1 <= len(jobs) <= 2 and all(job.state == "succeeded" for job in jobs)
        assert Ingester(settings).get("sample").commit == repo.git("rev-parse", "HEAD")  # the newest won


def test_answers_say_when_the_index_is_behind(project: tuple[Settings, GitRepo], onnx_dir: Path) -> None:
    settings, repo = project
    indexed = Ingester(settings).get("sample").commit
    repo.write("src/sample/later.py", "LATER = 1\n").commit("later")
    newer = repo.git("rev-parse", "HEAD")
    answerer = Answerer(settings, llm=None)
    fresh = answerer.ask("How do I retry with backoff?")
    assert fresh.behind is None and fresh.indexed_at is not None
    Heads(chroma_client(settings)).put("sample", Head(commit=newer, ref="main", since=now(), commits=2))
    late = Answerer(settings, llm=None).ask("How do I retry with backoff?")
    assert late.behind is not None and (late.behind.commit, late.behind.commits) == (newer, 2)
    context = next(b for b in answer_blocks(late, None) if b["type"] == "context")["elements"][0]["text"]
    assert f"Indexed at {indexed[:7]}, 2 commits behind main (now at {newer[:7]}" in context
    env = {"RAGQA_STORAGE_DIR": str(settings.storage_dir), "RAGQA_ONNX_DIR": str(onnx_dir),
           "RAGQA_LLM": "none", "PATH": "/usr/bin:/bin"}
    shown = run_cli(env, "ask", "How do I retry with backoff?")
    assert f"2 commits behind main (now at {newer[:7]}" in shown.stdout
    listed = run_cli(env, "projects")
    assert "2 commits behind main" in listed.stdout
    assert json.loads(run_cli(env, "projects", "--json").stdout)[0]["behind"]["commit"] == newer


def test_the_poller_finds_new_commits_without_webhooks(project: tuple[Settings, GitRepo]) -> None:
    settings, repo = project
    app = create_app(settings)
    jobs = app.state.services.jobs
    assert jobs.poll() == []  # nothing new
    repo.write("src/sample/polled.py", "POLLED = 1\n").commit("polled")
    assert jobs.poll() == ["sample"]
    assert jobs.heads.get("sample").commit == repo.git("rev-parse", "HEAD")  # type: ignore[union-attr]
    deadline = time.monotonic() + 120
    while "sample" in jobs._active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Ingester(settings).get("sample").commit == repo.git("rev-parse", "HEAD")
    assert jobs.poll() == []
    jobs.shutdown()
