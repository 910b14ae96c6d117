"""Stage 5 — prompt: the QA template in `prompts/` rendered with project values and packed sources.

Sources are labelled `[S1]`, `[S2]` … with their permalinks and added best first while they fit
the model's window minus the tokens kept for the answer; token counts come from tiktoken, read
offline from the encodings llama-index ships.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ragqa.errors import ConfigError
from ragqa.index import ProjectRecord

QA_TEMPLATE = "qa.md.j2"
RERANK_TEMPLATE = "rerank.md.j2"
QUESTIONS_TEMPLATE = "questions.md.j2"
_SAFETY_TOKENS = 64  # chat formatting overhead the count of the prompt text does not see
QUESTION_SHARE = 3  # a long question (a pasted issue) gets at most a third of the prompt budget
RERANK_QUESTION_TOKENS = 1_500
PASSAGE_TOKENS = 1_500  # of a passage shown to the question writer


@dataclass(frozen=True)
class ContextSource:
    """One labelled source as the model sees it."""

    label: str
    path: str
    start_line: int
    end_line: int
    url: str
    language: str
    title: str
    text: str

    def render(self) -> str:
        title = f" ({self.title})" if self.title else ""
        fence = "````" if "```" in self.text else "```"
        return (f"[{self.label}] {self.path} lines {self.start_line}-{self.end_line}{title}\n"
                f"Link: {self.url}\n{fence}{self.language}\n{self.text}\n{fence}")


def content_type(record: ProjectRecord) -> str:
    """'code', 'docs' or 'code and docs', from what the project's files are."""
    kinds = {entry.kind == "code" for entry in record.files.values()}
    if kinds == {True}:
        return "code"
    if kinds == {False}:
        return "docs"
    return "code and docs"


def render_qa(prompts_dir: Path | None, record: ProjectRecord, question: str, context: str,
              history: Sequence[tuple[str, str]] = ()) -> str:
    """The QA prompt for `question` about the project of `record`; `history` is the conversation
    so far as (role, text) pairs, oldest first."""
    rendered: str = _template(prompts_dir, QA_TEMPLATE).render(
        project_name=record.name,
        repository_url=record.web_url or record.source,
        content_type=content_type(record),
        target_audience=record.audience or "developer",
        chat_prompt=record.instructions,
        question=question,
        context=context,
        history=[{"role": role, "content": content} for role, content in history],
    )
    return rendered.strip() + "\n"


def pack(prompts_dir: Path | None, record: ProjectRecord, question: str, sources: Sequence[ContextSource],
         window: int, answer_tokens: int, model: str | None = None,
         history: Sequence[tuple[str, str]] = ()) -> tuple[str, list[ContextSource]]:
    """The rendered prompt and the sources that fit in it, best first.

    A source too big for what is left is skipped and smaller ones after it still get a chance.
    """
    encoding = _encoding(model)
    budget = window - answer_tokens - _SAFETY_TOKENS
    question = fit_text(question, max(budget // QUESTION_SHARE, 64), model)
    budget -= len(encoding.encode(render_qa(prompts_dir, record, question, "", history),
                                  disallowed_special=()))
    packed: list[ContextSource] = []
    for source in sources:
        cost = len(encoding.encode(source.render() + "\n\n", disallowed_special=()))
        if cost <= budget:
            packed.append(source)
            budget -= cost
    context = "\n\n".join(source.render() for source in packed)
    return render_qa(prompts_dir, record, question, context, history), packed


def render_questions(prompts_dir: Path | None, record: ProjectRecord, seeds: Sequence[str], passage: Any,
                     count: int) -> str:
    """The self-instruct prompt: example questions and one passage, for `count` new questions."""
    text = fit_text(str(passage.text), PASSAGE_TOKENS)
    rendered: str = _template(prompts_dir, QUESTIONS_TEMPLATE).render(
        project=record.name, url=record.web_url or "", seeds=list(seeds), count=count,
        path=passage.metadata.get("path", ""), start_line=passage.metadata.get("start_line", 1),
        end_line=passage.metadata.get("end_line", 1), passage=text)
    return rendered.strip() + "\n"


def fit_text(text: str, max_tokens: int, model: str | None = None) -> str:
    """`text` cut to about `max_tokens`: a pasted issue or log keeps its head (the title and
    the report) and its tail (where tracebacks and the last errors are), the middle left out."""
    encoding = _encoding(model)
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return text
    head = encoding.decode(tokens[: max_tokens * 3 // 5]).rsplit("\n", 1)[0]
    tail = encoding.decode(tokens[-(max_tokens * 2 // 5):]).split("\n", 1)[-1]
    left_out = text.count("\n") - head.count("\n") - tail.count("\n")
    return f"{head}\n[… {max(left_out, 1)} lines left out …]\n{tail}"


def count_tokens(text: str, model: str | None = None) -> int:
    return len(_encoding(model).encode(text, disallowed_special=()))


def render_rerank(prompts_dir: Path | None, question: str, passages: Sequence[dict[str, Any]]) -> str:
    """The listwise reranking prompt: the question and numbered passages."""
    rendered: str = _template(prompts_dir, RERANK_TEMPLATE).render(
        question=fit_text(question, RERANK_QUESTION_TOKENS), passages=passages)
    return rendered.strip() + "\n"


def packaged_prompts() -> Path:
    """The prompt templates that ship inside ragqa (the top-level `prompts/` of its source,
    packaged as `ragqa.prompts`)."""
    import importlib.util

    spec = importlib.util.find_spec("ragqa.prompts")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("ragqa's prompt templates are missing: reinstall ragqa")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _template(prompts_dir: Path | None, name: str) -> Any:
    """A template from `prompts_dir` (your own), else the packaged one of that name."""
    import jinja2

    folders = [str(folder) for folder in (prompts_dir, packaged_prompts()) if folder is not None]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False)
    try:
        return environment.get_template(name)
    except jinja2.TemplateNotFound as error:
        raise ConfigError(f"no {name} in {' or '.join(folders)}: reinstall ragqa, or add the "
                          f"template to RAGQA_PROMPTS_DIR") from error
    except jinja2.TemplateSyntaxError as error:
        raise ConfigError(f"{error.filename or name} line {error.lineno}: {error.message}") from error


@cache
def _encoding(model: str | None) -> Any:
    """o200k_base for the gpt-4o family and newer, cl100k_base otherwise (a close count for
    other models' tokenizers, which is all packing needs)."""
    import tiktoken

    os.environ.setdefault("TIKTOKEN_CACHE_DIR", _bundled_tiktoken_cache())
    name = "o200k_base" if model and model.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")) \
        else "cl100k_base"
    return tiktoken.get_encoding(name)


def _bundled_tiktoken_cache() -> str:
    """llama-index ships the cl100k_base and o200k_base files; tiktoken would download them."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("llama-index-core is missing: pip install -e .")
    return str(Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache")
