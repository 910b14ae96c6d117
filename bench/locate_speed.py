"""Warm `locate` latency on one big project, with real issue texts as input (not a test).

    python bench/locate_speed.py --storage DIR --project sqlalchemy --data swe_bench_lite.jsonl [--count 60]

The issue texts come from SWE-bench-format JSONL (any repos: only their length and shape matter);
the project is warmed with one text, then each text is located once, timed (no result cache).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--count", type=int, default=60)
    args = parser.parse_args()
    from ragqa.answer import Answerer
    from ragqa.settings import Settings

    settings = Settings(storage_dir=args.storage, llm="none", _env_file=None)  # type: ignore[call-arg]
    answerer = Answerer(settings, llm=None)
    index = answerer.project(args.project)
    rows = [line for line in args.data.read_text().splitlines() if line.strip()]
    texts = [json.loads(line)["problem_statement"] for line in rows]
    texts = texts[:: max(1, len(texts) // args.count)][: args.count]
    timings = []
    answerer.locate(texts[0], args.project)  # loads vectors, lexical index and symbols
    for text in texts:
        started = time.perf_counter()
        answerer.locate(text, args.project)
        timings.append(time.perf_counter() - started)
    lengths = sorted(len(text) for text in texts)
    print(f"{args.project}: {index.record.chunk_count} chunks; {len(texts)} issue texts of {lengths[0]}–"
          f"{lengths[-1]} characters (median {statistics.median(lengths):.0f}); warm locate p50 "
          f"{statistics.median(timings) * 1000:.0f} ms, p95 {percentile(timings, 0.95) * 1000:.0f} ms, "
          f"max {max(timings) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
