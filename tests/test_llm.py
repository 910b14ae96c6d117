"""Answers from a model: a scripted OpenAI-compatible server on loopback, the real openai SDK."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragqa.answer import Answerer
from ragqa.settings import Settings
from tests.conftest import ingest_sample
from tests.fake_llm import FakeLLM, Reply

WEB = "https://github.com/acme/sample"
QUESTION = "How do I set a connect-only timeout?"


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_sample(tmp_path_factory.mktemp("llm"), WEB)


def answerer(storage: Path, fake: FakeLLM, **changes: object) -> Answerer:
    values: dict[str, object] = dict(storage_dir=storage, llm_base_url=fake.base_url, llm_model="fake-1",
                                     llm_timeout_s=5, llm_max_retries=0)
    values.update(changes)
    return Answerer(Settings(**values, _env_file=None))  # type: ignore[arg-type]


INVENTED = ("Use `connect_timeout(5)` [S1]; the docs explain it in [the guide](https://github.com/acme/"
            "sample/blob/main/docs/guide.md) and [the wiki](https://example.com/wiki).\n\n"
            "References:\n- https://github.com/acme/sample/blob/main/src/sample/http.py\n")


@pytest.mark.parametrize("stream", [True, False])
def test_invented_links_are_removed_and_labels_linked(storage: Path, fake: FakeLLM, stream: bool) -> None:
    fake.script(Reply(INVENTED))
    answer = answerer(storage, fake, llm_stream=stream).ask(QUESTION)
    assert answer.answered and answer.model == "fake-1"
    assert answer.links_removed == [
        "https://github.com/acme/sample/blob/main/docs/guide.md", "https://example.com/wiki",
        "https://github.com/acme/sample/blob/main/src/sample/http.py"]
    s1 = answer.sources[0]
    assert f"[S1]({s1.url})" in answer.answer
    assert "the guide and the wiki" in answer.answer and "/blob/main/" not in answer.answer
    _body, references = answer.answer.split("**References**")
    title = " — connect_timeout" if "http.py" in s1.path else " — Timeouts"
    assert references.strip().splitlines() == [
        f"- [{s1.path}#L{s1.start_line}-L{s1.end_line}]({s1.url}){title}"]
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    body_sent = fake.requests[0]
    assert body_sent["model"] == "fake-1" and bool(body_sent.get("stream")) is stream
    prompt = body_sent["messages"][0]["content"]
    assert "[S1] " in prompt and f"Link: {s1.url}" in prompt and f"Question: {QUESTION}" in prompt


def test_streamed_events_add_up_to_the_final_answer(storage: Path, fake: FakeLLM) -> None:
    fake.script(Reply(INVENTED))
    events = list(answerer(storage, fake).stream(QUESTION))
    assert next(e.kind for e in events) == "sources" and events[-1].kind == "done"
    deltas = [e.text for e in events if e.kind == "delta"]
    assert len(deltas) > 3, "the answer arrives in pieces"
    final = events[-1].answer
    assert final is not None and "".join(deltas) == final.answer
    assert not any("example.com" in delta for delta in deltas), "no invented link is ever shown"


@pytest.mark.parametrize(("reply", "reason"), [
    (Reply("late", delay=3), "did not answer within 1 s"),
    (Reply(status=500), "HTTP 500"),
])
def test_model_failures_fall_back_to_an_extractive_answer(storage: Path, fake: FakeLLM, reply: Reply,
                                                          reason: str) -> None:
    fake.script(reply)
    answer = answerer(storage, fake, llm_timeout_s=1).ask(QUESTION)
    assert answer.answered and answer.model == "extractive"
    first_line = answer.answer.splitlines()[0]
    assert reason in first_line and "fake-1" in first_line and "quotes the sources" in first_line
    assert "```python" in answer.answer and answer.links_removed == []


def test_retries_then_succeeds(storage: Path, fake: FakeLLM) -> None:
    fake.script(Reply(status=500), Reply("Use `connect_timeout(5)` [S1]."))
    answer = answerer(storage, fake, llm_max_retries=1).ask(QUESTION)
    assert answer.model == "fake-1" and len(fake.requests) == 2


def test_a_model_that_does_not_know_says_so(storage: Path, fake: FakeLLM) -> None:
    fake.script(Reply("Hmm, I'm not sure."))
    answer = answerer(storage, fake).ask(QUESTION)
    assert answer.answer == "Hmm, I'm not sure." and answer.answered is False
    assert answer.model == "fake-1"


def test_low_confidence_abstains_without_calling_the_model(storage: Path, fake: FakeLLM) -> None:
    fake.script(Reply("should not be asked"))
    answer = answerer(storage, fake).ask("How do I subscribe to a GraphQL endpoint over WebSockets?")
    assert answer.answer == "Hmm, I'm not sure." and fake.requests == []


def test_model_usage_is_counted_when_the_server_sends_none(storage: Path, fake: FakeLLM) -> None:
    fake.script(Reply("Use `connect_timeout(5)` [S1].", usage=False))
    answer = answerer(storage, fake).ask(QUESTION)
    assert answer.usage.prompt_tokens > 100 and answer.usage.completion_tokens > 3


def test_short_replies_stream_in_full(storage: Path, fake: FakeLLM) -> None:
    fake.script(Reply("Hmm, I"))  # held back as a possible abstention until the stream ended
    events = list(answerer(storage, fake).stream(QUESTION))
    final = events[-1].answer
    assert final is not None and final.answered and final.answer.startswith("Hmm, I")
    assert "".join(e.text for e in events if e.kind == "delta") == final.answer


def test_a_stream_cut_off_half_way_keeps_what_was_said(storage: Path, fake: FakeLLM) -> None:
    fake.script(Reply("Use `connect_timeout(5)` to bound only the connect phase of a request, "
                      "as the helper in [S1] shows; a read timeout is set separately. " * 3, cut=True))
    events = list(answerer(storage, fake).stream(QUESTION))
    final = events[-1].answer
    assert final is not None and final.model == "fake-1"
    assert "connect_timeout(5)" in final.answer and "cut off" in final.answer
    assert "".join(e.text for e in events if e.kind == "delta") == final.answer
