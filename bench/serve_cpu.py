"""Serving cost benchmark (not a test): the server's CPU time per answer at 1 and at N clients.

    python bench/serve_cpu.py --storage DIR --project NAME [--questions FILE] [--answers 600]
        [--clients 1,16] [--runs 3] [--env RAGQA_KEY=VALUE ...]
    python bench/serve_cpu.py --url http://127.0.0.1:8000 --pid PID --project NAME ...   # a running server

Wall-clock throughput on a shared machine is noisy; the CPU the server process spends per answer
is not (its utime + stime from /proc/PID/stat, all threads, before and after a fixed batch of
answers). For each client count and run: answers/s, p50/p95, errors, the server's CPU ms per
answer, this load generator's own CPU ms per answer, and the 1-minute load average; then the
medians over the runs. The gap between 1 and N clients' CPU per answer is what concurrency wastes.
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
from bench.load import free_port, percentile, wait_until_ready

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "questions" / "sqlalchemy__sqlalchemy.jsonl"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (every thread), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def batch(http: httpx.AsyncClient, questions: list[str], body: dict[str, object], answers: int,
                clients: int) -> tuple[list[float], int]:
    """`answers` questions asked by `clients` concurrent clients; latencies of the 200s, errors."""
    latencies: list[float] = []
    errors = 0
    turn = iter(range(answers))

    async def client() -> None:
        nonlocal errors
        for number in turn:
            started = time.perf_counter()
            try:
                question = questions[number % len(questions)]
                response = await http.post("/ask", json={**body, "question": question})
            except httpx.HTTPError:
                errors += 1
                continue
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors


async def measure(url: str, pid: int, args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.questions.read_text().splitlines()[1:] if line.strip()]
    questions = [row["question"] for row in rows]
    body: dict[str, object] = {"project": args.project}
    summary: dict[int, list[tuple[float, float, float, float]]] = {}
    for count in [int(part) for part in args.clients.split(",")]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            await wait_until_ready(http)
            await batch(http, questions, body, 2 * count, count)  # warm connections and caches
            for run in range(args.runs):
                load = os.getloadavg()[0]
                server, own, began = cpu_seconds(pid), time.process_time(), time.perf_counter()
                latencies, errors = await batch(http, questions, body, args.answers, count)
                elapsed = time.perf_counter() - began
                server_ms = (cpu_seconds(pid) - server) * 1000 / args.answers
                own_ms = (time.process_time() - own) * 1000 / args.answers
                rate = len(latencies) / elapsed
                p95 = percentile(latencies, 0.95) * 1000
                summary.setdefault(count, []).append((server_ms, rate, p95, own_ms))
                print(f"{count:>3} clients run {run + 1}: {rate:6.1f} answers/s, {errors} errors, "
                      f"p50 {statistics.median(latencies) * 1000:5.0f} ms, p95 {p95:5.0f} ms, "
                      f"server CPU {server_ms:5.2f} ms/answer, client CPU {own_ms:4.2f} ms/answer, "
                      f"load {load:.1f}", flush=True)
    for count, runs in summary.items():
        server_ms, rate, p95, own_ms = (statistics.median(values) for values in zip(*runs, strict=True))
        print(f"median {count:>3} clients: server CPU {server_ms:.2f} ms/answer, {rate:.1f} answers/s, "
              f"p95 {p95:.0f} ms, client CPU {own_ms:.2f} ms/answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, help="serve this storage (else --url and --pid)")
    parser.add_argument("--url")
    parser.add_argument("--pid", type=int)
    parser.add_argument("--project", required=True)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--answers", type=int, default=600, help="answers per batch")
    parser.add_argument("--clients", default="1,16")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", action="append", default=[], metavar="RAGQA_KEY=VALUE")
    args = parser.parse_args()
    if args.storage is None:
        if not (args.url and args.pid):
            parser.error("give --storage, or --url and --pid of a running server")
        asyncio.run(measure(args.url, args.pid, args))
        return
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")},
           "RAGQA_STORAGE_DIR": str(args.storage), "RAGQA_LLM": "none", "RAGQA_RATE_LIMIT_PER_MINUTE": "0",
           "HF_HUB_OFFLINE": "1", **dict(item.split("=", 1) for item in args.env)}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "ragqa", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(measure(f"http://127.0.0.1:{port}", server.pid, args))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
