"""Answer latency benchmark (not a test): extractive `ask` in process, and a fresh `ragqa ask`.

    python bench/ask.py --storage STORAGE_DIR --project NAME [--questions FILE.jsonl] [--rounds 5]

Uses an index built beforehand (`ragqa ingest`), asks every question of the question file
(default: examples/questions/psf__requests.jsonl) `--rounds` times through one warm `Answerer`
(model loaded, as in `ragqa serve`) and prints p50/p95/max of the total and of each stage, then
times one fresh `ragqa ask` process, start-up and model load included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(storage_dir=args.storage, llm="none", _env_file=None)  # type: ignore[call-arg]
    questions = [question.question for question in load(args.questions).questions]

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

    env = {**os.environ, "RAGQA_STORAGE_DIR": str(args.storage), "RAGQA_LLM": "none"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ragqa", "ask", questions[0], "--project", args.project,
                           "--json"], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    print(f"fresh `ragqa ask` process: {wall:.2f} s wall "
          f"(in-process total {json.loads(done.stdout)['timings_ms']['total']} ms)")


def summary(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
            f"max {max(values):.1f} ms")


if __name__ == "__main__":
    main()
