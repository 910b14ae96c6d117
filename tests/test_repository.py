"""The repository a newcomer clones: no package archives, no big files, nothing from one machine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHIVES = re.compile(r"\.(whl|egg|tar\.gz|tgz|tar\.bz2|tar\.xz|zip|7z|rar|jar)$", re.IGNORECASE)
MAX_BYTES = 1_000_000


def tracked() -> list[str]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_no_package_archive_is_tracked() -> None:
    assert [name for name in tracked() if ARCHIVES.search(name)] == []


def test_no_tracked_file_is_over_one_megabyte() -> None:
    sizes = {name: (ROOT / name).stat().st_size for name in tracked() if (ROOT / name).is_file()}
    assert {name: size for name, size in sizes.items() if size > MAX_BYTES} == {}


def test_a_license_is_shipped() -> None:
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")


def test_nothing_points_outside_the_repository() -> None:
    """A folder beside a development checkout (../shared) exists on no user's machine."""
    outside = re.compile(r"\.\./shared|/work/|/home/\w+")
    product = [name for name in tracked() if not name.startswith("tests/")
               and name.endswith((".py", ".md", ".toml", ".yml", ".yaml", ".j2", ".cfg", ".txt"))]
    hits = [name for name in product if outside.search((ROOT / name).read_text(encoding="utf-8"))]
    assert hits == []


def test_the_example_question_set_is_shipped() -> None:
    assert (ROOT / "examples" / "questions" / "psf__requests.jsonl").is_file()
    assert (ROOT / "examples" / "checks.yaml").is_file()
