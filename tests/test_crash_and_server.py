"""An ingest killed half-way, and the store in server mode (a real `chroma run` on loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo, run_cli
from tests.test_ingest import assert_index_matches_repo

pytestmark = pytest.mark.slow

INSPECT = """
import json, sys
from ragqa.ingest import Ingester
from ragqa.index import ChunkStore, chroma_client
from ragqa.index.chroma import get_or_create_collection
from ragqa.settings import Settings
settings = Settings()
record = Ingester(settings).get(sys.argv[1])
store = ChunkStore(get_or_create_collection(chroma_client(settings), record.collection, {}))
stored = store.all_ids()
live = record.live_ids()
print(json.dumps({"commit": record.commit, "live": len(live), "stored": len(stored),
                  "live_missing": len(live - stored), "orphans": len(stored - live)}))
"""


def inspect(env: dict[str, str], name: str) -> dict[str, int | str]:
    done = subprocess.run([sys.executable, "-c", INSPECT, name], env=env, capture_output=True,
                          text=True, check=True, timeout=120)
    result: dict[str, int | str] = json.loads(done.stdout)
    return result


def add_many_functions(repo: GitRepo, files: int) -> None:
    for index in range(files):
        body = "".join(
            f"def handler_{index}_{k}(request):\n    \"\"\"Handle case {index}.{k}.\"\"\"\n"
            + "".join(f"    step_{s} = request.get('{s}')\n" for s in range(5))
            + "    return request\n\n\n" for k in range(3))
        repo.write(f"src/handlers/h{index}.py", body)


def kill_ingest(env: dict[str, str], repo: GitRepo, marker: str) -> bool:
    """Run `ragqa ingest -v` and SIGKILL it on the first progress line starting with `marker`;
    True when it was killed (not finished first)."""
    with subprocess.Popen([sys.executable, "-m", "ragqa", "ingest", str(repo.root), "-v"], env=env,
                          stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as child:
        assert child.stderr is not None
        for line in child.stderr:
            if line.startswith(marker):
                child.send_signal(signal.SIGKILL)
                break
        child.wait(timeout=60)
    return child.returncode == -signal.SIGKILL


def test_killed_ingest_keeps_old_index_and_next_ingest_finishes(
        repo: GitRepo, cli_env: dict[str, str]) -> None:
    first = run_cli(cli_env, "ingest", str(repo.root), "--json")
    assert first.returncode == 0, first.stderr
    old_commit = json.loads(first.stdout)["commit"]
    add_many_functions(repo, 30)
    new_commit = repo.commit("many handlers")

    env = {**cli_env, "RAGQA_EMBED_BATCH_SIZE": "1"}  # 4 chunks per stored batch
    assert kill_ingest(env, repo, "stored batch 3/"), "the ingest finished before it could be killed"

    after_kill = inspect(cli_env, "sample")
    assert after_kill["commit"] == old_commit, "the registry still points at the old index"
    assert after_kill["live_missing"] == 0, "every chunk of the old index is still there"
    assert int(after_kill["orphans"]) >= 12, "the killed run had stored some new chunks"

    resumed = run_cli(cli_env, "ingest", str(repo.root), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["commit"] == new_commit and summary["added"] == 30
    assert summary["embedded"] == 90 - int(after_kill["orphans"]), "stored chunks are reused"
    final = inspect(cli_env, "sample")
    assert final["live_missing"] == 0 and final["orphans"] == 0
    assert final["live"] == final["stored"] == summary["chunks"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real Chroma server on a loopback port, with its data in a temp dir."""
    port = _free_port()
    server = _start_chroma(tmp_path / "chroma-server", port)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def test_server_mode(repo: GitRepo, tmp_path: Path, chroma_server: str) -> None:
    settings = Settings(storage_dir=tmp_path / "local", chroma_url=chroma_server,
                        _env_file=None)  # type: ignore[call-arg]
    ingester = Ingester(settings)
    first = ingester.ingest(IngestRequest(source=repo.url))
    assert first.embedded == first.chunks > 0
    assert not (tmp_path / "local" / "chroma").exists(), "nothing embedded on disk"
    assert ingester.ingest(IngestRequest(source=repo.url)).embedded == 0
    repo.write("src/sample/http.py", (repo.root / "src/sample/http.py").read_text() + "\nX = 1\n")
    repo.commit("edit")
    assert ingester.ingest(IngestRequest(source=repo.url)).updated == 1
    assert_index_matches_repo(settings, "sample", repo)
    assert [p.name for p in Ingester(settings).projects()] == ["sample"]


