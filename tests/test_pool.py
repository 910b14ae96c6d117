"""The answer workers (`ragqa.api.pool`): first come first served, a bounded queue that refuses
with 503 JSON through the real app under uvicorn, and a failing answer that leaves its worker
alive."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragqa.api import create_app
from ragqa.api.pool import AnswerPool, Overloaded
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo
from tests.live_server import LiveServer

QUESTION = "How do I retry a call with exponential backoff?"


def _held(pool: AnswerPool) -> tuple[threading.Event, list[threading.Thread]]:
    """Occupy every worker of `pool` and fill its queue with jobs that wait for the event."""
    release = threading.Event()
    holding = threading.Semaphore(0)

    def hold() -> None:
        holding.release()
        release.wait(30)

    def submit() -> None:
        asyncio.run(pool.run(hold))

    threads = [threading.Thread(target=submit, daemon=True) for _ in range(pool.workers + pool.max_queued)]
    for thread in threads[:pool.workers]:
        thread.start()
    for _ in range(pool.workers):  # every worker holds one
        assert holding.acquire(timeout=10)
    for thread in threads[pool.workers:]:
        thread.start()
    _until(lambda: pool.waiting == pool.max_queued)
    return release, threads


def _until(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_jobs_run_in_the_order_they_came() -> None:
    pool = AnswerPool(1)
    done: list[int] = []

    async def main() -> list[int]:
        gate = threading.Event()
        first = asyncio.ensure_future(pool.run(lambda: gate.wait(10)))
        await asyncio.sleep(0.05)  # the worker holds the first job while the rest queue up
        rest = [asyncio.ensure_future(pool.run(lambda n=n: done.append(n) or n)) for n in range(20)]
        await asyncio.sleep(0)
        gate.set()
        await first
        return list(await asyncio.gather(*rest))

    try:
        assert asyncio.run(main()) == list(range(20))
        assert done == list(range(20))
    finally:
        pool.close()


def test_a_failing_job_fails_only_its_own_request() -> None:
    pool = AnswerPool(1)

    def fail() -> str:
        raise ValueError("broken answer")

    async def main() -> tuple[str, str]:
        with pytest.raises(ValueError, match="broken answer"):
            await pool.run(fail)
        with pytest.raises(RuntimeError, match="StopIteration"):
            await pool.run(lambda: next(iter([])))
        return await pool.run(lambda: threading.current_thread().name), \
            await pool.run(lambda: threading.current_thread().name)

    try:
        first, second = asyncio.run(main())
        assert first == second == "ragqa-answer-0"  # the same worker, still alive
    finally:
        pool.close()


def test_a_full_queue_refuses_at_once() -> None:
    pool = AnswerPool(2, max_queued=3)
    release, threads = _held(pool)
    try:
        with pytest.raises(Overloaded, match="3 answers are waiting"):
            asyncio.run(pool.run(lambda: "one too many"))
    finally:
        release.set()
    for thread in threads:
        thread.join(10)
    assert asyncio.run(pool.run(lambda: "served again")) == "served again"
    pool.close()


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pool")
    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    Ingester(_settings(root / "storage")).ingest(IngestRequest(source=str(repo.root)))
    return root / "storage"


def _settings(storage: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"storage_dir": storage, "llm": "none", "rate_limit_per_minute": 0, **changes}
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def busy_server(storage: Path) -> Iterator[tuple[str, AnswerPool]]:
    app = create_app(_settings(storage, max_concurrent_answers=1, max_queued_answers=2))
    with LiveServer(app) as url:
        yield url, app.state.services.pool


@pytest.mark.slow
def test_an_overloaded_server_answers_503_json_then_serves_again(busy_server: tuple[str, AnswerPool]) -> None:
    url, pool = busy_server
    release, threads = _held(pool)
    try:
        for path, body in (("/ask", {"question": QUESTION}), ("/locate", {"text": QUESTION})):
            refused = httpx.post(f"{url}{path}", json=body)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
            assert refused.json()["error"]["code"] == "overloaded"
            assert refused.json()["error"]["request_id"] == refused.headers["X-Request-ID"]
        assert httpx.get(f"{url}/healthz").status_code == 200  # the event loop is not held up
    finally:
        release.set()
    for thread in threads:
        thread.join(10)
    answer = httpx.post(f"{url}/ask", json={"question": QUESTION})
    assert answer.status_code == 200 and answer.json()["answered"]
    assert answer.headers["content-type"] == "application/json"


@pytest.mark.slow
def test_concurrent_answers_equal_sequential_ones(busy_server: tuple[str, AnswerPool]) -> None:
    """Sixteen clients at once through one worker and a short queue: each gets the answer a lone
    client gets, or a 503 to retry — never another's answer, never a hang."""
    url, _ = busy_server
    questions = [QUESTION, "Where is the retry delay computed?", "What does the guide say about timeouts?",
                 "How are failed requests retried?"]
    alone = {question: _answer_text(httpx.post(f"{url}/ask", json={"question": question}))
             for question in questions}

    def ask(number: int) -> tuple[str, str]:
        question = questions[number % len(questions)]
        while True:
            response = httpx.post(f"{url}/ask", json={"question": question}, timeout=30)
            if response.status_code != 503:
                return question, _answer_text(response)
            time.sleep(float(response.headers["Retry-After"]) / 20)

    results: list[tuple[str, str]] = []
    threads = [threading.Thread(target=lambda n=n: results.append(ask(n))) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 16
    assert all(text == alone[question] for question, text in results)


def _answer_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["answer"])
