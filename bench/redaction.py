"""Secrets redaction on documentation (not a test): how many lines of a project's docs change.

    python bench/redaction.py PATH_TO_REPO [PATH_TO_REPO ...]   # a checkout or a bare mirror

Reads every Markdown, reStructuredText and text file at HEAD (what `ragqa ingest` would read as
docs), redacts it as an ingest does, and prints each changed line as stored (the marker in the
secret's place) so a reader can judge which are real secrets and which are documentation
examples misread as secrets (false positives). Figures: docs/quality.md, "Secrets redaction".
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from ragqa.sources.secrets import redact

DOCS = (".md", ".markdown", ".rst", ".txt")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          errors="replace").stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", type=Path, nargs="+")
    args = parser.parse_args()
    print("| repo | docs files | lines changed |")
    print("|---|---|---|")
    changed_lines: list[str] = []
    for repo in args.repos:
        paths = [path for path in git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
                 if path.lower().endswith(DOCS)]
        changed = 0
        label = repo.resolve().parent.name if repo.name == "repo" else repo.resolve().name
        for path in paths:
            text = git(repo, "show", f"HEAD:{path}")
            after = redact(path, text).text
            for number, (old, new) in enumerate(zip(text.split("\n"), after.split("\n"), strict=True), 1):
                if old != new:
                    changed += 1
                    changed_lines.append(f"{label} {path}:{number}: {new.strip()[:140]}")
        print(f"| {repo} | {len(paths)} | {changed} |")
    print()
    print("\n".join(changed_lines))


if __name__ == "__main__":
    main()
