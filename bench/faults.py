"""Fault benchmark (not a test; a short version is in tests/): ingests killed with SIGKILL, and a
Chroma server stopped and restarted under a running `ragqa serve`.

    python bench/faults.py kills REPO [--kills 20] [--seed 1] [--work DIR]
    python bench/faults.py chroma-restart REPO [--work DIR]

`kills` copies REPO (a git repository of ≥ 1,000 chunks, e.g. psf/requests) and makes a second
commit that changes every chunk of half its Python and docs files. It indexes the first commit,
then moves the project between the two commits, killing each ingest once: at the controlled
points — after the first
stored batch, halfway through the batches, right after the record is written (between the
commit point and the stale-chunk delete) — and then at random moments. After every kill it
checks that the project answers from a consistent commit (the one its record names) with no
live chunk missing, then runs the ingest again to the end and checks that the stored ids equal
the manifest's and how much was embedded again (resumed ingests embed only what a killed run
had not stored).

`chroma-restart` serves the project from a `chroma run` server, stops the server under a running
`ragqa serve`, checks that `/ask` answers 503 with Retry-After while it is down, restarts it on the
same port and data, and checks that `/ask` answers again without restarting ragqa.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

INSPECT = """
import json, sys
from ragqa.answer import Answerer
from ragqa.ingest import Ingester
from ragqa.index import ChunkStore, chroma_client
from ragqa.index.chroma import get_collection
from ragqa.settings import Settings
settings = Settings(llm="none")
record = Ingester(settings).get(sys.argv[1])
stored = ChunkStore(get_collection(chroma_client(settings), record.collection)).all_ids()
answer = Answerer(settings).ask(sys.argv[2], sys.argv[1])
print(json.dumps({"commit": record.commit, "live": len(record.live_ids()),
                  "live_missing": len(record.live_ids() - stored), "orphans": len(stored - record.live_ids()),
                  "answered_from": answer.commit, "answered": answer.answered}))
