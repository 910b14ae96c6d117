"""Questions across projects: a list of names or "*" at every front door, passages merged fairly,
each source linked into its own project at its own commit, abstention across them all. Real git,
real embedded Chroma, the real local model, the real app under uvicorn."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ragqa.answer import Answerer
from ragqa.api import create_app
from ragqa.ingest import Ingester, IngestRequest
from ragqa.query import Query
from ragqa.retrieve import ProjectIndex
from ragqa.retrieve.across import route
from ragqa.retrieve.retriever import embed_query
from ragqa.settings import Settings
from tests.conftest import GitRepo, run_cli
from tests.live_server import LiveServer

BILLING_PY = '''"""Billing: invoices and their totals."""


def invoice_total(lines, tax_rate):
    """Return an invoice's total with tax, rounded to cents."""
    return round(sum(price * count for price, count in lines) * (1 + tax_rate), 2)
'''
BILLING_MD = ("# Billing\n\n## Sending an invoice\n\n"
              "Call `send_invoice(customer)`; the PDF is mailed at once.\n")
SEARCH_PY = '''"""Search: an inverted index over product names."""


def build_index(products):
    """Map every word of a product name to the products holding it."""
    index = {}
    for product in products:
        for word in product.lower().split():
            index.setdefault(word, set()).add(product)
    return index
