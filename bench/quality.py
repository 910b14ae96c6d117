"""Retrieval quality on several question sets, and the ablation behind the defaults (not a test).

    python bench/quality.py --storage STORAGE_DIR                      # every set, defaults
    python bench/quality.py --storage DIR --ablation                   # the table in docs/quality.md
    python bench/quality.py --storage DIR --set lexical_weight=1.5 --set 'intent_docs_bias={"usage": 1.4}'
    python bench/quality.py --storage DIR --sets held-out --by kind    # per kind / style too

The sets and the projects they are asked of are listed in `SETS`; build the projects first
(`ragqa ingest`, see docs/quality.md). Sets marked `held-out` are never used to choose a
default: they only check that what helps on the others is not tuned to them. All variants
change query-time settings only, so they share one index.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ragqa.answer import Answer, Answerer
from ragqa.evaluation import QuestionResult, evaluate, load, summarise
from ragqa.settings import Settings

HERE = Path(__file__).resolve().parent
# The dev set ships in examples/; a team checkout may keep a newer copy beside the repository.
_BESIDE = HERE.parents[1] / "shared" / "eval" / "psf__requests.jsonl"
DEV_SET = _BESIDE if _BESIDE.is_file() else HERE.parent / "examples" / "questions" / "psf__requests.jsonl"
# (name, project, question file, role): role "tuning" sets may guide defaults, "held-out" never.
SETS: list[tuple[str, str, Path, str]] = [
    ("requests (dev)", "requests", DEV_SET, "tuning"),
    ("requests plain-English unanswerable", "requests",
     HERE / "questions" / "psf__requests-unanswerable.jsonl", "tuning"),
    ("requests unrelated products and capabilities", "requests",
     HERE / "questions" / "psf__requests-unrelated.jsonl", "tuning"),
    ("httpx", "httpx", HERE / "questions" / "encode__httpx.jsonl", "tuning"),
    ("starlette", "starlette", HERE / "questions" / "encode__starlette.jsonl", "tuning"),
    ("starlette unrelated products and capabilities", "starlette",
     HERE / "questions" / "encode__starlette-unrelated.jsonl", "tuning"),
    ("click", "click", HERE / "questions" / "pallets__click.jsonl", "held-out"),
    ("sqlalchemy", "sqlalchemy", HERE / "questions" / "sqlalchemy__sqlalchemy.jsonl", "held-out"),
]
COLUMNS = ["hit@1", "hit@5", "mrr@10", "line_overlap@5", "answer_rate", "abstention",
           "invalid_links", "altered_quotes", "p50_ms"]
ABLATION: list[tuple[str, dict[str, Any]]] = [
    ("all four signals off (dense + BM25, tests/changelogs ×0.5)", {
        "symbol_weight": 0.0, "field_weights": {"body": 1.0}, "intent_docs_bias": {},
        "file_evidence": 0.0, "max_sources_per_file": 0}),
    ("**defaults**", {}),
    ("− symbol table (no definitions ranking)", {"symbol_weight": 0.0}),
    ("+ field weights path, symbol, heading ×2 (BM25F)", {"field_weights": {
        "body": 1.0, "path": 2.0, "symbol": 2.0, "heading": 2.0}}),
    ("− intent (no docs/code shift)", {"intent_docs_bias": {}}),
    ("− file evidence", {"file_evidence": 0.0}),
    ("− at most 2 sources per file", {"max_sources_per_file": 0}),
    ("file evidence 0.2", {"file_evidence": 0.2}),
    ("how-to docs bias 2.0, where 0.5", {"intent_docs_bias": {
        "usage": 2.0, "locate": 0.5, "behaviour": 1.0, "explain": 1.0, "other": 1.2}}),
    ("dense off (BM25 alone)", {"dense_weight": 0.0}),
    ("dense off, + field weights ×2 (BM25F alone)", {"dense_weight": 0.0, "field_weights": {
        "body": 1.0, "path": 2.0, "symbol": 2.0, "heading": 2.0}}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--sets", choices=["all", "tuning", "held-out"], default="all")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="a settings change for one run (repeatable)")
    parser.add_argument("--ablation", action="store_true", help="run the ablation variants")
    parser.add_argument("--by", choices=["kind", "style"], help="also print figures by kind or style")
    parser.add_argument("--misses", action="store_true", help="list questions not answered at rank 1")
    parser.add_argument("--only", action="append", default=[], metavar="PROJECT",
                        help="only the sets asked of these projects (repeatable)")
    args = parser.parse_args()
    changes = dict(setting_change(item) for item in args.set)
    sets = [entry for entry in SETS if (args.sets == "all" or entry[3] == args.sets)
            and (not args.only or entry[1] in args.only)]
    if args.ablation:
        ablation(args.storage, sets, changes)
        return
    print("| set | n | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    run(args.storage, sets, changes, args.by, args.misses)


def run(storage: Path, sets: list[tuple[str, str, Path, str]], changes: dict[str, Any],
        by: str | None = None, misses: bool = False, quiet: bool = False) -> list[QuestionResult]:
    """Ask every set; print a row per set (and pooled rows); return every question's result."""
    settings = Settings(storage_dir=storage, llm="none", _env_file=None, **changes)  # type: ignore[call-arg]
    answerer = Answerer(settings)
    pooled: dict[str, list[QuestionResult]] = {"tuning": [], "held-out": []}
    for name, project, path, role in sets:
        def ask(question: str, project: str = project) -> Answer:
            return answerer.ask(question, project)

        report = evaluate(load(path), ask, files_of(answerer, project))
        pooled[role].extend(report.questions)
        if quiet:
            continue
        _row(f"{name}{' (held out)' if role == 'held-out' else ''}", report.overall)
        groups = report.by_kind if by == "kind" else report.by_style if by == "style" else {}
        for group, figures in groups.items():
            _row(f"  {by} {group}", figures)
        for result in report.questions if misses else []:
            if (result.answerable and result.rank != 1) or (not result.answerable and result.answered):
                print(f"|   miss {result.id} rank {result.rank} | | {', '.join(result.sources[:3])} |")
    for role, results in pooled.items():
        if results and len(sets) > 1 and not quiet:
            _row(f"**all {role} sets**", summarise(results))
    return pooled["tuning"] + pooled["held-out"]


