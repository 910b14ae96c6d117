"""Identifier-aware BM25: tokens, scores, incremental updates and persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ragqa.index.lexical import LexicalDoc, LexicalIndex, LexicalStore, identifiers, stem, tokenize

DOCS = [
    LexicalDoc("a", "def connect_timeout(seconds):\n    return (seconds, None)", "src/http.py",
               "connect_timeout"),
    LexicalDoc("b", "def retry_with_backoff(call):\n    sleep(backoff)", "src/http.py", "retry_with_backoff"),
    LexicalDoc("c", "Retries double the backoff after each attempt.", "docs/guide.md",
               heading="Guide > Retries"),
    LexicalDoc("d", "class Session:\n    def getAdapter(self, url): ...", "src/session.py",
               "Session.getAdapter"),
]


def test_identifiers_are_kept_whole_and_split_into_words() -> None:
    tokens = tokenize("should_bypass_proxies requests.Session getAdapter HTTPAdapter")
    assert {"should_bypass_proxies", "bypass", "proxi"} <= set(tokens)
    assert {"requests.session", "request", "session"} <= set(tokens)
    assert {"getadapter", "adapter", "httpadapter", "http"} <= set(tokens)
    assert "the" not in tokenize("the timeout") and stem("retries") == stem("retry")
    assert "http2" in tokenize("Does it speak HTTP/2?") and "http2" not in tokenize("a/2 HTTP 2")


def test_code_names_in_a_question_are_found() -> None:
    names = identifiers("Does `Response.json()` use `verify` or HTTPAdapter, like http_proxy? It does.")
    assert names == ["response.json", "verifi", "httpadapter", "http_proxy"]


def test_bm25_ranks_the_matching_chunk_first() -> None:
    index = LexicalIndex.build(DOCS)
    assert index.ids[int(np.argmax(index.scores("how do retries back off?")))] in {"b", "c"}
    assert index.ids[int(np.argmax(index.scores("connect timeout")))] == "a"
    assert index.ids[int(np.argmax(index.scores("Session.getAdapter")))] == "d"
    assert not index.scores("kafka producer").any()


def test_an_incremental_update_equals_a_fresh_build(tmp_path: Path) -> None:
    before = LexicalIndex.build(DOCS)
    changed = LexicalDoc("e", "A connect timeout bounds connecting.", "docs/guide.md",
                         heading="Guide > Timeouts")
    after = LexicalIndex.build([changed], base=before, keep={"a", "b", "d"})
    fresh = LexicalIndex.build([DOCS[0], DOCS[1], DOCS[3], changed])
    assert sorted(after.ids) == sorted(fresh.ids) == ["a", "b", "d", "e"]
    for query in ("connect timeout", "backoff retries", "adapter"):
        got = dict(zip(after.ids, after.scores(query), strict=True))
        want = dict(zip(fresh.ids, fresh.scores(query), strict=True))
        assert got.keys() == want.keys()
        assert all(abs(got[key] - want[key]) < 1e-9 for key in got)


def test_the_store_saves_per_manifest_and_prunes(tmp_path: Path) -> None:
    store = LexicalStore(tmp_path / "lexical")
    first = store.update("coll", {"a", "b"}, {doc.id: doc for doc in DOCS[:2]}, None, fetch=lambda ids: [])
    fetched: list[list[str]] = []

    def fetch(ids: list[str]) -> list[LexicalDoc]:
        fetched.append(ids)
        return [doc for doc in DOCS if doc.id in ids]

    second = store.update("coll", {"a", "c"}, {}, {"a", "b"}, fetch)
    assert fetched == [["c"]], "only the chunk missing from the previous index is read back"
    assert sorted(second.ids) == ["a", "c"] and sorted(first.ids) == ["a", "b"]
    loaded = store.load("coll", {"a", "c"})
    assert loaded is not None and loaded.vocabulary == second.vocabulary
    assert len(list((tmp_path / "lexical" / "coll").iterdir())) == 2
    store.prune("coll", [{"a", "c"}])
    assert [p.name for p in (tmp_path / "lexical" / "coll").iterdir()] == [
        store.path("coll", {"a", "c"}).name]
    store.drop("coll")
    assert not (tmp_path / "lexical" / "coll").exists()


def test_field_weights_lift_matches_in_paths_headings_and_symbols() -> None:
    docs = [LexicalDoc("body", "A timeout can be set for the connect phase or the read phase. " * 3,
                       "docs/usage.md", heading="Usage > Requests"),
            LexicalDoc("field", "Set it once for every request you send to the server. " * 4,
                       "docs/timeouts.md", heading="Timeouts > Fine tuning")]
    index = LexicalIndex.build(docs)
    plain = dict(zip(index.ids, index.scores("timeout", {"body": 1.0}), strict=True))
    fielded = dict(zip(index.ids, index.scores("timeout", {"body": 1.0, "path": 2.0, "heading": 2.0}),
                       strict=True))
    assert plain["body"] > plain["field"] and fielded["field"] > fielded["body"]
    assert index.document_frequency("timeout") == 2 and index.document_frequency("kafka") == 0
