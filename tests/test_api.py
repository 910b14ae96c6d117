"""The HTTP server end to end: the real app under uvicorn on loopback, httpx and the openai SDK."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ragqa.api import create_app
from ragqa.chunking import split_lines
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo, run_cli
from tests.live_server import LiveServer
from tests.test_cli import assert_one_line_error

WEB = "https://github.com/acme/sample"
ASK, ADMIN = "ask-token", "admin-token"
QUESTION = "How do I retry a call with exponential backoff?"
pytestmark = pytest.mark.slow


def make_settings(storage: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = dict(storage_dir=storage, llm="none", ask_tokens=ASK, admin_tokens=ADMIN,
                                  rate_limit_per_minute=10_000, allow_local_sources=True)
    values.update(changes)
    return Settings(**values, _env_file=None)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("api") / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    return repo


@pytest.fixture(scope="module")
def server(sample: GitRepo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    settings = make_settings(tmp_path_factory.mktemp("api-storage"))
    Ingester(settings).ingest(IngestRequest(source=str(sample.root), web_url=WEB))
    with LiveServer(create_app(settings)) as url:
        yield url, settings


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """Parse a Server-Sent Events body event by event."""
    events = []
    for frame in response.text.split("\n\n"):
        if not frame.strip():
            continue
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def assert_links_valid(answer: dict[str, Any], repo: GitRepo) -> None:
    for url in re.findall(r"\]\((https://[^)]+)\)", answer["answer"]) + [s["url"] for s in answer["sources"]]:
        found = re.match(rf"{WEB}/blob/([0-9a-f]{{40}})/([^#]+)#L(\d+)-L(\d+)$", url)
        assert found, url
        commit, path, start, end = found.groups()
        assert commit == answer["commit"]
        assert 1 <= int(start) <= int(end) <= len(split_lines(repo.show(commit, path)))


def test_ask_as_json_and_as_server_sent_events(server: tuple[str, Settings], sample: GitRepo) -> None:
    url, _ = server
    answer = httpx.post(f"{url}/ask", json={"question": QUESTION, "top_k": 3}, headers=auth(ASK)).json()
    assert answer["answered"] and answer["project"] == "sample" and len(answer["sources"]) <= 3
    assert set(answer) == {"answer", "answered", "project", "commit", "projects", "indexed_at", "behind",
                           "sources", "links_removed", "model", "usage", "timings_ms"}
    assert_links_valid(answer, sample)

    for request in ({"json": {"question": QUESTION, "stream": True}},
                    {"json": {"question": QUESTION}, "headers": {"Accept": "text/event-stream"}}):
        headers = {**auth(ASK), **request.pop("headers", {})}  # type: ignore[dict-item]
        response = httpx.post(f"{url}/ask", headers=headers, **request)  # type: ignore[arg-type]
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "sources" and kinds[-1] == "done" and set(kinds[1:-1]) == {"delta"}
        done = events[-1][1]
        assert "".join(data["text"] for kind, data in events if kind == "delta") == done["answer"]
        assert events[0][1]["sources"] == done["sources"]
        assert_links_valid(done, sample)


def test_the_openai_sdk_works_unchanged(server: tuple[str, Settings]) -> None:
    url, _ = server
    with openai.OpenAI(base_url=f"{url}/v1", api_key=ASK, max_retries=0) as client:
        assert [model.id for model in client.models.list()] == ["ragqa", "project:sample"]
        completion = client.chat.completions.create(model="project:sample", messages=[
            {"role": "system", "content": "be brief"}, {"role": "user", "content": QUESTION}])
        content = completion.choices[0].message.content or ""
        assert "retry_with_backoff" in content and "**References**" in content
        extra = completion.model_extra or {}
        assert extra["sources"][0]["url"].startswith(f"{WEB}/blob/") and extra["ragqa"]["answered"]

        pieces = []
        final: dict[str, Any] = {}
        for chunk in client.chat.completions.create(model="ragqa", stream=True, messages=[
                {"role": "user", "content": QUESTION}, {"role": "assistant", "content": "..."},
                {"role": "user", "content": "and the connect timeout?"}]):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.choices and chunk.choices[0].finish_reason == "stop":
                final = chunk.model_extra or {}
        assert pieces and "".join(pieces).strip() and final["sources"]

        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="ghost", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="sample", messages=[{"role": "assistant", "content": "hi"}])


def test_tokens_and_scopes(server: tuple[str, Settings]) -> None:
    url, _ = server
    for headers, status in (({}, 401), (auth("wrong"), 401), (auth(ASK), 200), (auth(ADMIN), 200)):
        response = httpx.post(f"{url}/ask", json={"question": QUESTION}, headers=headers)
        assert response.status_code == status
        if status != 200:
            assert response.json()["error"]["code"] == "unauthorized"
    forbidden = httpx.post(f"{url}/projects", json={"source": "https://github.com/a/b"}, headers=auth(ASK))
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert httpx.delete(f"{url}/projects/sample", headers=auth(ASK)).status_code == 403
    assert httpx.get(f"{url}/projects", headers=auth(ASK)).json()[0]["name"] == "sample"
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert httpx.get(f"{url}/metrics").status_code == 401
    metrics = httpx.get(f"{url}/metrics", headers=auth(ASK)).text
    assert 'ragqa_answers_total{answered="true",model="extractive"}' in metrics
    assert "ragqa_http_request_seconds_bucket" in metrics and "ragqa_links_removed_total" in metrics
    assert httpx.get(f"{url}/openapi.json").json()["paths"]["/ask"]


def test_limits_give_json_errors(server: tuple[str, Settings]) -> None:
    url, settings = server
    cases = [
        ({"question": "why? " * 13_000}, 400, "bad_question"),  # over 64,000 characters
        ({"question": QUESTION, "top_k": 0}, 422, "invalid_request"),
        ({"question": QUESTION, "top_k": 500}, 422, "invalid_request"),
        ({"question": QUESTION, "project": "ghost"}, 404, "project_not_found"),
        ({"nothing": 1}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        response = httpx.post(f"{url}/ask", json=body, headers=auth(ASK))
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    big = httpx.post(f"{url}/ask", content=b"x" * (settings.body_limit + 1), headers=auth(ASK))
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    chunked = httpx.post(f"{url}/ask", content=iter([b"{" + b" " * settings.body_limit, b"}"]),
                         headers={**auth(ASK), "Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert httpx.get(f"{url}/nope").json()["error"]["code"] == "not_found"


def test_rate_limit_per_token(tmp_path: Path, sample: GitRepo) -> None:
    settings = make_settings(tmp_path / "st", rate_limit_per_minute=3)
    with LiveServer(create_app(settings)) as url:
        statuses = [httpx.get(f"{url}/projects", headers=auth(ASK)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = httpx.get(f"{url}/projects", headers=auth(ASK))
        assert int(limited.headers["Retry-After"]) >= 1 and limited.json()["error"]["code"] == "rate_limited"
        assert httpx.get(f"{url}/projects", headers=auth(ADMIN)).status_code == 200, "per token"


def test_sources_over_http_are_vetted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "st", allow_local_sources=False,
                             allowed_git_hosts="github.com,localhost,10.0.0.7,169.254.169.254,127.0.0.1")
    refusals = [
        (str(tmp_path), "local paths"),
        ("file:///etc", "local paths"),
        ("http://github.com/a/b", "only https"),
        ("git@github.com:a/b.git", "only https"),
        ("https://gitlab.example.com/a/b", "not on the allow-list"),
        ("https://localhost/a/b", "loopback"),
        ("https://127.0.0.1/a/b", "loopback"),
        ("https://10.0.0.7/a/b", "private"),
        ("https://169.254.169.254/latest", "cloud metadata"),
        ("ext::sh -c touch% /tmp/pwned", "transport"),
    ]
    with LiveServer(create_app(settings)) as url:
        for source, fragment in refusals:
            response = httpx.post(f"{url}/projects", json={"source": source}, headers=auth(ADMIN))
            assert response.status_code == 400, source
            assert fragment in response.json()["error"]["message"], (source, response.json())


def wait_for(url: str, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = httpx.get(f"{url}/jobs/{job['id']}", headers=auth(ASK)).json()
        if state["state"] in ("succeeded", "failed"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job['id']} did not finish")


def test_ingest_jobs_and_concurrent_asks_during_a_reingest(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "live")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    settings = make_settings(tmp_path / "st")
    with LiveServer(create_app(settings)) as url:
        created = httpx.post(f"{url}/projects", json={"source": str(repo.root), "web_url": WEB},
                             headers=auth(ADMIN))
        assert created.status_code == 202 and created.headers["Location"] == f"/jobs/{created.json()['id']}"
        done = wait_for(url, created.json())
        assert done["state"] == "succeeded" and done["summary"]["chunks"] > 0 and done["project"] == "live"
        first_commit = done["summary"]["commit"]
        assert httpx.get(f"{url}/projects/live", headers=auth(ASK)).json()["commit"] == first_commit

        for n in range(30):  # a bigger change, so the re-ingest takes a while
            repo.write(f"src/sample/extra_{n}.py", f'def helper_{n}(value):\n    """Retry helper {n}."""\n'
                                                   f"    return value * {n}\n")
        repo.write("docs/guide.md", SAMPLE_MD.replace("exponential backoff", "exponential back-off"))
        repo.commit("more")
        refresh = httpx.post(f"{url}/projects/live/refresh", headers=auth(ADMIN))
        assert refresh.status_code == 202
        again = httpx.post(f"{url}/projects/live/refresh", headers=auth(ADMIN))
        assert again.status_code == 409 and again.json()["error"]["code"] == "busy"

        def ask(_: int) -> dict[str, Any]:
            response = httpx.post(f"{url}/ask", json={"question": QUESTION}, headers=auth(ASK), timeout=60)
            assert response.status_code == 200, response.text
            return dict(response.json())

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(ask, range(20)))
        finished = wait_for(url, refresh.json())
        assert finished["state"] == "succeeded" and finished["summary"]["added"] == 30
        for answer in answers:
            assert answer["commit"] in {first_commit, finished["summary"]["commit"]}
            assert_links_valid(answer, repo)
        assert httpx.post(f"{url}/ask", json={"question": QUESTION}, headers=auth(ASK)).json()["commit"] \
            == finished["summary"]["commit"]

        failed = httpx.post(f"{url}/projects", json={"source": str(repo.root), "name": "x", "ref": "nope"},
                            headers=auth(ADMIN))
        state = wait_for(url, failed.json())
        assert state["state"] == "failed" and "not found" in state["error"]["message"]

        assert httpx.delete(f"{url}/projects/live", headers=auth(ADMIN)).status_code == 204
        gone = httpx.get(f"{url}/projects/live", headers=auth(ASK))
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "project_not_found"
        assert httpx.get(f"{url}/jobs/nope", headers=auth(ASK)).status_code == 404


def test_a_store_outage_is_503_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "st", chroma_url="http://127.0.0.1:9")
    with LiveServer(create_app(settings)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["store"].startswith("unavailable")
        response = httpx.post(f"{url}/ask", json={"question": QUESTION}, headers=auth(ASK))
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert response.json()["error"]["code"] == "store_unavailable"


def test_eval_and_serve_from_the_command_line(server: tuple[str, Settings], sample: GitRepo,
                                              cli_env: dict[str, str], tmp_path: Path) -> None:
    url, _ = server
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(row) for row in [
        {"repo": "acme/sample", "commit": "", "url": WEB},
        {"id": "q1", "question": QUESTION, "gold": ["src/sample/http.py"],
         "lines": {"src/sample/http.py": [15, 23]}, "kind": "code", "style": "conceptual"}]) + "\n")
    done = run_cli(cli_env, "eval", str(questions), "--server", url, "--token", ASK,
                   "--repo", str(sample.root), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["lines_checked"] and report["overall"]["hit@5"] == 1.0
    assert report["overall"]["invalid_links"] == 0
    assert_one_line_error(run_cli(cli_env, "eval", str(questions), "--server", url, "--token", "bad"),
                          "HTTP 401: unknown token")
    assert_one_line_error(run_cli(cli_env, "serve", "--host", "0.0.0.0"), "only listens on loopback")


def test_ragqa_serve_runs_the_app(cli_env: dict[str, str]) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "ragqa", "serve", "--port", str(port)], env=cli_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("ragqa serve did not start")
        response = httpx.post(f"http://127.0.0.1:{port}/ask", json={"question": QUESTION})
        assert response.status_code == 404 and "no projects yet" in response.json()["error"]["message"]
    finally:
        process.terminate()
        process.wait(timeout=20)
