"""`ragqa questions` and `ragqa tune`: question sets written from the repo itself (offline, and
the self-instruct loop against a scripted OpenAI-compatible server on loopback), then used to
fit a project's settings. Real git, real embedded Chroma, the real local model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import yaml

from ragqa.answer import Answerer
from ragqa.api import create_app
from ragqa.checks import load as load_checks
from ragqa.errors import BadRequestError
from ragqa.evaluation import load
from ragqa.ingest import Ingester, IngestRequest
from ragqa.questions import Deduplicator, QuestionWriter, acceptable, how_to, numbered_items
from ragqa.settings import Settings
from ragqa.tune import reset_project, tune_project
from tests.conftest import GitRepo, run_cli
from tests.fake_llm import FakeLLM, Reply
from tests.live_server import LiveServer

WEB = "https://github.com/acme/shop"
CART_PY = '''"""The shopping cart."""


class Cart:
    """Items a customer is about to buy."""

    def __init__(self):
        self.items = {}

    def add(self, sku, quantity=1):
        """Add `quantity` of the item `sku` to the cart."""
        self.items[sku] = self.items.get(sku, 0) + quantity

    def total(self, prices):
        """Return the price of everything in the cart, in cents."""
        return sum(prices[sku] * count for sku, count in self.items.items())


def apply_coupon(total, code):
    """Compute the total after a coupon code, never below zero."""
    return max(total - COUPONS.get(code, 0), 0)


def _internal_helper():
    """Not public: no question is written about it."""


COUPONS = {"WELCOME": 500}
'''
CLI_PY = '''"""The shop command line."""

import argparse
import os


def main(argv=None):
    parser = argparse.ArgumentParser(prog="shop")
    parser.add_argument("--currency", default=os.environ.get("SHOP_CURRENCY", "EUR"), help="Currency.")
    return parser.parse_args(argv)
'''
GUIDE_MD = """# Shop guide

## Installing the shop

Run `pip install shop`.

## Adding items to a cart

Call `Cart.add(sku, quantity)`; quantities add up.

## Applying coupons

`apply_coupon(total, code)` takes a coupon's value off the total.

## Coupons

A coupon is a code worth a fixed amount of cents.

## Changelog

