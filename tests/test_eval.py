"""`ragqa eval` on a small synthetic repository: metrics, invalid links, thresholds, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragqa.answer import Answer, Source
from ragqa.evaluation import git_files, invalid_links
from tests.conftest import GitRepo, run_cli
from tests.test_cli import assert_one_line_error

WEB = "https://github.com/acme/sample"


def write_questions(path: Path, commit: str) -> Path:
    rows = [
        {"repo": "acme/sample", "commit": commit, "url": WEB},
        {"id": "q1", "question": "How do I retry a call with exponential backoff?",
         "gold": ["src/sample/http.py"], "lines": {"src/sample/http.py": [15, 23]},
         "kind": "code", "style": "conceptual"},
        {"id": "q2", "question": "What does `connect_timeout` return?",
         "gold": ["src/sample/http.py"], "lines": {"src/sample/http.py": [8, 12]},
         "kind": "code", "style": "identifier"},
        {"id": "q3", "question": "Where do the docs explain timeouts for the connect phase?",
         "gold": ["docs/guide.md"], "lines": {"docs/guide.md": [5, 8]},
         "kind": "docs", "style": "conceptual"},
        {"id": "q4", "question": "How do I configure a Kafka producer to wait for all in-sync replicas?",
         "gold": [], "lines": {}, "kind": "unanswerable", "style": "unanswerable"},  # as generated
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


@pytest.mark.slow
def test_eval_reports_and_fails_on_thresholds(repo: GitRepo, cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(cli_env, "ingest", str(repo.root), "--web-url", WEB).returncode == 0
    questions = write_questions(tmp_path / "q.jsonl", repo.git("rev-parse", "HEAD"))
    done = run_cli(cli_env, "eval", str(questions), "--json", "--min-hit5", "0.6")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    overall = report["overall"]
    assert overall["questions"] == 4 and overall["hit@5"] == 1.0 and overall["invalid_links"] == 0
    assert overall["abstention"] == 1.0 and overall["answer_rate"] == 1.0
    assert 0 < overall["mrr@10"] <= 1 and overall["p50_ms"] > 0 and report["lines_checked"]
    assert set(report["by_kind"]) == {"code", "docs", "unanswerable"}
    assert set(report["by_style"]) == {"conceptual", "identifier", "unanswerable"}
    assert [q["id"] for q in report["questions"]] == ["q1", "q2", "q3", "q4"]

    table = run_cli(cli_env, "eval", str(questions))
    assert table.returncode == 0 and "hit@5" in table.stdout
    assert table.stdout.count("unanswerable") == 1, table.stdout  # one row, not one per kind and style

    failing = run_cli(cli_env, "eval", str(questions), "--min-hit5", "1.01", "--min-mrr", "1.01")
    assert failing.returncode == 1 and "hit@5" in failing.stdout
    assert_one_line_error(failing, "hit@5 1 is below 1.01; mrr@10")

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"repo": "x"}\n{"question": "no id"}\n')
    assert_one_line_error(run_cli(cli_env, "eval", str(broken)), "line 2: not a question")
    assert_one_line_error(run_cli(cli_env, "eval", str(tmp_path / "missing.jsonl")), "cannot read")


def test_invalid_links_are_those_outside_the_sources_or_the_file(repo: GitRepo) -> None:
    commit = repo.git("rev-parse", "HEAD")
    base = f"{WEB}/blob/{commit}"
    sources = [Source(id="S1", path="src/sample/http.py", start_line=8, end_line=12,
                      url=f"{base}/src/sample/http.py#L8-L12", score=1.0, kind="code"),
               Source(id="S2", path="docs/guide.md", start_line=900, end_line=910,
                      url=f"{base}/docs/guide.md#L900-L910", score=0.5, kind="docs")]
    text = (f"See [ok]({base}/src/sample/http.py#L9-L10), [file]({base}/src/sample/http.py), "
            f"[outside]({base}/src/sample/http.py#L30-L31) and [other](https://example.com/).")
    answer = Answer(answer=text, answered=True, project="sample", commit=commit, sources=sources,
                    model="extractive")
    assert invalid_links(answer, git_files(repo.root)) == [
        f"{base}/src/sample/http.py#L30-L31", "https://example.com/", f"{base}/docs/guide.md#L900-L910"]
    assert invalid_links(answer, None) == [f"{base}/src/sample/http.py#L30-L31", "https://example.com/"]
