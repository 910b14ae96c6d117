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


SETTINGS_PY = '''"""Settings."""
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_")

    top_k: int = 5
    token: str = Field("", validation_alias="APP_SECRET_TOKEN")
'''
APP_CLI_PY = '''"""The app command."""
from typing import Annotated

import typer

cli = typer.Typer()


@cli.command()
def ask(question: str, audience: Annotated[str, typer.Option(help="Who reads.")] = "",
        as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Ask."""
'''
TIMEOUT_PY = '''"""Timeouts."""


class Timeout:
    """A timeout."""

    def connect_only(self, seconds):
        """Only the connect phase."""
        return self
'''
APP_MD = """# App

Set `APP_TOP_K` or `APP_SECRET_TOKEN`, then run `app ask "why?" --audience newcomers --json`.
Serve it at `app.example.com` behind `api.internal`. A connect-only timeout:
`Timeout().connect_only(2.0)`; `app.timeout.Timeout().connect_only(1)` works too.
"""


def test_declared_settings_and_options_and_constructor_calls(tmp_path: Path) -> None:
    """Settings read through pydantic-settings' env_prefix and typer options named by their
    parameters are known; a host name is not a name; a method reached through a constructor is
    checked, and caught once renamed."""
    app = GitRepo(tmp_path / "app")
    app.write("app/__init__.py", '"""App."""\n').write("app/settings.py", SETTINGS_PY)
    app.write("app/cli.py", APP_CLI_PY).write("app/timeout.py", TIMEOUT_PY).write("docs/app.md", APP_MD)
    app.commit("initial")
    storage = tmp_path / "storage"

    def drift() -> list[str]:
        settings = Settings(storage_dir=storage, llm="none", _env_file=None)  # type: ignore[call-arg]
        Ingester(settings).ingest(IngestRequest(source=str(app.root), name="app", web_url=WEB))
        index = Answerer(settings, llm=None).project("app")
        return [f"{found.line} {found.kind} {found.reference}" for found in find_drift(index, settings)]

    assert drift() == []
    app.write("app/timeout.py", TIMEOUT_PY.replace("connect_only", "connect_timeout"))
    app.write("app/settings.py", SETTINGS_PY.replace("top_k", "limit"))
    app.write("app/cli.py", APP_CLI_PY.replace("audience", "reader")).commit("rename")
    assert drift() == ["3 setting APP_TOP_K", "3 option --audience", "5 name Timeout().connect_only(2.0)",
                       "5 name app.timeout.Timeout().connect_only(1)"]


def test_ragqa_own_docs_have_no_drift(tmp_path: Path) -> None:
    """`ragqa check --drift` on this repository (at its HEAD commit) finds nothing: its settings
    are read through pydantic-settings and its options are typer parameters."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    settings = Settings(storage_dir=tmp_path / "storage", llm="none", embedder="wordllama",  # fast: drift
                        _env_file=None)  # type: ignore[call-arg]                # reads no vectors
    Ingester(settings).ingest(IngestRequest(
        source=str(root), name="ragqa", include=["ragqa/**", "prompts/**", "docs/**", "examples/**", "*.md"]))
    index = Answerer(settings, llm=None).project("ragqa")
    assert [found.describe() for found in find_drift(index, settings)] == []
