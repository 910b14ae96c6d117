"""The README and the documentation site: short, built strictly, generated reference current, and
every shell block marked runnable run as written against the real install."""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from markdown_it import MarkdownIt

from ragqa.settings import Settings
from tests.conftest import GitRepo

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- runnable"  # an HTML comment right before a ```bash block marks it runnable
PLACEHOLDER = "path/to/your/project"  # the tour's `cd` target: the test's repository


def runnable_blocks(page: Path) -> list[str]:
    """The shell blocks of `page` that directly follow a runnable marker."""
    tokens = MarkdownIt().parse(page.read_text(encoding="utf-8"))
    return [token.content for before, token in itertools.pairwise(tokens)
            if before.type == "html_block" and before.content.startswith(MARKER)
            and token.type == "fence" and token.info.strip() in ("bash", "sh", "shell")]


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [(page.relative_to(ROOT).as_posix(), number, block) for page in PAGES
          for number, block in enumerate(runnable_blocks(page), 1)]


def config_reference() -> ModuleType:
    script = ROOT / "scripts" / "config_reference.py"
    spec = importlib.util.spec_from_file_location("config_reference", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


def test_the_readme_test_command_is_what_ci_runs() -> None:
    command = "pip install -e '.[dev]' && python -m pytest -q"
    assert command in (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[dev]'" in ci and ci.rstrip().endswith("python -m pytest -q")


def test_every_setting_is_described() -> None:
    assert [name for name, field in Settings.model_fields.items() if not field.description] == []


def test_the_configuration_reference_is_current() -> None:
    reference = config_reference()
    page = reference.PAGE.read_text(encoding="utf-8")
    assert reference.rendered(page) == page, "run: python scripts/config_reference.py"
    for name, field in Settings.model_fields.items():
        assert f"`{reference.env_name(name, field)}`" in page


def test_some_blocks_are_runnable() -> None:
    assert {page for page, _, _ in BLOCKS} >= {"README.md", "docs/getting-started.md"}


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """Broken links, missing anchors and pages left out of the nav all fail the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f",
                            str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                           capture_output=True, text=True, timeout=300, check=False, env=env)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "configuration" / "index.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted({page for page, _, _ in BLOCKS}))
def test_runnable_blocks_run_as_written(page: str, repo: GitRepo, cli_env: dict[str, str]) -> None:
    """Run a page's runnable blocks in order (a later block may use what an earlier one indexed)
    with bash in a small git repository, on the installed `ragqa` command."""
    ragqa = shutil.which("ragqa", path=str(Path(sys.executable).parent))
    assert ragqa, "the ragqa command is not installed beside this Python"
    env = {**cli_env, "PATH": f"{Path(ragqa).parent}{os.pathsep}{cli_env.get('PATH', '')}"}
    for _, number, block in [entry for entry in BLOCKS if entry[0] == page]:
        script = "set -euo pipefail\n" + block.replace(PLACEHOLDER, str(repo.root))
        done = subprocess.run(["bash", "-c", script], cwd=repo.root, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        assert done.returncode == 0, f"{page} block {number}:\n{block}\n{done.stderr[-2000:]}"
        assert "error:" not in done.stderr, done.stderr
