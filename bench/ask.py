"""Answer latency benchmark (not a test): extractive `ask` in process, and a fresh `ragqa ask`.

    python bench/ask.py --storage STORAGE_DIR --project NAME [--questions FILE.jsonl] [--rounds 5]

Uses an index built beforehand (`ragqa ingest`), asks every question of the question file
(default: examples/questions/psf__requests.jsonl) `--rounds` times through one warm `Answerer`
(model loaded, as in `ragqa serve`) and prints p50/p95/max of the total and of each stage, then
times fresh `ragqa ask` processes (`--fresh` of each, wall and CPU time — on a shared machine
the CPU time is the steadier figure): answering in their own process (start-up, store, model and
project loads included), and through a `ragqa serve` of the same storage (started here).
`--rounds 0` times the fresh processes only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import percentile
from ragqa.answer import Answerer
from ragqa.evaluation import load
from ragqa.settings import Settings

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "examples" / "questions" / "psf__requests.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--rounds", type=int, default=5, help="warm asks per question (0: fresh asks only)")
    parser.add_argument("--fresh", type=int, default=5, help="fresh `ragqa ask` processes per path")
    args = parser.parse_args()
    settings = Settings(storage_dir=args.storage, llm="none", _env_file=None)  # type: ignore[call-arg]
    questions = [question.question for question in load(args.questions).questions]

    env = {**os.environ, "RAGQA_STORAGE_DIR": str(args.storage), "RAGQA_LLM": "none"}
    if args.rounds == 0:  # the fresh processes only
        fresh(env, questions[0], args)
        return
    answerer = Answerer(settings)
    started = time.perf_counter()
    answerer.ask(questions[0], args.project)
    print(f"first ask (opens the project, loads the model): {time.perf_counter() - started:.2f} s")

    totals: list[float] = []
    stages: dict[str, list[int]] = {"retrieve": [], "generate": []}
    for _ in range(args.rounds):
        for question in questions:
            started = time.perf_counter()
            answer = answerer.ask(question, args.project)
            totals.append((time.perf_counter() - started) * 1000)
            for stage in stages:
                stages[stage].append(answer.timings_ms[stage])
    print(f"{len(totals)} warm asks (extractive): {summary(totals)}")
    for stage, values in stages.items():
        print(f"  {stage:>8}: {summary([float(v) for v in values])}")

    fresh(env, questions[0], args)


def fresh(env: dict[str, str], question: str, args: argparse.Namespace) -> None:
    print(f"fresh `ragqa ask` in its own process: "
          f"{fresh_asks({**env, 'RAGQA_SERVER': 'off'}, question, args.project, args.fresh)}")
    with serving(env, args.storage):
        print(f"fresh `ragqa ask` through `ragqa serve`: "
              f"{fresh_asks(env, question, args.project, args.fresh)}")


def fresh_asks(env: dict[str, str], question: str, project: str, times: int) -> str:
    """Wall time of `times` fresh `ragqa ask --json -v` processes (min and median) and the path
    that answered (stderr of `-v`)."""
    walls: list[float] = []
    cpus: list[float] = []
    said = ""
    for _ in range(times):
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-m", "ragqa", "ask", question, "--project", project,
                               "--json", "-v"], env=env, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        said = done.stderr.strip().splitlines()[-1]
    return (f"min {min(walls):.2f} s, median {statistics.median(walls):.2f} s wall; CPU time median "
            f"{statistics.median(cpus):.2f} s ({said})")


@contextlib.contextmanager
def serving(env: dict[str, str], storage: Path) -> Iterator[None]:
    """A `ragqa serve` of the storage on a free port, until it has advertised itself."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "ragqa", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (storage / "server.json").is_file():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("`ragqa serve` did not start")
            time.sleep(0.1)
        ready = subprocess.run([sys.executable, "-m", "ragqa", "ask", "warm up", "--json"],
                               env=env, capture_output=True, text=True, check=False)  # loads the project
        del ready
        yield
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def summary(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
            f"max {max(values):.1f} ms")


if __name__ == "__main__":
    main()
