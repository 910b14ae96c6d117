"""The first hour with ragqa: a wheel installed anywhere, storage found, names kept apart, and
messages that say what to do. Real processes, a real wheel, real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings, find_storage
from tests.conftest import GitRepo, run_cli
from tests.fake_llm import FakeLLM, Reply
from tests.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_a_built_wheel_answers_with_its_own_prompts(tmp_path: Path, repo: GitRepo, onnx_dir: Path) -> None:
    """Build the wheel, install it (not editable) into a fresh venv that borrows only the
    dependencies, and answer through a model from a folder far from the source tree."""
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                            str(ROOT)], capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("ragqa-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site,
                                str(wheel)], capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr
    # the dependencies come from this venv; a plain path line does not load its editable ragqa
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(python), "-c", "import ragqa, ragqa.prompting as p; "
                            "print(ragqa.__file__); print(p.packaged_prompts())"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert all(path.startswith(site) for path in where), where
    assert (Path(where[1]) / "qa.md.j2").exists() and (Path(where[1]) / "rerank.md.j2").exists()

    env = {key: value for key, value in os.environ.items() if not key.startswith("RAGQA_")}
    env.update(RAGQA_STORAGE_DIR=str(tmp_path / "storage"), RAGQA_ONNX_DIR=str(onnx_dir), HF_HUB_OFFLINE="1")
    version = subprocess.run([str(python), "-m", "ragqa", "--version"], capture_output=True, text=True,
                             env=env, cwd=tmp_path, check=True)
    assert version.stdout.startswith("ragqa 0.")
    ingest = subprocess.run([str(python), "-m", "ragqa", "ingest", str(repo.root)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert ingest.returncode == 0, ingest.stderr
    with FakeLLM() as fake:
        fake.script(Reply("Wrap the call in `retry_with_backoff` [S1]."))
        asked = subprocess.run([str(python), "-m", "ragqa", "ask", "How do I retry with backoff?", "--json"],
                               capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
                               env={**env, "RAGQA_LLM_BASE_URL": fake.base_url, "RAGQA_LLM_MODEL": "fake"})
        prompt = fake.requests[0]["messages"][0]["content"] if fake.requests else ""
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["model"] == "fake" and answer["answered"] and "retry_with_backoff" in answer["answer"]
    assert "Hmm, I'm not sure." in prompt, "the packaged qa.md.j2 was rendered"


def test_storage_is_found_like_git_finds_its_folder(tmp_path: Path, cli_env: dict[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "work"
    (project / "storage").mkdir(parents=True)
    (project / "storage" / ".ragqa").touch()
    (project / "src" / "deep").mkdir(parents=True)
    assert find_storage(project / "src" / "deep") == project / "storage"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert find_storage(elsewhere) == tmp_path / "xdg" / "ragqa"

    env = {key: value for key, value in cli_env.items() if key != "RAGQA_STORAGE_DIR"}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    listed = subprocess.run([sys.executable, "-m", "ragqa", "projects"], env=env, cwd=elsewhere,
                            capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0 and f"storage: {tmp_path / 'xdg' / 'ragqa'}" in listed.stderr
    assert "no projects yet" in listed.stdout
    asked = subprocess.run([sys.executable, "-m", "ragqa", "ask", "timeouts?"], env=env, cwd=elsewhere,
                           capture_output=True, text=True, timeout=120, check=False)
    assert asked.returncode == 1 and "no projects yet in" in asked.stderr
    assert f"(your user data folder: no storage/ folder holding a ragqa index in {elsewhere}" in asked.stderr
    assert not (tmp_path / "xdg" / "ragqa").exists(), "reading never creates a storage folder"
    assert not (elsewhere / "storage").exists()


def test_names_sources_and_projects_are_kept_apart(tmp_path: Path, repo: GitRepo,
                                                   cli_env: dict[str, str]) -> None:
    fork = GitRepo(tmp_path / "fork")
    fork.write("src/fork.py", "def forked():\n    return 1\n").commit("fork")
    web = "https://github.com/acme/sample"
    assert run_cli(cli_env, "ingest", str(repo.root), "--web-url", web).returncode == 0
    refused = run_cli(cli_env, "ingest", str(fork.root), "--name", "sample")
    assert refused.returncode == 1 and "--replace" in refused.stderr and "is indexed from" in refused.stderr
    replaced = json.loads(run_cli(cli_env, "ingest", str(fork.root), "--name", "sample", "--replace",
                                  "--json").stdout)
    assert replaced["files"] == 1
    listed = json.loads(run_cli(cli_env, "projects", "--json").stdout)
    assert listed[0]["web_url"] is None, "the original's --web-url is not kept for another source"
    assert run_cli(cli_env, "ingest", str(repo.root), "--name", "other").returncode == 0
    ambiguous = run_cli(cli_env, "ask", "timeouts?")
    assert ambiguous.returncode == 1 and "--project NAME" in ambiguous.stderr
    assert "(other, sample)" in ambiguous.stderr
    piped = run_cli(cli_env, "projects")
    rows = [line.split("\t") for line in piped.stdout.splitlines()]
    assert [row[0] for row in rows] == ["other", "sample"] and len(rows[0][1]) == 40, "whole rows when piped"


def test_messages_say_what_to_do(tmp_path: Path, repo: GitRepo, cli_env: dict[str, str]) -> None:
    assert run_cli(cli_env, "ingest", str(repo.root)).returncode == 0
    nowhere = run_cli(cli_env, "ask", "timeouts?", "--path", "nosuchdir/")
    assert nowhere.returncode == 1 and "no indexed file of sample is under 'nosuchdir/'" in nowhere.stderr
    assert "src/" in nowhere.stderr and "docs/" in nowhere.stderr
    declined = run_cli(cli_env, "ask", "How do I configure a Kafka producer for all in-sync replicas?")
    assert declined.stdout.startswith("Hmm, I'm not sure.") and "closest passages" in declined.stdout
    checks = tmp_path / "checks.yaml"
    checks.write_text("- question: How do I retry?\n  cite: ['src/*']\n")
    typo = run_cli(cli_env, "check", str(checks))
    assert typo.returncode == 1 and "unknown key 'cite' (did you mean 'cites'?)" in typo.stderr
    verbose = run_cli(cli_env, "ingest", str(repo.root), "--name", "again", "-v")
    assert "skipped pyproject.toml" not in verbose.stderr
    (repo.root / "logo.png").write_bytes(b"\x89PNG\r\n")
    repo.write("poetry.lock", "[[package]]\n").commit("binary and lock")
    verbose = run_cli(cli_env, "ingest", str(repo.root), "--name", "again", "-v")
    assert "skipped logo.png: binary" in verbose.stderr and "skipped poetry.lock: lock file" in verbose.stderr


def test_http_errors_say_what_to_do(tmp_path: Path, repo: GitRepo) -> None:
    settings = Settings(storage_dir=tmp_path / "st", llm="none", rate_limit_per_minute=0,
                        allow_local_sources=False, _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), name="other"))
    with LiveServer(create_app(settings)) as url:
        ambiguous = httpx.post(f"{url}/ask", json={"question": "timeouts?"})
        assert ambiguous.status_code == 400 and '"project": "NAME"' in ambiguous.json()["error"]["message"]
        assert ambiguous.json()["error"]["code"] == "project_required"
        refresh = httpx.post(f"{url}/projects/sample/refresh")
        assert refresh.status_code == 400 and "local" in refresh.json()["error"]["message"].lower()
        malformed = httpx.post(f"{url}/ask", content=b'{"question": ',
                               headers={"Content-Type": "application/json"})
        assert "not valid JSON" in malformed.json()["error"]["message"]
        form = httpx.post(f"{url}/ask", data={"question": "timeouts?"})
        assert "JSON object with Content-Type: application/json" in form.json()["error"]["message"]
        docs = httpx.get(f"{url}/docs")
        assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
        assert "cdn" not in docs.text.lower()
        assert httpx.get(f"{url}/docs-assets/swagger-ui-bundle.js").status_code == 200
        models = httpx.get(f"{url}/v1/models").json()["data"]  # two projects, no default: no `ragqa`
        assert [model["id"] for model in models] == ["project:other", "project:sample"]
        chosen = httpx.post(f"{url}/v1/chat/completions", json={
            "model": models[0]["id"], "messages": [{"role": "user", "content": "timeouts?"}]})
        assert chosen.status_code == 200, chosen.text
    with LiveServer(create_app(settings.model_copy(update={"default_project": "sample"}))) as url:
        models = httpx.get(f"{url}/v1/models").json()["data"]
        assert [model["id"] for model in models] == ["ragqa", "project:other", "project:sample"]
        assert httpx.post(f"{url}/v1/chat/completions", json={
            "model": "ragqa", "messages": [{"role": "user", "content": "timeouts?"}]}).status_code == 200


def test_help_reads_well_and_asking_commands_share_options() -> None:
    """No `<bool>` after a flag, plain metavars, arguments with their help, and the same --project
    and --top-k wherever a command asks (rendered in process: --help imports nothing heavy)."""
    from typer.testing import CliRunner

    from ragqa.cli import app

    runner = CliRunner()
    for command in ("ask", "locate", "eval", "ingest", "check", "remove", "questions"):
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
        assert shown.exit_code == 0, shown.output
        assert not re.search(r"<[a-z]|\{[a-z]", shown.output), shown.output  # <bool>, {question}
        if command in ("ask", "locate", "eval"):
            lines = shown.output.splitlines()
            project = next(line for line in lines if "--project" in line)
            top_k = next(line for line in lines if "--top-k" in line)
            assert "NAME" in project and "repeat" in project and "default:" in top_k, shown.output
        if command == "ask":
            assert "The question, in quotes" in shown.output  # arguments keep their help
        if command == "remove":
            assert "The project to delete" in shown.output and "--yes" in shown.output


def test_a_failed_first_ingest_leaves_nothing(tmp_path: Path, cli_env: dict[str, str]) -> None:
    storage = Path(cli_env["RAGQA_STORAGE_DIR"])
    for source in ("./does-not-exist", "https://127.0.0.1:9/acme/gone.git"):
        failed = subprocess.run([sys.executable, "-m", "ragqa", "ingest", source], env=cli_env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert failed.returncode == 1 and failed.stderr.startswith("error: "), failed.stderr
        assert not storage.exists(), sorted(storage.rglob("*"))
    checkout = tmp_path / "checkout"
    (checkout / "storage").mkdir(parents=True)
    (checkout / "storage" / ".ragqa").touch()
    env = {key: value for key, value in cli_env.items() if key != "RAGQA_STORAGE_DIR"}
    subprocess.run([sys.executable, "-m", "ragqa", "ingest", "./does-not-exist"], env=env, cwd=checkout,
                   capture_output=True, text=True, timeout=120, check=False)
    assert [path.name for path in (checkout / "storage").iterdir()] == [".ragqa"]
    where = subprocess.run([sys.executable, "-m", "ragqa", "ask", "why?"], env=cli_env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert f"no projects yet in {storage} (set by RAGQA_STORAGE_DIR)" in where.stderr
    for command in (["feedback"], ["tune", "x", "--reset"], ["remove", "x", "--yes"], ["locate", "x"]):
        said = run_cli(cli_env, *command)
        assert f"in {storage} (set by RAGQA_STORAGE_DIR)" in said.stdout + said.stderr, command
    assert not storage.exists(), "reading commands create no store"


def test_remove_asks_unless_yes_and_verbose_names_redactions(repo: GitRepo, cli_env: dict[str, str]) -> None:
    token = "ghp_" + "R8x2Lq7Vn4Tz9Kw1Hc6Jm3Pb5Ys0Ud8Fe2Ga"
    repo.write("deploy.md", f"# Deploy\n\nexport GITHUB_TOKEN={token}\n").commit("deploy notes")
    first = run_cli(cli_env, "ingest", str(repo.root))
    assert first.returncode == 0 and "(-v names them)" in first.stdout, first.stdout + first.stderr
    again = run_cli(cli_env, "ingest", "sample", "-v")  # nothing re-chunked: named from the record
    assert again.returncode == 0 and "-v names them" not in again.stdout
    assert "redacted in deploy.md" in again.stderr, again.stderr

    refused = subprocess.run([sys.executable, "-m", "ragqa", "remove", "sample"], env=cli_env, text=True,
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False)
    assert refused.returncode == 1 and "add --yes" in refused.stderr, refused.stderr
    assert "sample" in run_cli(cli_env, "projects").stdout
    removed = run_cli(cli_env, "remove", "sample", "--yes")
    assert removed.returncode == 0 and "removed sample" in removed.stdout


def test_locate_and_eval_take_several_projects(tmp_path: Path, repo: GitRepo,
                                               cli_env: dict[str, str]) -> None:
    assert run_cli(cli_env, "ingest", str(repo.root)).returncode == 0
    assert run_cli(cli_env, "ingest", str(repo.root), "--name", "other").returncode == 0
    both = ["--project", "sample", "--project", "other", "--json"]
    located = run_cli(cli_env, "locate", "retry backoff", *both)
    assert located.returncode == 0, located.stderr
    assert [location["project"] for location in json.loads(located.stdout)] == ["sample", "other"]
    every = run_cli(cli_env, "locate", "retry backoff", "--project", "*")
    assert every.returncode == 0 and "## other" in every.stdout and "## sample" in every.stdout
    questions = tmp_path / "set.jsonl"
    questions.write_text(json.dumps({"repo": "acme/sample", "commit": "x", "url": ""}) + "\n" + json.dumps(
        {"id": "q1", "question": "How do I retry with backoff?", "gold": ["src/sample/http.py"], "lines": {}})
        + "\n")
    evaluated = run_cli(cli_env, "eval", str(questions), *both)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["overall"]["invalid_links"] == 0