def ablation(storage: Path, sets: list[tuple[str, str, Path, str]], changes: dict[str, Any]) -> None:
    """One row per variant: MRR@10 and hit@1 on the tuning and held-out sets, MRR@10 by question
    kind and style over all sets, abstention and answer rate over all sets."""
    role_of = {question.id: role for _, _, path, role in sets for question in load(path).questions}
    print("| variant | tuning MRR | tuning hit@1 | held-out MRR | held-out hit@1 | code | docs | mixed "
          "| conceptual | identifier | abstention | answer rate |")
    print("|---|" + "---|" * 11)
    for label, variant in ABLATION:
        results = run(storage, sets, {**changes, **variant}, quiet=True)
        tuning = summarise([r for r in results if role_of[r.id] == "tuning"])
        held = summarise([r for r in results if role_of[r.id] == "held-out"])
        every = summarise(results)
        groups = [summarise([r for r in results if r.kind == kind]).get("mrr@10", 0.0)
                  for kind in ("code", "docs", "mixed")]
        groups += [summarise([r for r in results if r.answerable and r.style == style]).get("mrr@10", 0.0)
                   for style in ("conceptual", "identifier")]
        cells = [tuning.get("mrr@10", 0.0), tuning.get("hit@1", 0.0), held.get("mrr@10", 0.0),
                 held.get("hit@1", 0.0), *groups, every.get("abstention", 0.0), every.get("answer_rate", 0.0)]
        print(f"| {label} | " + " | ".join(f"{cell:.3f}" for cell in cells) + " |")


def files_of(answerer: Answerer, project: str) -> Any:
    """The project's files, to check links and quotes against (its mirror or local repo)."""
    from ragqa.evaluation import files_for

    return files_for(answerer.project(project).record, answerer.settings)


def _row(name: str, figures: dict[str, float]) -> None:
    cells = [f"{figures[c]:.0f}" if c in ("invalid_links", "altered_quotes") and c in figures
             else f"{figures[c]:.3f}" if c in figures else "–" for c in COLUMNS]
    print(f"| {name} | {figures.get('questions', 0):.0f} | " + " | ".join(cells) + " |")


def setting_change(item: str) -> tuple[str, Any]:
    """`KEY=JSON` of a --set option (a bare string when the value is not JSON)."""
    key, _, value = item.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


if __name__ == "__main__":
    main()
