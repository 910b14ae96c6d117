"""Vector search at an organisation's scale, on generated vectors only (not a test; no store).

    nice -n 10 python bench/org_search.py [--chunks 1000000 --projects 200 --questions 200]

Times are CPU time of this process (one BLAS thread, as `ragqa serve` runs): on a shared
machine the steadier figure. The vectors are `bench/org.py`'s (same sizes, same mixture of
topics), held in memory without Chroma, so the search strategies of `ragqa.index.vectors` are
measured alone: per project, the time and recall@10 of the projected scan against exact search;
across every project (`*`), the time of an exact scan of all of them and of the routing
`ragqa.retrieve.across` does by similarity (each project's best similarity on the projection,
then the best `--fanout` projects searched), and the share of the exact global top 10 it keeps.
`--real FILE.npy` adds the per-project figures on a real project's vectors (unit rows; 100 of
them held out as the questions).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.org import TOPICS, Organisation, sizes
from ragqa.index.vectors import VectorIndex, unit


def project_vectors(org: Organisation, count: int) -> np.ndarray:
    topics = org.rng.choice(TOPICS, size=max(3, count // 400), replace=False)
    file_sizes: list[int] = []
    while sum(file_sizes) < count:
        file_sizes.append(min(int(org.rng.integers(3, 30)), count - sum(file_sizes)))
    per_chunk = np.repeat(org.rng.choice(topics, size=len(file_sizes)), file_sizes).astype(np.int32)
    return org.vectors(per_chunk, file_sizes)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return len(set(found.tolist()) & set(exact.tolist())) / max(1, len(exact))


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * len(values))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def per_project(indexes: list[VectorIndex], queries: list[tuple[int, np.ndarray]], label: str) -> None:
    own = {project: VectorIndex(indexes[project].vectors, "projected") for project, _ in queries}
    for index in own.values():
        index.projection()  # fitted on the project's own vectors, as a projected project's is
    for strategy in ("exact", "projected"):
        times, recalls = [], []
        for project, query in queries:
            index = own[project] if strategy == "projected" else indexes[project]
            exact_rows, _ = VectorIndex(index.vectors, "exact").nearest(query, 10)
            started = time.process_time()
            rows, _ = index.nearest(query, 10)
            times.append(time.process_time() - started)
            recalls.append(recall(rows, exact_rows))
        print(f"{label} {strategy:9s}: CPU p50 {ms(statistics.median(times))} ms, "
              f"p95 {ms(sorted(times)[int(0.95 * len(times))])} ms, recall@10 {statistics.mean(recalls):.4f}")


def everywhere(indexes: list[VectorIndex], queries: list[np.ndarray], fanout: int) -> None:
    exact_t, route_t, recalls = [], [], []
    for query in queries:
        started = time.process_time()
        exact = sorted(((float(sim), p, int(row)) for p, index in enumerate(indexes)
                        for row, sim in zip(*VectorIndex(index.vectors).nearest(query, 10), strict=True)),
                       reverse=True)[:10]
        exact_t.append(time.process_time() - started)
        started = time.process_time()
        best = np.array([index.best(query) for index in indexes])
        chosen = np.argsort(-best)[:fanout]
        routed = sorted(((float(sim), int(p), int(row)) for p in chosen
                         for row, sim in zip(*indexes[p].nearest(query, 10), strict=True)), reverse=True)[:10]
        route_t.append(time.process_time() - started)
        recalls.append(len({(p, r) for _, p, r in exact} & {(p, r) for _, p, r in routed}) / 10)
    print(f"*: CPU time of an exact scan of every project p50 {ms(statistics.median(exact_t))} ms; "
          f"routed (fan-out "
          f"{fanout}) p50 {ms(statistics.median(route_t))} ms, p95 {ms(p95(route_t))}"
          f" ms, recall@10 of the global top 10 {statistics.mean(recalls):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--fanout", default="4,8")
    parser.add_argument("--real", type=Path, action="append", default=[])
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    org = Organisation(args.seed)
    if args.chunks:
        synthetic(org, args)
    for path in args.real:  # 100 rows held out as the questions, searched among the others
        vectors = np.load(path).astype(np.float32)
        held = org.rng.permutation(len(vectors))
        index = VectorIndex(np.ascontiguousarray(vectors[held[100:]]))
        per_project([index], [(0, vectors[row]) for row in held[:100]], f"real {path.name} ({len(index):,})")


def synthetic(org: Organisation, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    planned = sizes(args.chunks, args.projects, org.rng)
    indexes = [VectorIndex(project_vectors(org, count)) for count in planned]
    print(f"generated {sum(map(len, indexes)):,} vectors in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    for index in indexes:
        index.projection()
    print(f"projections for routing made in {time.perf_counter() - started:.1f} s (one shared fit)")
    queries = []
    for _ in range(args.questions):
        project = int(org.rng.integers(len(indexes)))
        row = int(org.rng.integers(len(indexes[project])))
        queries.append((project, unit(indexes[project].vectors[row] + 0.6 * org.noise(1)[0])))
    large = [(p, unit(indexes[p].vectors[int(org.rng.integers(len(indexes[p])))] + 0.6 * org.noise(1)[0]))
             for p in range(len(indexes)) if len(indexes[p]) >= 20_000 for _ in range(20)]
    per_project(indexes, large, "projects ≥ 20k")
    for fanout in map(int, args.fanout.split(",")):
        everywhere(indexes, [q for _, q in queries[:60]], fanout)


if __name__ == "__main__":
    if "OPENBLAS_NUM_THREADS" not in os.environ:  # one BLAS thread per call, as `ragqa serve` runs
        os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        os.execv(sys.executable, [sys.executable, *sys.argv])
    main()
