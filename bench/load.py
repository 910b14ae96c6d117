"""HTTP load benchmark (not a test): concurrent `/ask` clients against a running server.

    python bench/load.py URL [--clients 16] [--seconds 30] [--token T] [--project NAME] [--pid PID]

Each client asks the questions of the dev set in turn (extractive mode unless the server has an
LLM) for `--seconds`; prints requests/s, errors and p50/p95/p99 latency, and the server's
resident memory (current and peak) when `--pid` names its process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import time
from pathlib import Path

import httpx

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "examples" / "questions" / "psf__requests.jsonl"


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` (0–1) of `values` lie (nearest rank); 0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


async def wait_until_ready(http: httpx.AsyncClient, timeout_s: float = 120, poll_s: float = 0.1) -> None:
    """Poll `/readyz` until the server says ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(poll_s)
    raise SystemExit("the server did not become ready")


def rss_kb(pids: list[int]) -> int:
    """Resident memory of these processes together (kB); gone processes count 0."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0)
    return total


def smaps_kb(pid: int) -> dict[str, int]:
    """A process's memory from /proc/<pid>/smaps_rollup (kB): Rss, Pss, Shared (clean + dirty)
    and Private (clean + dirty, the USS); empty when the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return {}
    fields = {line.split(":")[0]: int(line.split()[1]) for line in lines[1:] if line.endswith("kB")}
    return {"Rss": fields.get("Rss", 0), "Pss": fields.get("Pss", 0),
            "Shared": fields.get("Shared_Clean", 0) + fields.get("Shared_Dirty", 0),
            "Private": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def client(http: httpx.AsyncClient, questions: list[str], offset: int, stop: float,
                 body: dict[str, object], latencies: list[float], errors: list[str]) -> None:
    index = offset
    while time.perf_counter() < stop:
        started = time.perf_counter()
        try:
            response = await http.post("/ask", json={**body, "question": questions[index % len(questions)]})
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors.append(f"HTTP {response.status_code}")
        except httpx.HTTPError as error:
            errors.append(type(error).__name__)
        index += 1


async def run(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.questions.read_text().splitlines()[1:] if line.strip()]
    questions = [row["question"] for row in rows]
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    body: dict[str, object] = {"project": args.project} if args.project else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=60, limits=limits) as http:
        await http.post("/ask", json={**body, "question": questions[0]})  # warm up
        latencies: list[float] = []
        errors: list[str] = []
        started = time.perf_counter()
        stop = started + args.seconds
        await asyncio.gather(*(client(http, questions, n * 7, stop, body, latencies, errors)
                               for n in range(args.clients)))
        elapsed = time.perf_counter() - started
    print(f"{len(latencies)} answers in {elapsed:.1f} s with {args.clients} clients: "
          f"{len(latencies) / elapsed:.1f} req/s, {len(errors)} errors {sorted(set(errors))}")
    if latencies:
        print(f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms")
    if args.pid:
        status = Path(f"/proc/{args.pid}/status").read_text()
        memory = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines()
                  if line.startswith(("VmRSS", "VmHWM"))}
        print(f"server RSS {memory.get('VmRSS')} (peak {memory.get('VmHWM')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--token")
    parser.add_argument("--project")
    parser.add_argument("--pid", type=int, help="the server's process id, to read its memory")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
