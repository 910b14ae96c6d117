"""Serve the synthetic organisation of `bench/org.py` (not a test): start-up, p50s, RSS, recall.

    nice -n 10 python bench/org_serve.py --storage ORG_STORAGE [--questions 100]
    RAGQA_CHROMA_URL=http://127.0.0.1:8000 python bench/org_serve.py --storage ...   # Chroma server

In one process, with the real `Answerer` (extractive, the bundled model embedding each question):
the time to open every project (what `ragqa serve` does before `/readyz`), the process's RSS
then, one-project questions (each to its own project) and questions to `*`, p50/p95 — `*` with
routing (`RAGQA_ALL_PROJECTS_FANOUT`, default) and with every project searched (fan-out 0).

Recall, with each question's generated vector in place of the model's (the stored vectors are
generated, so only they make dense search meaningful): per project, the top 10 of the projected
scan and of Chroma's HNSW (`collection.query`) against exact search; for `*`, the share of the
full fan-out's top 10 sources the routed answer keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ragqa.answer import Answerer
from ragqa.index.vectors import VectorIndex, unit
from ragqa.retrieve import ProjectIndex
from ragqa.settings import Settings


class Lookup:
    """The generated vector of each benchmark question, as an embedder."""

    name = "bench-lookup"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def timed(call: Any) -> tuple[float, float]:
    """Wall and CPU milliseconds of `call` (the CPU time is this process's: on a shared machine
    it is the steadier figure)."""
    started, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


def p(values: list[float], share: float) -> float:
    return round(sorted(values)[min(len(values) - 1, int(share * len(values)))], 1)


def line(label: str, times: list[tuple[float, float]]) -> None:
    wall, cpu = [wall for wall, _ in times], [cpu for _, cpu in times]
    print(f"{label}: wall p50 {p(wall, 0.5)} ms, p95 {p(wall, 0.95)} ms; CPU p50 {p(cpu, 0.5)} ms, "
          f"p95 {p(cpu, 0.95)} ms ({len(times)} questions)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--everywhere", type=int, default=30, help="questions asked of `*`")
    parser.add_argument("--fanouts", default="8,16", help="values of RAGQA_ALL_PROJECTS_FANOUT to measure")
    parser.add_argument("--only", type=int, default=0, help="the first N projects instead of `*`")
    args = parser.parse_args()
    questions = [json.loads(text) for text in (args.storage / "questions.jsonl").open()]
    rng = np.random.default_rng(1)
    questions = [questions[int(i)] for i in rng.permutation(len(questions))]
    settings = Settings(storage_dir=args.storage, llm="none")
    print(f"vector search {settings.vector_search}, exact up to {settings.exact_search_max_chunks:,}, "
          f"fan-out {settings.all_projects_fanout}, chroma {settings.chroma_url or 'embedded'}", flush=True)
    started = time.perf_counter()
    answerer = Answerer(settings, llm=None)
    choice: str | list[str] = sorted(answerer.registry.names())[: args.only] if args.only else "*"
    indexes = answerer.projects_for(choice)
    names = {index.record.name for index in indexes}
    questions = [q for q in questions if q["project"] in names][: args.questions]
    chunks = sum(len(index.memory.ids) if index.memory else index.record.chunk_count for index in indexes)
    print(f"opened {len(indexes)} projects, {chunks:,} chunks, in {time.perf_counter() - started:.0f} s; "
          f"RSS {rss_mb():,.0f} MB", flush=True)
    started = time.perf_counter()
    for index in indexes:
        if index.memory is not None and index.memory.search.strategy == "projected":
            index.memory.search.projection()
    print(f"projections fitted in {time.perf_counter() - started:.1f} s; RSS {rss_mb():,.0f} MB", flush=True)
    by_name = {index.record.name: index for index in indexes}
    answerer.ask(questions[0]["question"], questions[0]["project"])  # the model loaded
    line("one project", [timed(lambda q=q: answerer.ask(q["question"], q["project"])) for q in questions])
    everywhere = questions[: args.everywhere]
    variants = {fanout: sharing(answerer, fanout) for fanout in map(int, args.fanouts.split(","))}
    for fanout, variant in variants.items():
        line(f"* (fan-out {fanout})", [timed(lambda q=q, v=variant: v.ask(q["question"], choice))
                                       for q in everywhere])
    full = sharing(answerer, 0)
    line("* (every project)", [timed(lambda q=q: full.ask(q["question"], choice)) for q in everywhere[:10]])
    print(f"RSS {rss_mb():,.0f} MB, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB",
          flush=True)
    recall(questions, by_name, variants, full, choice)


def sharing(answerer: Answerer, fanout: int) -> Answerer:
    """Another answerer with this fan-out over the same loaded projects (not loaded twice)."""
    other = Answerer(answerer.settings.model_copy(update={"all_projects_fanout": fanout}), llm=None)
    other._projects = answerer._projects
    return other


def recall(questions: list[dict[str, Any]], by_name: dict[str, ProjectIndex], variants: dict[int, Answerer],
           full: Answerer, choice: str | list[str]) -> None:
    lookup = Lookup({q["question"]: q["vector"] for q in questions})
    for index in by_name.values():
        index.embedder = lookup
    for variant in [*variants.values(), full]:
        variant.retriever.embedder = lookup  # type: ignore[assignment]
    projected, hnsw, hnsw_ms = [], [], []
    for q in questions:
        index = by_name[q["project"]]
        if index.memory is None:
            continue
        query = unit(q["vector"])
        exact = VectorIndex(index.memory.search.vectors, "exact").nearest(query, 10)[0]
        approx = VectorIndex(index.memory.search.vectors, "projected")
        approx._basis, approx._projected = index.memory.search._basis, index.memory.search._projected
        projected.append(overlap(approx.nearest(query, 10)[0], exact))
        started = time.perf_counter()
        found = index.store.collection.query(query_embeddings=[query.tolist()], n_results=10, include=[])
        hnsw_ms.append((time.perf_counter() - started) * 1000)
        rows = {chunk_id: row for row, chunk_id in enumerate(index.memory.ids)}
        hnsw.append(overlap(np.array([rows[i] for i in found["ids"][0] if i in rows]), exact))
    if not projected:
        print("recall: no project is held in memory (RAGQA_MEMORY_SEARCH_MAX_CHUNKS), nothing to compare")
        return
    print(f"recall@10 against exact, per project: projected scan {statistics.mean(projected):.4f}, "
          f"Chroma HNSW {statistics.mean(hnsw):.4f} (query p50 {p(hnsw_ms, 0.5)} ms)", flush=True)
    every = {q["question"]: places(full.ask(q["question"], choice).sources) for q in questions[:30]}
    for fanout, variant in variants.items():
        kept, own = [], 0
        for q in questions[:30]:
            routed = variant.ask(q["question"], choice).sources
            wanted = every[q["question"]]
            kept.append(len(wanted & places(routed)) / max(1, len(wanted)))
            own += any(source.project == q["project"] for source in routed)
        print(f"* (fan-out {fanout}): keeps {statistics.mean(kept):.4f} of the full fan-out's top-10; "
              f"the asked chunk's own project is among the sources for {own} of {len(kept)}", flush=True)


def places(sources: list[Any]) -> set[tuple[str, str, int]]:
    return {(source.project, source.path, source.start_line) for source in sources[:10]}


def overlap(found: np.ndarray, exact: np.ndarray) -> float:
    return len(set(found.tolist()) & set(exact.tolist())) / max(1, len(exact))


if __name__ == "__main__":
    if "OPENBLAS_NUM_THREADS" not in os.environ:  # one BLAS thread per call, as `ragqa serve` runs
        os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                          HF_HUB_OFFLINE="1")
        os.execv(sys.executable, [sys.executable, *sys.argv])
    main()
