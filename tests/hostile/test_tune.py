"""The tuning door (`POST /projects/{name}/tune`, admin) of the real app: a question set given as
JSONL text is read line by line with bounded depth, and anything that is not a question set is
a 400 naming the line — never a failed job, never a 500; a megabyte costs linear CPU time; the
job's Location is a path, not a URL built from the Host header."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ragqa.api import create_app
from tests.hostile.conftest import MEGABYTE, WEB, Indexed, cpu_budget, one_line
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
ADMIN = {"Authorization": "Bearer admin-token"}
HEADER = json.dumps({"repo": "acme/sample", "commit": "x", "url": WEB})


def question(number: int, **changes: Any) -> str:
    row: dict[str, Any] = {
        "id": f"q{number}",
        "question": f"How do I retry with backoff, take {number}?",
        "gold": ["src/sample/http.py"],
        "lines": {"src/sample/http.py": [15, 22]},
    }
    row.update(changes)
    return json.dumps(row)


def question_set(*rows: str, good: int = 30) -> str:
    return "\n".join([HEADER, *rows, *(question(n) for n in range(good))])


@pytest.fixture(scope="module")
def url(indexed: Indexed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    storage = tmp_path_factory.mktemp("tune") / "storage"
    shutil.copytree(indexed.storage, storage)
    settings = indexed.settings(storage_dir=storage, ask_tokens="ask-token", admin_tokens="admin-token")
    with LiveServer(create_app(settings)) as served:
        yield served


def tune(url: str, body: Any, project: str = "sample", headers: dict[str, str] = ADMIN) -> httpx.Response:
    return httpx.post(
        f"{url}/projects/{project}/tune",
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json", "Host": "evil.example"},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        pytest.param({}, 400, "give the question set", id="nothing"),
        pytest.param({"questions": ""}, 400, "give the question set", id="empty-questions"),
        pytest.param({"generate": 19}, 422, "generate", id="generate-too-few"),
        pytest.param({"generate": 501}, 422, "generate", id="generate-too-many"),
        pytest.param({"generate": "many"}, 422, "generate", id="generate-a-word"),
        pytest.param({"questions": 5}, 422, "questions", id="questions-a-number"),
        pytest.param({"questions": "{not json\n{}"}, 400, "line 1", id="header-not-json"),
        pytest.param(
            {"questions": "[]\n" + question(1)}, 400, "the header must be a JSON object", id="header-a-list"
        ),
        pytest.param({"questions": HEADER}, 400, "holds no questions", id="only-a-header"),
        pytest.param({"questions": question_set("[1, 2]")}, 400, "line 2: not a question", id="row-a-list"),
        pytest.param(
            {"questions": question_set(json.dumps({"question": "x"}))}, 400, "line 2", id="row-without-id"
        ),
        pytest.param(
            {"questions": question_set(question(99, lines={"a.py": [1]}))},
            400,
            "line 2",
            id="span-of-one-number",
        ),
        pytest.param(
            {"questions": question_set(question(99, lines={"a.py": ["9" * 5000, 1]}))},
            400,
            "line 2",
            id="span-of-five-thousand-digits",
        ),
        pytest.param({"questions": question_set(question(99, gold=5))}, 400, "line 2", id="gold-a-number"),
        pytest.param(
            {"questions": question_set(question(99, lines=[1, 2]))}, 400, "line 2", id="lines-a-list"
        ),
        pytest.param({"questions": question_set("[" * 100 + "]" * 100)}, 400, "nested", id="row-nested-deep"),
        pytest.param(
            {"questions": question_set("[" * 100_000 + "]" * 100_000)},
            400,
            "nested",
            id="row-nested-a-hundred-thousand-deep",
        ),
        pytest.param({"questions": question_set(good=3)}, 400, "", id="too-few-questions"),
    ],
)
def test_what_is_not_a_question_set_is_400_naming_the_line(
    url: str, body: Any, status: int, fragment: str
) -> None:
    response = tune(url, body)
    assert response.status_code == status, response.text[:300]
    assert fragment in one_line(response.json()["error"]["message"]), response.text[:300]
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("project", "headers", "status"),
    [
        pytest.param("ghost", ADMIN, 404, id="ghost"),
        pytest.param("..%2F..%2Fetc", ADMIN, 400, id="traversal"),
        pytest.param("sample", {"Authorization": "Bearer ask-token"}, 403, id="ask-token"),
        pytest.param("sample", {}, 401, id="no-token"),
    ],
)
def test_who_and_what_may_be_tuned(url: str, project: str, headers: dict[str, str], status: int) -> None:
    response = tune(url, {"questions": question_set()}, project, headers)
    assert response.status_code == status, response.text[:300]
    one_line(response.json()["error"]["message"])


def test_a_megabyte_question_set_is_refused_in_linear_time(url: str) -> None:
    with cpu_budget(2.0):
        response = tune(url, {"questions": question_set(good=MEGABYTE // 150)})
    assert response.status_code == 413, response.text[:300]


def test_a_good_set_runs_as_a_job_found_by_its_path(url: str) -> None:
    response = tune(
        url, {"questions": question_set('"\\ud800"' if False else question(99, question="\ud800?"))}
    )
    assert response.status_code == 202, response.text[:300]
    location = response.headers["location"]
    assert location.startswith("/jobs/") and "evil" not in location
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}{location}", headers=ADMIN).json()
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert job["state"] == "succeeded", json.dumps(job)[:1500]
