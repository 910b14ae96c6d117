"""Soak benchmark (not a test): `/ask` under steady load for minutes, memory watched.

    python bench/soak.py --storage DIR --project NAME [--minutes 10] [--clients 16] [--questions F]

Starts `ragqa serve` on a free loopback port against an index built beforehand (a real-size
project, ≥ 1,000 chunks; extractive answers, rate limit off), runs `--clients` concurrent
clients asking the question set in turn, and every 30 s prints the answers, errors, p50/p95
latency of that interval and the server's resident memory. At the end: the totals and the RSS
drift from minute 2 to the last sample (the target is under 10 %).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

# bench/ is the script's folder, first on sys.path
from load import DEFAULT_QUESTIONS, client, free_port, percentile, rss_kb, wait_until_ready

INTERVAL_S = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    args = parser.parse_args()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")},
           "RAGQA_STORAGE_DIR": str(args.storage), "RAGQA_LLM": "none", "RAGQA_RATE_LIMIT_PER_MINUTE": "0",
           "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "ragqa", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(soak(f"http://127.0.0.1:{port}", server.pid, args))
    finally:
        server.terminate()
        server.wait(timeout=30)


async def soak(url: str, pid: int, args: argparse.Namespace) -> None:
    import json

    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines()[1:]
                 if line.strip()]
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        await wait_until_ready(http, poll_s=0.5)
        body = {"project": args.project}
        await http.post("/ask", json={**body, "question": questions[0]})
        started = time.perf_counter()
        stop = started + args.minutes * 60
        latencies: list[float] = []
        errors: list[str] = []
        totals = {"answers": 0, "errors": 0}
        samples: list[tuple[float, int]] = []
        print("| minute | answers | errors | req/s | p50 ms | p95 ms | server RSS MB |")
        print("|---|---|---|---|---|---|---|")
        workers = [asyncio.create_task(client(http, questions, n * 7, stop, body, latencies, errors))
                   for n in range(args.clients)]
        while time.perf_counter() < stop:
            await asyncio.sleep(min(INTERVAL_S, max(0.0, stop - time.perf_counter())))
            interval, failed = sorted(latencies), list(errors)
            latencies.clear()
            errors.clear()
            rss = rss_kb([pid])
            minute = (time.perf_counter() - started) / 60
            samples.append((minute, rss))
            totals["answers"] += len(interval)
            totals["errors"] += len(failed)
            p95 = percentile(interval, 0.95)
            print(f"| {minute:.1f} | {len(interval)} | {len(failed)} | {len(interval) / INTERVAL_S:.1f} | "
                  f"{statistics.median(interval) * 1000 if interval else 0:.0f} | {p95 * 1000:.0f} | "
                  f"{rss / 1024:.0f} |", flush=True)
        await asyncio.gather(*workers)
    base = next((rss for minute, rss in samples if minute >= 2), samples[0][1])
    drift = (samples[-1][1] - base) / base * 100
    print(f"\n{totals['answers']} answers, {totals['errors']} errors in {args.minutes:g} min at "
          f"{args.clients} clients; RSS {base / 1024:.0f} MB at minute 2 → {samples[-1][1] / 1024:.0f} MB at "
          f"the end: drift {drift:+.1f} % (target under 10 %)")


if __name__ == "__main__":
    main()