'''
SEARCH_MD = "# Search\n\n## Searching products\n\nBuild the index with `build_index(products)` first.\n"


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("across")
    settings = _settings(root / "storage")
    for name, code, docs in (("billing", BILLING_PY, BILLING_MD), ("search", SEARCH_PY, SEARCH_MD)):
        repo = GitRepo(root / name)
        repo.write(f"src/{name}.py", code).write("docs/guide.md", docs).commit("initial")
        Ingester(settings).ingest(IngestRequest(source=str(repo.root), name=name,
                                                web_url=f"https://github.com/acme/{name}"))
    return root / "storage"


def _settings(storage: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"storage_dir": storage, "llm": "none", **changes}
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


def test_every_project_is_searched_and_each_source_links_into_its_own(storage: Path) -> None:
    answerer = Answerer(_settings(storage), llm=None)
    records = {record.name: record for record in answerer.registry.all()}
    for choice in ("*", ["billing", "search"], "billing,search"):
        answer = answerer.ask("How is an invoice total with tax computed?", choice)
        assert answer.answered and answer.project == "billing,search" and answer.commit == ""
        assert answer.projects == {name: record.commit for name, record in records.items()}
        first = answer.sources[0]
        assert (first.project, first.path) == ("billing", "src/billing.py")
        assert first.url.startswith(f"https://github.com/acme/billing/blob/{records['billing'].commit}/")
        for source in answer.sources:
            assert source.url.startswith(f"https://github.com/acme/{source.project}/blob/"
                                         f"{records[source.project].commit}/{source.path}#L")
        billing = f"https://github.com/acme/billing/blob/{records['billing'].commit}/src/billing.py#L"
        assert billing in answer.answer
    searched = answerer.ask("How do I build the product search index?", "*")
    assert searched.sources[0].project == "search"
    single = answerer.ask("How do I build the product search index?", "search")
    assert single.project == "search" and single.commit == records["search"].commit
    assert single.projects == {"search": records["search"].commit}


def test_abstention_and_filters_hold_across_projects(storage: Path) -> None:
    answerer = Answerer(_settings(storage), llm=None)
    unknown = answerer.ask("Does it support Kafka consumers over gRPC?", "*")
    assert not unknown.answered
    from ragqa.retrieve import Filters

    only_billing = answerer.ask("Where is the index of words built?", ["billing", "search"],
                                filters=Filters(path_prefix="src/billing"))
    assert {source.project for source in only_billing.sources} == {"billing"}
    with pytest.raises(Exception, match="no project named 'ghost'"):
        answerer.ask("anything about invoices?", ["billing", "ghost"])


def test_cli_http_and_chat_ask_across_projects(storage: Path, onnx_dir: Path) -> None:
    env = {"RAGQA_STORAGE_DIR": str(storage), "RAGQA_ONNX_DIR": str(onnx_dir), "PATH": "/usr/bin:/bin",
           "RAGQA_LLM": "none"}
    done = run_cli(env, "ask", "How is an invoice total with tax computed?", "--project", "billing",
                   "--project", "search", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sources"][0]["project"] == "billing"
    everything = run_cli(env, "ask", "How do I build the product search index?", "--project", "*", "--json")
    assert json.loads(everything.stdout)["sources"][0]["project"] == "search"
    with LiveServer(create_app(_settings(storage))) as url:
        asked = httpx.post(f"{url}/ask", json={"question": "How do I build the product search index?",
                                                "project": ["billing", "search"]}, timeout=60)
        assert asked.status_code == 200 and asked.json()["sources"][0]["project"] == "search"
        chat = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
            "model": "project:billing,project:search",
            "messages": [{"role": "user", "content": "How is an invoice total with tax computed?"}]})
        assert chat.status_code == 200, chat.text
        assert "src/billing.py" in chat.json()["choices"][0]["message"]["content"]
        bad = httpx.post(f"{url}/ask", json={"question": "x?", "project": ["billing", "../etc"]}, timeout=60)
        assert bad.status_code == 400



TOPICS = {  # project → what its one function does
    "payments": "Charge a customer's credit card and return the receipt number.",
    "shipping": "Book a courier pickup for a parcel at the warehouse dock.",
    "auth": "Rotate a user's password and expire every open session.",
    "weather": "Forecast the chance of rain for a city from radar images.",
    "mailer": "Send the monthly newsletter to every subscribed reader.",
    "inventory": "Count the pallets stacked in each aisle of the depot.",
    "chess": "Castle the king with a rook when neither has moved yet.",
    "music": "Transpose a guitar chord by a number of semitones.",
    "garden": "Water the tomato plants when the soil moisture drops.",
    "library": "Renew a borrowed book's loan for another three weeks.",
}


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("many")
    settings = _settings(root / "storage")
    for name, doc in TOPICS.items():
        function = "_".join(doc.lower().split()[:2])
        code = f'"""The {name} service."""\n\n\ndef {function}(item):\n    """{doc}"""\n    return item\n'
        repo = GitRepo(root / name)
        repo.write(f"{name}/core.py", code).write("README.md", f"# {name.title()}\n\n{doc}\n")
        repo.commit("initial")
        Ingester(settings).ingest(IngestRequest(source=str(repo.root), name=name,
                                                web_url=f"https://github.com/acme/{name}"))
    return root / "storage"


def _routed(answerer: Answerer, indexes: list[ProjectIndex], question: str) -> set[str]:
    query = Query.parse(question, True)
    vector = embed_query(answerer.retriever.embedder, query.text)
    return {index.record.name for index in route(indexes, query, lambda _: vector, answerer.settings)}


def test_a_question_to_many_small_projects_searches_only_the_likely_ones(many: Path) -> None:
    routed = Answerer(_settings(many, all_projects_fanout=2), llm=None)
    everyone = Answerer(_settings(many, all_projects_fanout=0), llm=None)
    indexes = routed.projects_for("*")
    assert len(indexes) == len(TOPICS)
    for name, doc in TOPICS.items():
        question = f"How do I {doc[0].lower()}{doc[1:].rstrip('.')}?"
        chosen = _routed(routed, indexes, question)
        assert name in chosen and len(chosen) <= 4  # two by similarity, two by BM25 (no code name)
        answer, full = routed.ask(question, "*"), everyone.ask(question, "*")
        assert answer.answered and answer.sources[0].project == name
        assert [(s.project, s.path) for s in answer.sources[:3]] == \
            [(s.project, s.path) for s in full.sources[:3]]
    assert "chess" in _routed(routed, indexes, "What does `castle_the` return?")  # defines it
