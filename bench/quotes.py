"""The shape of offline answers' quotes on question sets (not a test): how many start or end
mid-paragraph or mid-statement, and how many are labelled otherwise than in References.

    python bench/quotes.py --storage STORAGE_DIR --project requests --root ./requests \
        --questions examples/questions/psf__requests.jsonl

A start is bad when the line above it is not blank and the quote does not open at a heading, a
list item or (in code) a definition, decorator or comment; an end is bad when the line below is
not blank and does not open such a thing (or, in code, close a bracket). `--show` lists them.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ragqa.answer import Answerer
from ragqa.evaluation import load
from ragqa.settings import Settings

QUOTE = re.compile(r"^\*\*\[([^\]#]+)#L(\d+)-L(\d+)\]\([^)]*\)\*\*(?: — (.*))?$", re.MULTILINE)
REFERENCE = re.compile(r"^- \[([^\]#]+)#L(\d+)-L(\d+)\]\([^)]*\)(?: — (.*))?$", re.MULTILINE)
LIST_ITEM = re.compile(r"^\s*([-*+]|\d{1,3}[.)])\s+")
UNDERLINE = re.compile(r"^[=\-~^]{3,}\s*$")
CODE_OPENS = re.compile(r"^\s*(@|async\s+def\b|def\b|class\b|func\b|fn\b|function\b|#|//|/\*|\"\"\"|\*)")
DOCS = (".md", ".rst", ".txt", ".mdx", ".adoc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--root", type=Path, required=True, help="a work tree at the indexed commit")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    answerer = Answerer(Settings(storage_dir=args.storage, llm="none", _env_file=None))  # type: ignore[call-arg]
    counts = {"quotes": 0, "bad_starts": 0, "bad_ends": 0, "labels_differ": 0}
    for question in load(args.questions).questions:
        if not question.gold:
            continue
        answer = answerer.ask(question.question, args.project)
        if answer.answered:
            for problem in problems(answer.answer, args.root, counts):
                if args.show:
                    print(question.id, problem)
    print(counts)


def problems(answer: str, root: Path, counts: dict[str, int]) -> list[str]:
    """What is wrong with each quote of `answer` (and `counts` updated)."""
    references = [(path.replace("\\", ""), label or "") for path, _, _, label in REFERENCE.findall(answer)]
    found: list[str] = []
    for path, start_text, end_text, label in QUOTE.findall(answer):
        path, start, end = path.replace("\\", ""), int(start_text), int(end_text)
        lines = (root / path).read_text(encoding="utf-8", errors="replace").split("\n")
        counts["quotes"] += 1
        before = lines[start - 2] if start > 1 else ""
        after = lines[end] if end < len(lines) else ""
        if before.strip() and not _opens(lines, start - 1, path):
            counts["bad_starts"] += 1
            found.append(f"starts mid-way: {path}#L{start}: {lines[start - 1].strip()[:60]}")
        if after.strip() and not _opens(lines, end, path) and after.strip() not in (")", "]", "}"):
            counts["bad_ends"] += 1
            found.append(f"ends mid-way: {path}#L{end}: {lines[end - 1].strip()[:60]}")
        reference = next((item for item in references if item[0] == path), None)
        if reference is not None:
            references.remove(reference)
            if reference[1] != (label or ""):
                counts["labels_differ"] += 1
                found.append(f"label {label!r} vs References {reference[1]!r}")
    return found


def _opens(lines: list[str], row: int, path: str) -> bool:
    """Whether row `row` (0-based) opens a paragraph-like unit."""
    line = lines[row]
    if not path.endswith(DOCS):
        return bool(CODE_OPENS.match(line))
    below = lines[row + 1] if row + 1 < len(lines) else ""
    return bool(LIST_ITEM.match(line) or line.startswith(("#", "```")) or UNDERLINE.match(lines[row - 1])
                or (UNDERLINE.match(below) and line.strip()))


if __name__ == "__main__":
    main()
