"""bench/localize.py's readers of MULocBench and Multi-SWE-bench rows, on a real git repo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.localize import fixed_by_a_child, from_row, load, select


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


def _repo(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "acme+tool"
    repo.mkdir()
    _git(repo, "init", "-q")
    base = _commit(repo, {"tool/core.py": "def run():\n    return 1\n", "README.md": "x\n"}, "base")
    fix = _commit(repo, {"tool/core.py": "def run():\n    return 2\n"}, "fix")
    return repo, base, fix


def _muloc(instance_id: str, commit: str, paths: list[str]) -> dict[str, object]:
    location = {"base_commit": commit, "files": [{"path": path, "status": "modified", "Loc": {}}
                                                  for path in paths]}
    return {"instance_id": instance_id, "repo": "acme/tool", "base_commit": commit,
            "problem_statement": "run returns 1", "patch": "", "file_loc": str(location)}


def test_a_mulocbench_row_is_kept_only_when_a_child_of_its_base_is_the_fix(tmp_path: Path) -> None:
    repo, base, fix = _repo(tmp_path)
    rows = [from_row(_muloc("a-1", base, ["tool/core.py"])),       # the child changes exactly this
            from_row(_muloc("a-2", fix, ["tool/core.py"])),        # base is the fix itself: no child
            from_row(_muloc("a-3", base, ["tool/core.py", "README.md"]))]  # the child changes less
    kept = fixed_by_a_child(rows, {"acme/tool": repo})
    assert [row.instance_id for row in kept] == ["a-1"]
    assert kept[0].files == ["tool/core.py"]
    assert "diff --git a/tool/core.py b/tool/core.py" in kept[0].patch  # read from the child


def test_a_multi_swe_bench_row_asks_the_resolved_issues_and_its_gold_is_the_fix_patch(tmp_path: Path) -> None:
    patch = ("diff --git a/src/main/java/A.java b/src/main/java/A.java\n--- a/src/main/java/A.java\n"
             "+++ b/src/main/java/A.java\n@@ -1 +1 @@\n-a\n+b\n")
    row = {"org": "acme", "repo": "lib", "number": "7", "title": "Fix it", "body": "Fixes #3",
           "base": str({"label": "acme:main", "ref": "main", "sha": "ab" * 20}),
           "resolved_issues": str([{"number": 3, "title": "NPE in A", "body": "stack trace"}]),
           "fix_patch": patch, "test_patch": "", "instance_id": "acme__lib-7"}
    path = tmp_path / "acme__lib_dataset.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [instance] = load(path)
    assert (instance.repo, instance.base_commit, instance.language) == ("acme/lib", "ab" * 20, "Java")
    assert instance.problem_statement == "NPE in A\n\nstack trace"
    assert fixed_by_a_child([instance], {}) == [instance]  # gold from the patch: no child needed


def test_the_independent_check_repositories_are_in_no_split_but_check(tmp_path: Path) -> None:
    rows = [from_row(_muloc(f"r-{index}", "0" * 40, ["x.py"])) for index in range(3)]
    rows[0].repo, rows[1].repo, rows[2].repo = "nvbn/thefuck", "fasterxml/jackson-core", "psf/requests"
    assert [row.repo for row in select(rows, "all", None, None)] == ["psf/requests"]
    assert [row.repo for row in select(rows, "tuning", None, None)] == []
    checked = {row.repo for row in select(rows, "check", None, None)}
    assert checked == {"nvbn/thefuck", "fasterxml/jackson-core"}


def test_a_swe_bench_row_reads_as_before() -> None:
    row = {"instance_id": "acme__tool-1", "repo": "acme/tool", "base_commit": "c" * 40,
           "problem_statement": "run fails", "created_at": "2020-01-01",
           "patch": "diff --git a/tool/core.py b/tool/core.py\n--- a/tool/core.py\n+++ b/tool/core.py\n"}
    instance = from_row(row)
    assert (instance.repo, instance.language, instance.needs_child, instance.files) == (
        "acme/tool", "Python", False, [])  # files come from the patch later, as before
    assert fixed_by_a_child([instance], {}) == [instance]
