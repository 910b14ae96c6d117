"""Scale benchmark (not a test): ingest a big project, then serve it cold and under load.

    python bench/scale.py --repo /path/to/sqlalchemy --project sqlalchemy --storage DIR \\
        [--questions bench/questions/sqlalchemy__sqlalchemy.jsonl] [--clients 1,2,4,16,64] [--seconds 20]
    python bench/scale.py --project sqlalchemy --storage DIR ...        # the project is there already
    python bench/scale.py ... --workers 2                                # `ragqa serve --workers 2`
    python bench/scale.py ... --env RAGQA_MAX_CONCURRENT_ANSWERS=1      # any server setting

Prints: the first ingest's time, chunks/s and peak RSS (when `--repo` is given and the project is
not there yet); `ragqa serve`'s cold start (to /readyz ready, then the first answer) and each
server process's RSS, PSS, shared and private memory (`--clients ""` stops there); sequential
p50/p95 over the question set; for each client count, answers/s, errors, p50/p95 and the
server's RSS (all worker processes together). Extractive answers, rate limit off, loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import DEFAULT_QUESTIONS, client, free_port, percentile, rss_kb, smaps_kb, wait_until_ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--repo", type=Path, help="a local clone to ingest first")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--clients", default="1,2,4,16,64")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], metavar="RAGQA_KEY=VALUE",
                        help="a setting for the server (repeatable)")
    args = parser.parse_args()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")},
           "RAGQA_STORAGE_DIR": str(args.storage), "RAGQA_LLM": "none", "RAGQA_RATE_LIMIT_PER_MINUTE": "0",
           "HF_HUB_OFFLINE": "1", **dict(item.split("=", 1) for item in args.env)}
    if args.repo:
        ingest(args.repo, args.project, env)
    serve(args, env)


def ingest(repo: Path, project: str, env: dict[str, str]) -> None:
    started = time.perf_counter()
    command = [sys.executable, "-m", "ragqa", "ingest", str(repo), "--name", project, "--json"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, rss_kb([child.pid]))
        time.sleep(0.5)
    summary = json.loads(child.stdout.read() if child.stdout else "{}")
    seconds = time.perf_counter() - started
    print(f"ingest: {summary.get('chunks')} chunks, {summary.get('embedded')} embedded in {seconds:.0f} s "
          f"({summary.get('embedded', 0) / seconds:.1f} chunks/s), peak RSS {peak / 1024:.0f} MB")


def serve(args: argparse.Namespace, env: dict[str, str]) -> None:
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "ragqa", "serve", "--port", str(port),
                               "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(measure(f"http://127.0.0.1:{port}", server.pid, started, args))
    finally:
        server.terminate()
        server.wait(timeout=30)


async def measure(url: str, pid: int, started: float, args: argparse.Namespace) -> None:
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines()[1:]
                 if line.strip()]
    body = {"project": args.project}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await wait_until_ready(http)
        ready = time.perf_counter() - started
        first_started = time.perf_counter()
        await http.post("/ask", json={**body, "question": questions[0]})
        first = time.perf_counter() - first_started
        print(f"cold start: ready in {ready:.2f} s, then the first answer in {first * 1000:.0f} ms; "
              f"server RSS {rss_kb(_family(pid)) / 1024:.0f} MB")
        print_memory(_family(pid))
        sequential = []
        for question in questions[1:]:
            asked = time.perf_counter()
            await http.post("/ask", json={**body, "question": question})
            sequential.append(time.perf_counter() - asked)
        print(f"sequential: {len(sequential)} answers, p50 {statistics.median(sequential) * 1000:.1f} ms, "
              f"p95 {percentile(sequential, 0.95) * 1000:.1f} ms")
        if args.workers > 1:  # every worker has answered (and built its graph) by now, most likely
            await asyncio.gather(*(http.post("/locate", json={**body, "text": question})
                                   for question in questions[:8]))
        print("after them:")
        print_memory(_family(pid))
    for count in [int(part) for part in args.clients.split(",") if part]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            latencies: list[float] = []
            errors: list[str] = []
            began = time.perf_counter()
            stop = began + args.seconds
            await asyncio.gather(*(client(http, questions, n * 7, stop, body, latencies, errors)
                                   for n in range(count)))
            elapsed = time.perf_counter() - began
        print(f"{count:>3} clients: {len(latencies) / elapsed:6.1f} answers/s, {len(errors)} errors, "
              f"p50 {statistics.median(latencies) * 1000:6.0f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1000:6.0f} ms, "
              f"server RSS {rss_kb(_family(pid)) / 1024:.0f} MB", flush=True)


def print_memory(pids: list[int]) -> None:
    """Each process's RSS, PSS (shared pages split among their users), shared and private memory,
    and the sums: what `--workers N` costs beyond one worker is in PSS and private, not RSS."""
    total = {"Rss": 0, "Pss": 0, "Shared": 0, "Private": 0}
    for pid in pids:
        memory = smaps_kb(pid)
        for key in total:
            total[key] += memory.get(key, 0)
        print(f"  pid {pid}: " + ", ".join(f"{key} {value / 1024:.0f} MB" for key, value in memory.items()))
    print("  all:  " + ", ".join(f"{key} {value / 1024:.0f} MB" for key, value in total.items()))


def _family(pid: int) -> list[int]:
    """The server and its worker processes."""
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) in found:
                found.append(int(entry.name))
    return found


if __name__ == "__main__":
    main()
