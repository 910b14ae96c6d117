"""Generated question sets and tuning, measured (not a test): for each project, write a set with
`ragqa questions` (offline), score ragqa on it, tune on it, and compare default and tuned
settings on the project's *hand-written* set (bench/quality.py's SETS).

    python bench/generated.py --storage STORAGE_DIR [--count 120] [--projects requests,httpx]

A second table tunes on each hand-written set itself (`ragqa tune`'s own split) and reports its
checking part before and after.

The tuned values are stored in the project's record (as `ragqa tune` does) and reset at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.quality import SETS
from ragqa.answer import Answerer
from ragqa.evaluation import evaluate, load, parse_set, summarise
from ragqa.ingest import Ingester
from ragqa.questions import QuestionWriter
from ragqa.settings import Settings
from ragqa.tune import Figures, reset_project, tune_project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--projects", default="requests,httpx,starlette")
    args = parser.parse_args()
    settings = Settings(storage_dir=args.storage, llm="none", _env_file=None)  # type: ignore[call-arg]
    figures = "hit@1 / MRR / abst. / answer rate"
    print("| project | generated | answerable | duplicates removed | gen hit@1 | gen hit@5 "
          f"| settings changed | hand-written set | default {figures} | tuned {figures} |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for project in args.projects.split(","):
        measure(settings, project, args.count)
    print("\n| hand-written set | fitted on / checked on | settings changed "
          "| check part before: hit@1 / MRR / abst. / answer rate | after |")
    print("|---|---|---|---|---|")
    for project in args.projects.split(","):
        self_tuned(settings, project)


def measure(settings: Settings, project: str, count: int) -> None:
    ingester = Ingester(settings)
    reset_project(ingester, project)
    answerer = Answerer(settings, llm=None)
    hand = [(name, path) for name, name_project, path, _ in SETS if name_project == project]
    default = {name: _figures(answerer, project, path) for name, path in hand}
    written = QuestionWriter(settings, None).write(answerer.project(project), count, "offline")
    generated = parse_set(written.eval_jsonl(project), "generated")
    on_generated = summarise(evaluate(generated, lambda q: answerer.ask(q, project), None).questions)
    tuning = tune_project(answerer, ingester, project, generated)
    tuned_answerer = Answerer(settings, llm=None)
    answerable = sum(bool(item.gold) for item in written.questions)
    changed = ", ".join(f"{key}={value}" for key, value in tuning.settings.items()) or "none"
    for name, path in hand:
        print(f"| {project} | {len(written.questions)} | {answerable} | {written.duplicates_removed} | "
              f"{on_generated.get('hit@1', 0):.3f} | {on_generated.get('hit@5', 0):.3f} | {changed} | "
              f"{name} | "
              f"{default[name]} | {_figures(tuned_answerer, project, path)} |", flush=True)
    reset_project(ingester, project)


def self_tuned(settings: Settings, project: str) -> None:
    """`ragqa tune` on a hand-written set itself: its own split, its checking part reported."""
    ingester = Ingester(settings)
    for name, name_project, path, _ in SETS:
        question_set = load(path)
        if name_project != project or len(question_set.questions) < 20:
            continue
        report = tune_project(Answerer(settings, llm=None), ingester, project, question_set)
        changed = ", ".join(f"{key}={value}" for key, value in report.settings.items()) or "none"
        print(f"| {name} | {report.fit_questions} / {report.check_questions} | {changed} | "
              f"{_cells(report.before)} | {_cells(report.after)} |", flush=True)
        reset_project(ingester, project)


def _cells(figures: Figures) -> str:
    values = [figures.hit_at_1, figures.mrr, figures.abstention, figures.answer_rate]
    return " / ".join(f"{value:.3f}" if value is not None else "–" for value in values)


def _figures(answerer: Answerer, project: str, path: Path) -> str:
    figures = summarise(evaluate(load(path), lambda q: answerer.ask(q, project), None).questions)
    cells = [figures.get(key) for key in ("hit@1", "mrr@10", "abstention", "answer_rate")]
    return " / ".join(f"{value:.3f}" if value is not None else "–" for value in cells)


if __name__ == "__main__":
    main()
