"""Quality on real users' questions (bench/questions/real/), each project at its set's commit.

    python bench/real.py --clones DIR --storage DIR --ingest          # clone, check out, ingest
    python bench/real.py --clones DIR --storage DIR                   # every set, defaults
    python bench/real.py --storage DIR --split heldout --misses       # held-out half, its misses
    python bench/real.py --storage DIR --split tune --set lexical_weight=1.5

Every set's header names its repository, commit, language and split: `tune` sets may guide a
default, `heldout` sets never do (they only report). `--ingest` clones each repository into
`--clones/<owner>__<name>` (from GitHub, or from `--from owner/name=PATH` for a local copy),
checks out the set's commit and ingests it as project `<name>` with links to GitHub. Printed:
a row per set, pooled rows per language and per split, and with `--misses` every question of
the chosen sets not answered at rank 1 (and every unanswerable one answered).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from quality import COLUMNS, files_of, setting_change

from ragqa.answer import Answer, Answerer
from ragqa.evaluation import QuestionResult, evaluate, load, summarise
from ragqa.settings import Settings

REAL = Path(__file__).resolve().parent / "questions" / "real"


def headers(split: str) -> list[tuple[Path, dict[str, Any]]]:
    """The real question sets of `split` ("tune", "heldout" or "all") with their headers."""
    found = []
    for path in sorted(REAL.glob("*.jsonl")):
        header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        if split in ("all", header["split"]):
            found.append((path, header))
    return found


def project_name(header: dict[str, Any]) -> str:
    return str(header["repo"]).split("/")[-1]


def ingest(sets: list[tuple[Path, dict[str, Any]]], clones: Path, storage: Path,
           local: dict[str, str]) -> None:
    """Clone (once), check out each set's commit, and ingest it (only what changed is embedded)."""
    clones.mkdir(parents=True, exist_ok=True)
    for _, header in sets:
        repo, commit = header["repo"], header["commit"]
        work = clones / repo.replace("/", "__")
        if not work.exists():
            origin = local.get(repo, f"https://github.com/{repo}")
            subprocess.run(["git", "clone", "-q", "--no-checkout", origin, str(work)], check=True)
        subprocess.run(["git", "-C", str(work), "checkout", "-q", "--detach", commit], check=True)
        print(f"ingesting {repo} at {commit[:10]}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "ragqa", "ingest", str(work), "--name", project_name(header),
                        "--web-url", f"https://github.com/{repo}"], check=True,
                       env={**os.environ, "RAGQA_STORAGE_DIR": str(storage)})


def run(sets: list[tuple[Path, dict[str, Any]]], storage: Path, changes: dict[str, Any],
        misses: bool) -> None:
    """A row per set, pooled rows per language and per split, and the misses if asked."""
    settings = Settings(storage_dir=storage, llm="none", _env_file=None, **changes)  # type: ignore[call-arg]
    answerer = Answerer(settings)
    print("| set | split | n | " + " | ".join(COLUMNS) + " |")
    print("|---|---|---|" + "---|" * len(COLUMNS))
    by_language: dict[str, list[QuestionResult]] = defaultdict(list)
    by_split: dict[str, list[QuestionResult]] = defaultdict(list)
    missed: list[str] = []
    for path, header in sets:
        project = project_name(header)

        def ask(question: str, project: str = project) -> Answer:
            return answerer.ask(question, project)

        question_set = load(path)
        report = evaluate(question_set, ask, files_of(answerer, project))
        _row(f"{header['repo']} ({header['language']})", header["split"], report.overall)
        by_language[header["language"]].extend(report.questions)
        by_split[header["split"]].extend(report.questions)
        texts = {question.id: question.question for question in question_set.questions}
        missed += [_miss(result, texts[result.id]) for result in report.questions
                   if (result.answerable and result.rank != 1) or (not result.answerable and result.answered)]
    for language, results in sorted(by_language.items()):
        _row(f"**{language}**", "pooled", summarise(results))
    for split, results in sorted(by_split.items()):
        _row(f"**all {split}**", "pooled", summarise(results))
    if misses:
        print("\nMisses (rank of the first gold source; first three sources):")
        print("\n".join(missed))


def _miss(result: QuestionResult, question: str) -> str:
    title = question.splitlines()[0][:90] if question else ""
    what = f"rank {result.rank}" if result.answerable else "answered (should decline)"
    return f"- {result.id} {what}: {title!r} → {', '.join(result.sources[:3])}"


def _row(name: str, split: str, figures: dict[str, float]) -> None:
    cells = [f"{figures[c]:.0f}" if c in ("invalid_links", "altered_quotes") and c in figures
             else f"{figures[c]:.3f}" if c in figures else "–" for c in COLUMNS]
    print(f"| {name} | {split} | {figures.get('questions', 0):.0f} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--clones", type=Path, help="where --ingest clones the repositories")
    parser.add_argument("--ingest", action="store_true", help="clone and ingest every set's project first")
    parser.add_argument("--from", dest="local", action="append", default=[], metavar="OWNER/NAME=PATH",
                        help="clone this repository from a local copy (repeatable)")
    parser.add_argument("--split", choices=["all", "tune", "heldout"], default="all")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="only the sets of these projects (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="a settings change for one run (repeatable)")
    parser.add_argument("--misses", action="store_true", help="list the questions missed at rank 1")
    args = parser.parse_args()
    sets = [(path, header) for path, header in headers(args.split)
            if not args.only or project_name(header) in args.only]
    if args.ingest:
        if args.clones is None:
            parser.error("--ingest needs --clones")
        ingest(sets, args.clones, args.storage, dict(item.split("=", 1) for item in args.local))
    run(sets, args.storage, dict(setting_change(item) for item in args.set), args.misses)


if __name__ == "__main__":
    main()
