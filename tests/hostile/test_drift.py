"""The drift door (`ragqa check --drift`): docs whose links, anchors, names and snippets are
hostile — a page of 500 anchor links into one large page, deep brackets, endless backticks,
paths that leave the repository. Each case is one doc file of one real project (real git, real
Chroma); the check finds exactly the drift each holds, links only to lines that exist, and its
cost is O(links + page size), measured in CPU time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragqa.answer import Answerer
from ragqa.drift import Drift, find_drift
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo
from tests.hostile.conftest import cpu_budget

pytestmark = pytest.mark.slow
WEB = "https://github.com/acme/shop"
CART_PY = '"""Carts."""\n\n\nclass Cart:\n    """A cart."""\n\n    def add(self, sku):\n        """Add."""\n'
SECTIONS = 600
BIG = "# Reference\n\n" + "".join(
    f"## Section {n}\n\nText of section {n} about carts.\n\n" for n in range(SECTIONS)
)
LINKS = "".join(f"- [s{n}](reference.md#section-{n})\n" for n in range(450)) + "".join(
    f"- [gone {n}](reference.md#gone-{n})\n" for n in range(50)
)
CASES: dict[str, tuple[str, list[str]]] = {
    "anchor-ok": ("See [it](reference.md#section-7).\n", []),
    "anchor-missing": ("See [it](reference.md#no-such-section).\n", ["anchor"]),
    "five-hundred-anchors": (f"# Links\n\n{LINKS}", ["anchor"] * 50),
    "anchor-upper-case": ("See [it](reference.md#Section-7).\n", []),
    "anchor-html-name": ("See [it](html.md#here).\n", []),
    "anchor-only": ("See [top](#top).\n", []),
    "anchor-into-a-binary": ("See [logo](img/logo.png#x).\n", []),
    "outside-the-repository": ("See [it](../../../etc/passwd).\n", []),
    "missing-file": ("See [it](nowhere.md).\n", ["link"]),
    "a-folder": ("See [the images](img/).\n", []),
    "angle-brackets": ("See [it](<reference.md#section-3>).\n", []),
    "long-target": (f"See [it]({'a/' * 5000}x.md).\n", []),  # not a link: targets are bounded
    "bidi-target": ("See [it](\u202edm.liame).\n", ["link"]),
    "image-missing": ("![logo](img/none.png)\n", []),
    "external": ("See [it](https://example.com/x#y) and <mailto:a@b.c>.\n", []),
    "deep-brackets": ("[" * 20_000 + "x" + "]" * 20_000 + "(y)\n", []),
    "unclosed-links": ("[a](" * 20_000 + "\n", []),
    "endless-backticks": ("`" * 100_000 + "\n", []),
    "name-gone": ("Call `shop.cart.Gone`.\n", ["name"]),
    "name-ok": ("Call `shop.cart.Cart.add()`.\n", []),
    "snippet-import-gone": ("```python\nfrom shop.cart import Gone\n```\n", ["import"]),
    "link-in-a-code-block": ("```\n[it](nowhere.md)\n```\n", []),
    "dotted-name-of-a-thousand-parts": ("Call `shop." + "x." * 1000 + "Cart`.\n", []),
}


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Drift]]]:
    root = tmp_path_factory.mktemp("drift")
    repo = GitRepo(root / "shop")
    repo.write("shop/__init__.py", '"""Shop."""\n').write("shop/cart.py", CART_PY)
    repo.write("docs/reference.md", BIG).write("docs/html.md", '# Page\n\n<a name="here"></a>Here.\n')
    repo.write("docs/img/logo.png", b"\x89PNG\r\n\x1a\n\x00binary")
    for name, (text, _) in CASES.items():
        repo.write(f"docs/{name}.md", text)
    repo.commit("docs")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), name="shop", web_url=WEB))
    index = Answerer(settings, llm=None).project("shop")
    with cpu_budget(20.0):  # one check of every case; before anchors were cached, minutes
        drifts = find_drift(index, settings)
    by_file: dict[str, list[Drift]] = {}
    for drift in drifts:
        by_file.setdefault(drift.path, []).append(drift)
    yield by_file


@pytest.mark.parametrize("name", list(CASES))
def test_each_case_finds_exactly_its_drift(found: dict[str, list[Drift]], name: str) -> None:
    text, kinds = CASES[name]
    drifts = found.get(f"docs/{name}.md", [])
    assert sorted(drift.kind for drift in drifts) == sorted(kinds), [d.describe()[:200] for d in drifts]
    lines = text.count("\n") + 1
    for drift in drifts:
        assert 1 <= drift.line <= lines and drift.url.endswith(f"docs/{name}.md#L{drift.line}-L{drift.line}")


def test_the_large_page_itself_is_healthy(found: dict[str, list[Drift]]) -> None:
    assert "docs/reference.md" not in found


def test_anchor_cost_is_linear_in_links_and_page_size(tmp_path_factory: pytest.TempPathFactory) -> None:
    """500 anchor links into one page cost about what one does: the page is parsed once."""
    root = tmp_path_factory.mktemp("drift-cost")
    repo = GitRepo(root / "shop")
    repo.write("shop/cart.py", CART_PY).write("docs/reference.md", BIG).write(
        "docs/one.md", CASES["anchor-ok"][0]
    )
    repo.commit("one link")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    ingester = Ingester(settings)
    ingester.ingest(IngestRequest(source=str(repo.root), name="shop", web_url=WEB))
    import time

    started = time.process_time()
    find_drift(Answerer(settings, llm=None).project("shop"), settings)
    one = time.process_time() - started
    repo.write("docs/one.md", f"# Links\n\n{LINKS}").commit("500 links")
    ingester.ingest(IngestRequest(source=str(repo.root), name="shop", web_url=WEB))
    with cpu_budget(one + 2.0):
        drifts = find_drift(Answerer(settings, llm=None).project("shop"), settings)
    assert len(drifts) == 50
