"""Retrieval ablation (not a test): the dev set's metrics for variants of the retrieval method.

    python bench/quality.py --storage STORAGE_DIR --project NAME [--questions FILE.jsonl]

Each variant is the default settings with a few changed; the output is the Markdown table
kept in docs/quality.md. The index is built beforehand (`ragqa ingest`); all variants here
change only query-time settings, so they share it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ragqa.answer import Answerer
from ragqa.evaluation import evaluate, load
from ragqa.settings import Settings

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "psf__requests.jsonl"
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("dense only (over path · symbol · heading + text)",
     {"lexical_weight": 0.0, "secondary_weight": 1.0}),
    ("BM25 only (identifier-aware tokens)", {"dense_weight": 0.0, "secondary_weight": 1.0}),
    ("hybrid: reciprocal rank fusion of both", {"secondary_weight": 1.0}),
    ("BM25 only, tests/changelogs demoted ×0.5", {"dense_weight": 0.0}),
    ("**hybrid, tests/changelogs demoted ×0.5 (default)**", {}),
    ("hybrid + demoted, BM25 weight 1.5", {"lexical_weight": 1.5}),
    ("hybrid + demoted, dense weight 1.5", {"dense_weight": 1.5}),
    ("hybrid + demoted, RRF k = 20", {"rrf_k": 20}),
    ("hybrid + demoted ×0.25", {"secondary_weight": 0.25}),
    ("hybrid + demoted, 80 candidates per ranking", {"retrieve_candidates": 80}),
    ("hybrid + demoted, 20 candidates per ranking", {"retrieve_candidates": 20}),
]
COLUMNS = ["hit@1", "hit@5", "mrr@10", "line_overlap@5", "answer_rate", "abstention", "p50_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--embedder", default="local")
    args = parser.parse_args()
    question_set = load(args.questions)
    print("| method | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for label, changes in VARIANTS:
        settings = Settings(storage_dir=args.storage, llm="none", embedder=args.embedder,  # type: ignore[call-arg]
                            _env_file=None, **changes)
        answerer = Answerer(settings)
        report = evaluate(question_set, lambda q, a=answerer: a.ask(q, args.project), None)
        figures = report.overall
        print(f"| {label} | " + " | ".join(f"{figures.get(c, 0):.3f}" for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