- 1.0: first release.
"""


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("questions")
    repo = GitRepo(root / "shop")
    repo.write("src/shop/cart.py", CART_PY).write("src/shop/cli.py", CLI_PY).write("docs/guide.md", GUIDE_MD)
    repo.write("tests/test_cart.py", 'def test_add():\n    """Adds."""\n    assert True\n')
    repo.commit("initial")
    request = IngestRequest(source=str(repo.root), name="shop", web_url=WEB)
    Ingester(_settings(root / "storage")).ingest(request)
    return root / "storage"


def _settings(storage: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"storage_dir": storage, "llm": "none", **changes}
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


def test_headings_become_how_tos_and_topics() -> None:
    assert how_to("Setting a default timeout", "x") == ("How do I set a default timeout?", "how-to")
    assert how_to("Using Sessions", "x") == ("How do I use sessions?", "how-to")
    assert how_to("How to retry", "x") == ("How do I retry?", "how-to")
    assert how_to("Passing Parameters In URLs", "x") == ("How do I pass parameters in URLs?", "how-to")
    assert how_to("Why not Httplib2?", "x") == ("Why not Httplib2?", "how-to")
    assert how_to("Timeouts", "requests") == ("What should I know about timeouts in requests?", "conceptual")
    assert how_to("Licensing", "x")[1] == "conceptual"  # not a verb the writer knows: no broken how-to


def test_offline_questions_come_from_the_repo_with_their_lines(storage: Path) -> None:
    answerer = Answerer(_settings(storage), llm=None)
    written = QuestionWriter(answerer.settings, None).write(answerer.project("shop"), 20, "offline")
    assert written.generator == "offline"
    by_question = {item.question: item for item in written.questions}
    assert by_question["How do I add items to a cart?"].gold == ["docs/guide.md"]
    assert by_question["How do I apply coupons?"].lines["docs/guide.md"][0] == \
        GUIDE_MD.splitlines().index("## Applying coupons") + 1
    assert "What should I know about coupons in shop?" in by_question
    assert not any("changelog" in q.lower() or "_internal_helper" in q for q in by_question)
    assert not any(item.gold == ["tests/test_cart.py"] for item in written.questions)
    coupon = next(item for item in written.questions if "coupon code" in item.question or
                  "`apply_coupon`" in item.question)
    start, _ = coupon.lines["src/shop/cart.py"]
    assert CART_PY.splitlines()[start - 1].startswith("def apply_coupon")
    assert by_question["What does the `--currency` command-line option do?"].gold == ["src/shop/cli.py"]
    assert "What is the `SHOP_CURRENCY` environment variable used for?" in by_question
    unanswerable = [item for item in written.questions if not item.gold]
    assert unanswerable and all(item.kind == "unanswerable" for item in unanswerable)
    dedup = Deduplicator()
    assert all(dedup.add(item.question) for item in written.questions)  # no two above ROUGE-L 0.7


def test_the_cli_writes_eval_sets_and_checks(storage: Path, onnx_dir: Path, tmp_path: Path) -> None:
    env = {"RAGQA_STORAGE_DIR": str(storage), "RAGQA_ONNX_DIR": str(onnx_dir), "PATH": "/usr/bin:/bin",
           "RAGQA_LLM": "none"}
    out = tmp_path / "shop.jsonl"
    done = run_cli(env, "questions", "shop", "--count", "12", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "questions (" in done.stderr and "offline generator" in done.stderr
    question_set = load(out)  # `ragqa eval` reads it unchanged
    assert question_set.repo == "shop" and question_set.url == WEB and len(question_set.questions) == 12
    assert question_set.questions[0].id == "shop-gen-001"
    evaluated = run_cli(env, "eval", str(out), "--project", "shop", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert len(json.loads(evaluated.stdout)["questions"]) == 12
    checks = tmp_path / "checks.yaml"
    made = run_cli(env, "questions", "shop", "--count", "8", "--format", "check", "--out", str(checks))
    assert made.returncode == 0, made.stderr
    document = yaml.safe_load(checks.read_text())
    assert document["project"] == "shop" and len(load_checks(checks)) == 8
    assert all(check.get("cites") or check.get("answered") is False for check in document["checks"])
    summary = json.loads(run_cli(env, "questions", "shop", "--count", "5", "--json").stdout)
    assert summary["questions"] == 5 and summary["set"].startswith('{"repo": "shop"')
    wrong = run_cli(env, "questions", "shop", "--generator", "llm")
    assert wrong.returncode == 1 and "needs a model" in wrong.stderr and "Traceback" not in wrong.stderr


def test_model_replies_are_parsed_filtered_and_deduplicated() -> None:
    reply = ("Sure! Here are some questions:\n1. How do I add an item to the cart?\n"
             "2) How can I add items to the cart?\n3. Draw a diagram of the cart classes please\n"
             "- What is the price of a cart in cents?\n4. ?? broken\n5. Why?\nHope that helps!")
    items = numbered_items(reply)
    assert items == ["How do I add an item to the cart?", "How can I add items to the cart?",
                     "Draw a diagram of the cart classes please", "What is the price of a cart in cents?",
                     "?? broken", "Why?"]
    blacklist = Settings(_env_file=None).question_blacklist  # type: ignore[call-arg]
    assert [acceptable(item, blacklist) for item in items] == [True, True, False, True, False, False]
    assert not acceptable("Ünïcode first letter question here", blacklist)
    dedup = Deduplicator()
    assert dedup.add(items[0]) and not dedup.add(items[1]) and dedup.add(items[3]) and dedup.removed == 1


def test_the_self_instruct_loop_against_a_model(storage: Path, fake: FakeLLM) -> None:
    settings = _settings(storage, llm="auto", llm_base_url=fake.base_url, llm_model="fake-1", llm_timeout_s=5,
                         llm_max_retries=0)
    answerer = Answerer(settings)
    fake.script(
        Reply("1. How do I add an item to the cart?\n2. How can I add items to the cart?\n"
              "3. Plot the prices as a graph\n4. How is the total price of a cart computed?"),
        Reply("Here you go:\n1. Which coupon codes exist by default?\n2. How do I add an item to my cart?"),
        Reply(status=500))
    written = QuestionWriter(settings, answerer.llm).write(answerer.project("shop"), 10, "auto",
                                                           seeds=["How do I pay?"])
    assert written.generator == "llm"
    answerable = [item for item in written.questions if item.gold]
    assert [item.question for item in answerable] == [
        "How do I add an item to the cart?", "How is the total price of a cart computed?",
        "Which coupon codes exist by default?"]
    assert written.filtered == 1 and written.duplicates_removed == 2
    assert all(item.lines[item.gold[0]][0] >= 1 for item in answerable)
    unanswerable = written.questions[len(answerable):]  # like an offline set: abstention can be measured
    assert unanswerable and all(item.kind == "unanswerable" and not item.gold for item in unanswerable)
    assert written.notes and written.notes[0].startswith("the model failed after 3 questions")
    prompt = fake.requests[0]["messages"][-1]["content"]
    assert "How do I pay?" in prompt and "lines" in prompt and "Reply with a numbered list" in prompt


HAND_WRITTEN = [
    ("How do I install the shop?", "docs/guide.md"),
    ("How do I add items to a cart?", "docs/guide.md"),
    ("How are quantities of the same item combined?", "src/shop/cart.py"),
    ("Where is the cart total computed?", "src/shop/cart.py"),
    ("How do coupons work?", "docs/guide.md"),
    ("What does `apply_coupon` return for a big coupon?", "src/shop/cart.py"),
    ("Which coupon codes exist?", "src/shop/cart.py"),
    ("What currency does the shop use?", "src/shop/cli.py"),
    ("How do I change the currency?", "src/shop/cli.py"),
    ("What is the `--currency` option?", "src/shop/cli.py"),
    ("Where is the command line parsed?", "src/shop/cli.py"),
    ("What does `Cart.add` do?", "src/shop/cart.py"),
    ("Is the total in cents?", "src/shop/cart.py"),
    ("What is a coupon worth?", "docs/guide.md"),
    ("Which environment variable sets the currency?", "src/shop/cli.py"),
    ("What class holds the items a customer buys?", "src/shop/cart.py"),
]
UNANSWERABLE = ["Does the shop support Kafka consumers?", "How do I export orders to Excel?",
                "Can the shop render PDF invoices?", "Is there GraphQL support?",
                "How do I configure the `CartScheduler` class?", "Does it run on Arduino boards?"]


def _hand_written_set(path: Path) -> Path:
    rows: list[dict[str, object]] = [{"repo": "shop", "commit": "x", "url": WEB}]
    rows += [{"id": f"q{n}", "question": q, "gold": [gold], "lines": {}}
             for n, (q, gold) in enumerate(HAND_WRITTEN)]
    rows += [{"id": f"u{n}", "question": q, "gold": [], "lines": {}} for n, q in enumerate(UNANSWERABLE)]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def test_tune_fits_stores_and_resets(storage: Path, tmp_path: Path) -> None:
    settings = _settings(storage)
    answerer = Answerer(settings, llm=None)
    path = _hand_written_set(tmp_path / "set.jsonl")
    question_set = load(path)
    report = tune_project(answerer, Ingester(settings), "shop", question_set)
    assert (report.fit_questions, report.check_questions) == (14, 8)
    assert report.after.mrr >= report.before.mrr - 0.05  # never worse by more than noise
    assert report.before.abstention is not None
    record = Ingester(settings).get("shop")
    assert record.tuning["settings"] == report.settings
    assert record.tuning["after"]["mrr"] == report.after.mrr
    tuned = Answerer(settings, llm=None).retriever_for(record).settings
    assert tuned.model_dump() == record.tuned(settings).model_dump()
    reset_project(Ingester(settings), "shop")
    assert Ingester(settings).get("shop").tuning == {}
    question_set.questions = question_set.questions[:12]
    with pytest.raises(BadRequestError, match="tuning needs at least 20"):
        tune_project(answerer, Ingester(settings), "shop", question_set)


def test_the_cli_tunes_and_resets(storage: Path, onnx_dir: Path, tmp_path: Path) -> None:
    env = {"RAGQA_STORAGE_DIR": str(storage), "RAGQA_ONNX_DIR": str(onnx_dir), "PATH": "/usr/bin:/bin",
           "RAGQA_LLM": "none"}
    path = _hand_written_set(tmp_path / "set.jsonl")
    done = run_cli(env, "tune", "shop", "--questions", str(path))
    assert done.returncode == 0, done.stderr
    assert "fitted on 14 questions, checked on 8" in done.stdout and "before" in done.stdout
    listed = json.loads(run_cli(env, "projects", "--json").stdout)
    assert next(p for p in listed if p["name"] == "shop")["tuning"]["fit_questions"] == 14
    assert "back to the default settings" in run_cli(env, "tune", "shop", "--reset").stdout
    missing = run_cli(env, "tune", "shop")
    assert missing.returncode != 0 and "--questions" in missing.stderr


def test_tune_over_http_is_an_admin_job(storage: Path, tmp_path: Path) -> None:
    settings = _settings(storage, ask_tokens="ask-token", admin_tokens="admin-token")
    questions = _hand_written_set(tmp_path / "set.jsonl").read_text()
    admin = {"Authorization": "Bearer admin-token"}
    with LiveServer(create_app(settings)) as url:
        refused = httpx.post(f"{url}/projects/shop/tune", json={"questions": questions},
                             headers={"Authorization": "Bearer ask-token"})
        assert refused.status_code == 403
        started = httpx.post(f"{url}/projects/shop/tune", json={"questions": questions}, headers=admin)
        assert started.status_code == 202, started.text
        job = _wait(url, started.headers["Location"], admin)
        assert job["kind"] == "tune" and job["state"] == "succeeded", job
        assert job["tuning"]["fit_questions"] == 14
        shown = httpx.get(f"{url}/projects/shop", headers=admin).json()
        assert shown["tuning"]["check_questions"] == 8
        too_few = httpx.post(f"{url}/projects/shop/tune", json={"generate": 20}, headers=admin)
        assert too_few.status_code == 400 and "tuning needs at least 20" in too_few.json()["error"]["message"]
        nothing = httpx.post(f"{url}/projects/shop/tune", json={}, headers=admin)
        assert nothing.status_code == 400
        ghost = httpx.post(f"{url}/projects/ghost/tune", json={"questions": questions}, headers=admin)
        assert ghost.status_code == 404
        reset = httpx.post(f"{url}/projects/shop/tune", json={"reset": True}, headers=admin)
        assert reset.status_code == 200 and reset.json()["tuning"] == {}


def _wait(url: str, location: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, object] = httpx.get(f"{url}{location}", headers=headers).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("the job never finished")