"""
QUESTION = "How are redirects followed and how is the body rewound?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["kills", "chroma-restart"])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ragqa-faults-"))
    if args.command == "kills":
        kills(args.repo, work, args.kills, random.Random(args.seed))
    else:
        chroma_restart(args.repo, work)


def kills(source: Path, work: Path, count: int, rng: random.Random) -> None:
    repo = work / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(source), str(repo)], check=True)
    commits = [_git(repo, "rev-parse", "HEAD"), _second_commit(repo)]
    env = _env(work / "storage")
    _git(repo, "checkout", "-q", commits[0])
    first = _ingest(env, repo)
    print(f"indexed {first['chunks']} chunks of {commits[0][:10]} in {first['seconds']:.0f} s")
    _git(repo, "checkout", "-q", commits[1])
    full = _ingest(env, repo)
    print(f"a full move to {commits[1][:10]}: {full['embedded']} chunks embedded in {full['seconds']:.0f} s")
    points = ["after first stored batch", "halfway", "after commit"]
    points += [f"random {rng.uniform(0.5, max(1.0, full['seconds'])):.1f} s" for _ in range(count - 3)]
    print("| # | kill point | killed? | record commit after kill | answered from it | live missing "
          "| orphans | next ingest embedded | stored == manifest |")
    print("|---|---|---|---|---|---|---|---|---|")
    failures = 0
    for number, point in enumerate(points, 1):
        target = commits[(number + 1) % 2]  # the project starts at commits[1]: move away first
        _git(repo, "checkout", "-q", target)
        killed = _kill_ingest(env, repo, point)
        state = _inspect(env)
        consistent = state["answered_from"] == state["commit"] and state["live_missing"] == 0
        resumed = _ingest(env, repo)
        after = _inspect(env)
        whole = after["live_missing"] == 0 and after["orphans"] == 0 and after["commit"] == target
        failures += not (consistent and whole)
        print(f"| {number} | {point} | {'yes' if killed else 'finished first'} | {state['commit'][:10]} "
              f"| {state['answered_from'][:10]} | {state['live_missing']} | {state['orphans']} "
              f"| {resumed['embedded']} of {resumed['chunks']} | {'yes' if whole else 'NO'} |")
    print(f"\n{len(points)} kills, {failures} inconsistent states")
    sys.exit(1 if failures else 0)


def _second_commit(repo: Path) -> str:
    files = sorted(path for path in repo.rglob("*") if path.suffix in (".py", ".rst", ".md")
                   and ".git" not in path.parts)
    for path in files[::2]:  # a first line moves every line, so every chunk of the file changes
        path.write_text("# changed for the fault benchmark\n" + path.read_text(encoding="utf-8"),
                        encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "bench")
    return _git(repo, "rev-parse", "HEAD")


def _kill_ingest(env: dict[str, str], repo: Path, point: str) -> bool:
    """Run `ragqa ingest -v` and SIGKILL it at `point`; False if it finished first."""
    command = [sys.executable, "-m", "ragqa", "ingest", str(repo), "-v", "--name", "bench"]
    started = time.monotonic()
    with subprocess.Popen(command, env={**env, "RAGQA_EMBED_BATCH_SIZE": "4"}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as child:
        assert child.stderr is not None
        deadline = float(point.split()[1]) if point.startswith("random") else None
        for line in child.stderr:
            batch = line.startswith("stored batch ")
            done, total = (int(n) for n in line.split()[2].split("/")) if batch else (0, 0)
            if (point == "after first stored batch" and batch) or \
                    (point == "halfway" and batch and done >= total // 2) or \
                    (point == "after commit" and line.startswith("committed ")) or \
                    (deadline is not None and time.monotonic() - started >= deadline):
                child.send_signal(signal.SIGKILL)
                break
        child.wait()
        return child.returncode == -signal.SIGKILL


def _ingest(env: dict[str, str], repo: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "ragqa", "ingest", str(repo), "--name", "bench", "--json"],
                          env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _inspect(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", INSPECT, "bench", QUESTION], env=env, capture_output=True,
                          text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def chroma_restart(source: Path, work: Path) -> None:
    port, api_port = _free_port(), _free_port()
    data = work / "chroma-server"
    chroma = _start_chroma(data, port)
    env = {**_env(work / "storage"), "RAGQA_CHROMA_URL": f"http://127.0.0.1:{port}",
           "RAGQA_RATE_LIMIT_PER_MINUTE": "0"}
    _ingest(env, source)
    server = subprocess.Popen([sys.executable, "-m", "ragqa", "serve", "--port", str(api_port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{api_port}"
    try:
        _wait(f"{url}/readyz", 120)
        ask = {"question": QUESTION, "project": "bench"}
        print("before:", httpx.post(f"{url}/ask", json=ask, timeout=60).status_code)
        chroma.terminate()
        chroma.wait(30)
        time.sleep(1.5)  # past RAGQA_PROJECT_CHECK_S: a cached project is checked against the store
        down = [httpx.post(f"{url}/ask", json=ask, timeout=60) for _ in range(3)]
        print("while down:", [(r.status_code, r.headers.get("retry-after"),
                               r.json().get("error", {}).get("code")) for r in down])
        chroma = _start_chroma(data, port)
        started = time.monotonic()
        while (status := httpx.post(f"{url}/ask", json=ask, timeout=60).status_code) != 200:
            if time.monotonic() - started > 60:
                break
            time.sleep(0.5)
        print(f"after restart: {status} within {time.monotonic() - started:.1f} s, same ragqa process")
        ok = all(r.status_code == 503 and r.headers.get("retry-after") for r in down) and status == 200
        sys.exit(0 if ok else 1)
    finally:
        server.terminate()
        chroma.terminate()


def _start_chroma(data: Path, port: int) -> subprocess.Popen[bytes]:
    chroma = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(data),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    _wait(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60)
    return chroma


def _wait(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:g} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _env(storage: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAGQA_")}
    return {**env, "RAGQA_STORAGE_DIR": str(storage), "RAGQA_LLM": "none", "HF_HUB_OFFLINE": "1"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


if __name__ == "__main__":
    main()