def test_a_kill_right_after_the_commit_point_leaves_a_consistent_index(
        repo: GitRepo, cli_env: dict[str, str]) -> None:
    assert run_cli(cli_env, "ingest", str(repo.root)).returncode == 0
    add_many_functions(repo, 10)
    new_commit = repo.commit("handlers")
    assert kill_ingest(cli_env, repo, "committed ")
    state = inspect(cli_env, "sample")
    assert state["commit"] == new_commit and state["live_missing"] == 0, "the new record names stored chunks"
    again = json.loads(run_cli(cli_env, "ingest", str(repo.root), "--json").stdout)
    assert again["embedded"] == 0, "everything the killed run stored is reused"
    final = inspect(cli_env, "sample")
    assert final["orphans"] == 0 and final["live"] == final["stored"]


def test_a_chroma_restart_under_a_running_server(repo: GitRepo, tmp_path: Path) -> None:
    from ragqa.api import create_app
    from tests.live_server import LiveServer

    port = _free_port()
    data = tmp_path / "chroma-data"
    chroma = _start_chroma(data, port)
    settings = Settings(storage_dir=tmp_path / "local", chroma_url=f"http://127.0.0.1:{port}", llm="none",
                        rate_limit_per_minute=0, project_check_s=0, _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=repo.url))
    ask = {"question": "How do I retry with backoff?"}
    try:
        with LiveServer(create_app(settings)) as url:
            assert httpx.post(f"{url}/ask", json=ask, timeout=60).status_code == 200
            chroma.terminate()
            chroma.wait(timeout=30)
            down = httpx.post(f"{url}/ask", json=ask, timeout=60)
            assert down.status_code == 503 and down.headers["Retry-After"] == "5"
            assert down.json()["error"]["code"] == "store_unavailable"
            assert "vector store" in down.json()["error"]["message"]
            chroma = _start_chroma(data, port)
            assert httpx.post(f"{url}/ask", json=ask, timeout=60).status_code == 200, "no restart needed"
    finally:
        chroma.terminate()
        chroma.wait(timeout=30)


def _start_chroma(data: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(data), "--host", "127.0.0.1",
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    pytest.fail("chroma run did not answer its heartbeat")


def test_two_processes_with_separate_storage_never_ingest_one_project_at_once(
        repo: GitRepo, tmp_path: Path, chroma_server: str, onnx_dir: Path) -> None:
    add_many_functions(repo, 200)  # enough chunks (600) for the first ingest to take a while
    repo.commit("many")
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAGQA_")}
    env.update(RAGQA_CHROMA_URL=chroma_server, RAGQA_ONNX_DIR=str(onnx_dir), HF_HUB_OFFLINE="1")
    first = {**env, "RAGQA_STORAGE_DIR": str(tmp_path / "replica-a")}
    second = {**env, "RAGQA_STORAGE_DIR": str(tmp_path / "replica-b")}
    with subprocess.Popen([sys.executable, "-m", "ragqa", "ingest", str(repo.root), "-v"], env=first,
                          stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as running:
        assert running.stderr is not None
        for line in running.stderr:
            if line.startswith("stored batch"):  # it holds the lease and is embedding
                break
        busy = run_cli(second, "ingest", str(repo.root))
        running.wait(timeout=300)
    assert running.returncode == 0
    assert busy.returncode == 1 and "another ingest of 'sample' is running" in busy.stderr
    assert "Traceback" not in busy.stderr
    after = run_cli(second, "ingest", str(repo.root), "--json")
    assert after.returncode == 0 and json.loads(after.stdout)["embedded"] == 0  # the other did the work


def test_a_lease_of_a_dead_or_silent_holder_is_taken_over(tmp_path: Path, chroma_server: str) -> None:
    from ragqa.errors import BusyError
    from ragqa.index import chroma_client
    from ragqa.index.leases import Lease, Leases

    settings = Settings(storage_dir=tmp_path / "local", chroma_url=chroma_server,
                        _env_file=None)  # type: ignore[call-arg]
    leases = Leases(chroma_client(settings), ttl_s=2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leases._leases.put("a", Lease(owner=f"{socket.gethostname()}:{dead.pid}:x", expires_at=time.time() + 600),
                       {"owner": "dead"})
    with leases.hold("a"):  # its holder was a process of this machine that is gone
        with pytest.raises(BusyError, match="another ingest of 'a' is running"), Leases(
                chroma_client(settings), ttl_s=2).hold("a"):
            pass
        time.sleep(2.5)  # renewed by the holder's thread: still held after its first time to live
        with pytest.raises(BusyError), Leases(chroma_client(settings), ttl_s=2).hold("a"):
            pass
    leases._leases.put("b", Lease(owner="elsewhere:1:y", expires_at=time.time() + 1), {"owner": "silent"})
    with pytest.raises(BusyError), leases.hold("b"):
        pass
    time.sleep(1.2)  # a holder on another machine that stopped renewing: taken over once expired
    with leases.hold("b"):
        assert leases._leases.get("b").owner.startswith(socket.gethostname())  # type: ignore[union-attr]
    assert leases._leases.get("b") is None  # released
