"""Optional reranking of the fused passages, chosen by `RAGQA_RERANKER`.

- `none` (the default): the fused order stands. It is what measures best offline: no
  cross-encoder ships inside a package on the registry (flashrank's 14 KB wheel downloads its
  model at run time, which ragqa never does), and the fused order already puts the right file
  first for about 9 questions in 10 (docs/quality.md).
- `llm`: one short listwise call to the configured model: the question and the top passages
  (their location and first lines), answered with the passage numbers, best first. On a model
  failure, a timeout or a reply without numbers the fused order stands.
- `cross-encoder`: a sentence-transformers `CrossEncoder` loaded from a local folder
  (`RAGQA_RERANKER_MODEL`; never a hub id, nothing is downloaded), scoring each
  (question, passage) pair. Needs torch and sentence-transformers.

A reranker reorders and never drops: passages it leaves out keep their fused order after the
ones it ranked. Scores are reassigned best first so they keep reading as "higher is better".
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ragqa.errors import ConfigError
from ragqa.query import Query
from ragqa.retrieve.passages import Passage

log = logging.getLogger("ragqa.rerank")
PREVIEW_CHARS = 600


class Reranker(Protocol):
    """Reorders passages, best first; on any failure it returns them as they came."""

    name: str

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]: ...


class LLMReranker:
    """Listwise reranking by the configured chat model."""

    name = "llm"

    def __init__(self, complete: Callable[[str], str],
                 render: Callable[[str, list[dict[str, Any]]], str]) -> None:
        """`complete` sends a prompt to the model and returns its reply; `render` builds the
        prompt from the question and the numbered passages."""
        self.complete = complete
        self.render = render

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]:
        if len(passages) < 2:
            return passages
        items = [{"number": number, "path": passage.path, "start_line": passage.start_line,
                  "end_line": passage.end_line, "title": passage.symbol or passage.heading,
                  "text": passage.text[:PREVIEW_CHARS]}
                 for number, passage in enumerate(passages, 1)]
        try:
            reply = self.complete(self.render(query.text, items))
        except Exception as error:  # any failure: the fused order stands
            log.warning("reranking by the model failed (%s); keeping the fused order", error)
            return passages
        return reorder(passages, [int(found) - 1 for found in re.findall(r"\d+", reply)])


class CrossEncoderReranker:
    """A local cross-encoder scores each (question, passage) pair."""

    name = "cross-encoder"

    def __init__(self, model_dir: str) -> None:
        if not Path(model_dir).is_dir():
            raise ConfigError(f"RAGQA_RERANKER_MODEL must be a local folder with a cross-encoder, "
                              f"not {model_dir!r} (nothing is downloaded)")
        self.model_dir = model_dir
        self._model: Any = None
        self._lock = threading.Lock()

    def rerank(self, query: Query, passages: list[Passage]) -> list[Passage]:
        if len(passages) < 2:
            return passages
        scores = self._load().predict([(query.text, passage.text[:2_000]) for passage in passages],
                                      show_progress_bar=False)
        order = sorted(range(len(passages)), key=lambda index: -float(scores[index]))
        return reorder(passages, order)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import CrossEncoder
                except ImportError as error:
                    raise ConfigError("RAGQA_RERANKER=cross-encoder needs torch and sentence-transformers: "
                                      "pip install 'ragqa[torch]'") from error
                self._model = CrossEncoder(self.model_dir, device="cpu", local_files_only=True)
            return self._model


def reorder(passages: list[Passage], order: list[int]) -> list[Passage]:
    """`passages` in `order` (indexes; unknown and repeated ones ignored), then the ones it
    leaves out; scores reassigned best first."""
    chosen = [index for index in dict.fromkeys(order) if 0 <= index < len(passages)]
    ranked = [passages[index] for index in chosen] + \
        [passage for index, passage in enumerate(passages) if index not in set(chosen)]
    scores = sorted((passage.score for passage in passages), reverse=True)
    for passage, score in zip(ranked, scores, strict=True):
        passage.score = score
    return ranked
