"""The real `ragqa` command in a child process: output formats, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import GitRepo, run_cli

pytestmark = pytest.mark.slow


def assert_one_line_error(done: object, fragment: str) -> None:
    stderr = done.stderr  # type: ignore[attr-defined]
    assert done.returncode == 1, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert fragment in lines[0], lines[0]


def test_ingest_json_projects_and_remove(repo: GitRepo, cli_env: dict[str, str]) -> None:
    done = run_cli(cli_env, "ingest", repo.url, "--web-url", "https://github.com/acme/sample",
                   "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("project", "commit", "files", "chunks", "added", "updated", "deleted",
                "embedded", "seconds"):
        assert key in summary
    assert summary["project"] == "sample" and summary["embedded"] == summary["chunks"] > 0

    again = run_cli(cli_env, "ingest", repo.url)
    assert again.returncode == 0, again.stderr
    assert "sample @" in again.stdout and "0 embedded" in again.stdout

    listed = json.loads(run_cli(cli_env, "projects", "--json").stdout)
    assert [p["name"] for p in listed] == ["sample"]
    assert listed[0]["web_url"] == "https://github.com/acme/sample"
    assert "files" in listed[0] and "chunks" in listed[0]

    bad_runs = [
        (("ingest", "ext::sh -c 'touch /tmp/ragqa-pwned'", "--name", "sample"), "transport"),
        (("ingest", "--", "-uhack"), "starts with '-'"),
        (("ingest", repo.url, "--ref", "--upload-pack=touch /tmp/x"), "starts with '-'"),
        (("ingest", repo.url, "--ref", "no-such-branch"), "not found"),
        (("ingest", "gopher://example.com/r"), "unsupported URL scheme"),
        (("ingest", "file:///nonexistent/repo.git", "--name", "sample", "--replace"), "cannot fetch"),
        (("remove", "ghost"), "no project named 'ghost'"),
    ]
    for args, fragment in bad_runs:
        assert_one_line_error(run_cli(cli_env, *args), fragment)
    assert not Path("/tmp/ragqa-pwned").exists()

    still = json.loads(run_cli(cli_env, "projects", "--json").stdout)
    assert still[0]["commit"] == summary["commit"] and still[0]["chunks"] == summary["chunks"]

    asked = run_cli(cli_env, "ask", "How do I retry a call with backoff?", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert set(answer) == {"answer", "answered", "project", "commit", "projects", "indexed_at", "behind",
                           "sources", "links_removed", "model", "usage", "timings_ms"}
    assert answer["answered"] and answer["model"] == "extractive" and answer["commit"] == summary["commit"]
    assert set(answer["sources"][0]) == {"id", "project", "path", "start_line", "end_line", "url", "score",
                                         "kind"}
    assert answer["sources"][0]["url"].startswith(
        f"https://github.com/acme/sample/blob/{summary['commit']}/")
    plain = run_cli(cli_env, "ask", "How do I retry a call with backoff?", "--top-k", "2", "--only", "code")
    assert plain.returncode == 0
    assert plain.stdout.startswith("The steps, from `retry_with_backoff` in `src/sample/http.py`:")
    assert "**References**" in plain.stdout and plain.stdout.count("\n- [") <= 2
    for args, fragment in [(("ask", " "), "the question is empty"),
                           (("ask", "timeouts?", "--project", "ghost"), "no project named 'ghost'")]:
        assert_one_line_error(run_cli(cli_env, *args), fragment)

    removed = run_cli(cli_env, "remove", "sample", "--yes")
    assert removed.returncode == 0 and "removed sample" in removed.stdout
    assert "no projects yet" in run_cli(cli_env, "projects").stdout
    assert_one_line_error(run_cli(cli_env, "ask", "timeouts?"), "no projects yet")


def test_store_outage_is_one_line(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "RAGQA_CHROMA_URL": "http://127.0.0.1:9"}
    assert_one_line_error(run_cli(env, "projects"), "cannot open the vector store")


def test_help_is_fast_to_reach(cli_env: dict[str, str]) -> None:
    done = run_cli(cli_env, "--help")
    assert done.returncode == 0 and "ingest" in done.stdout and "projects" in done.stdout
