"""Docs drift: the docs name code, files, anchors and settings that a later commit removed or
renamed — `ragqa check --drift` finds each, quiet on healthy docs. Real git, real embedded Chroma."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragqa.answer import Answerer
from ragqa.drift import find_drift, github_slug
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo, run_cli

WEB = "https://github.com/acme/shop"
CART_PY = '''"""Carts."""
import os

CURRENCY = os.environ.get("SHOP_CURRENCY", "EUR")


class Cart:
    """A cart."""

    def add(self, sku):
        """Add an item."""


def checkout(cart):
    """Pay for a cart."""
'''
CLI_PY = '''"""The shop command."""
import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="shop")
    parser.add_argument("--currency")
    return parser.parse_args(argv)
'''
GUIDE_MD = """# Guide

Create a `shop.cart.Cart`, call `Cart.add()` for each item, then `shop.cart.checkout(cart)`.
Set `SHOP_CURRENCY` or run `shop --currency USD`. See [the API](api.md#the-cart) and
[the logo](images/logo.png). Your own code may call `my_app.run()` or use `LifespanManager`
and `requests.get`; those are not the project's and are never checked.

```python
from shop.cart import Cart, checkout
import shop.cart
```
"""
API_MD = "# API\n\n## The cart\n\nSee `shop.cart.Cart`.\n"
CHANGES_MD = "# Changes\n\n- 0.1: removed `shop.cart.old_function`.\n"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    built = GitRepo(tmp_path / "shop")
    built.write("shop/__init__.py", '"""Shop."""\n').write("shop/cart.py", CART_PY)
    built.write("shop/cli.py", CLI_PY)
    built.write("docs/guide.md", GUIDE_MD).write("docs/api.md", API_MD).write("CHANGES.md", CHANGES_MD)
    built.write("docs/images/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    built.commit("initial")
    return built


def _drift(repo: GitRepo, storage: Path) -> list[str]:
    settings = Settings(storage_dir=storage, llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), name="shop", web_url=WEB))
    index = Answerer(settings, llm=None).project("shop")
    return [f"{found.line} {found.kind} {found.reference}" for found in find_drift(index, settings)]


def test_healthy_docs_are_quiet_and_renames_are_caught(repo: GitRepo, tmp_path: Path) -> None:
    assert _drift(repo, tmp_path / "storage") == []  # the changelog's old name is history, not drift
    repo.write("shop/cart.py", CART_PY.replace("def checkout(", "def pay(").replace("def add(", "def put(")
               .replace("SHOP_CURRENCY", "SHOP_MONEY"))
    repo.write("shop/cli.py", CLI_PY.replace("--currency", "--money"))
    repo.write("docs/api.md", API_MD.replace("## The cart", "## Carts"))
    repo.git("rm", "-q", "docs/images/logo.png")
    repo.commit("rename")
    found = _drift(repo, tmp_path / "storage")
    assert found == [
        "3 name Cart.add()", "3 name shop.cart.checkout(cart)", "4 setting SHOP_CURRENCY",
        "4 option --currency", "4 anchor api.md#the-cart", "5 link images/logo.png",
        "9 import shop.cart.checkout"]


def test_the_cli_check_and_the_checks_file(repo: GitRepo, tmp_path: Path, onnx_dir: Path) -> None:
    env = {"RAGQA_STORAGE_DIR": str(tmp_path / "storage"), "RAGQA_ONNX_DIR": str(onnx_dir),
           "RAGQA_LLM": "none", "PATH": "/usr/bin:/bin"}
    assert run_cli(env, "ingest", str(repo.root), "--name", "shop", "--web-url", WEB).returncode == 0
    clean = run_cli(env, "check", "--drift", "shop")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    repo.write("shop/cart.py", CART_PY.replace("def checkout(", "def pay(")).commit("rename")
    assert run_cli(env, "ingest", "shop").returncode == 0
    junit = tmp_path / "drift.xml"
    failed = run_cli(env, "check", "--drift", "shop", "--json", "--junit", str(junit))
    assert failed.returncode == 1 and "1 of 1 checks failed" in failed.stderr
    [result] = json.loads(failed.stdout)["checks"]
    commit = repo.git("rev-parse", "HEAD")
    assert result["reasons"] == [
        f"docs/guide.md:3: `shop.cart.checkout` is not defined in the code "
        f"({WEB}/blob/{commit}/docs/guide.md#L3-L3)",
        f"docs/guide.md:9: the snippet imports `checkout` from `shop.cart`, which does not define it "
        f"({WEB}/blob/{commit}/docs/guide.md#L9-L9)"]
    assert "<failure" in junit.read_text()
    checks = tmp_path / "checks.yaml"
    checks.write_text("project: shop\nchecks:\n  - drift: true\n  - question: How do I pay for a cart?\n")
    mixed = run_cli(env, "check", str(checks), "--json")
    assert [c["passed"] for c in json.loads(mixed.stdout)["checks"]] == [False, True]
    checks.write_text("checks:\n  - name: nothing to ask\n")
    empty = run_cli(env, "check", str(checks))
    assert empty.returncode == 1 and "needs a `question` (or `drift: true`)" in empty.stderr


def test_github_slugs() -> None:
    assert github_slug("The cart") == "the-cart"
    assert github_slug("`Session.send()` and *you*") == "sessionsend-and-you"
    assert github_slug("FORWARD vs TUNNEL") == "forward-vs-tunnel"
