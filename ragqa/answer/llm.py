"""LLM backends behind one small protocol: OpenAI or any OpenAI-compatible server, by base URL.

`RAGQA_LLM=auto` (the default) uses a model when one is configured — `RAGQA_LLM_BASE_URL`
(Ollama, vLLM, llama.cpp server …) or an OpenAI key — and none otherwise: the answer is then
extractive. `none` forces extractive answers; `openai` insists on a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ragqa.errors import ConfigError, RagqaError
from ragqa.settings import Settings

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


class LLMError(RagqaError):
    """The model failed, timed out or could not be reached."""

    code = "llm_unavailable"


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLM(Protocol):
    """A chat model that streams its answer; `usage` is filled in once the stream ends."""

    name: str

    def stream(self, prompt: str, usage: Usage) -> Iterator[str]: ...


class OpenAIChat:
    """Chat completions through the openai SDK (OpenAI itself or a compatible server)."""

    def __init__(self, settings: Settings) -> None:
        from openai import OpenAI

        key = settings.llm_key
        self.model = settings.llm_model or DEFAULT_OPENAI_MODEL
        self.name = self.model
        self.settings = settings
        self._client = OpenAI(
            api_key=key or "not-needed",
            base_url=settings.llm_base_url, timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries)

    def stream(self, prompt: str, usage: Usage) -> Iterator[str]:
        """Yield the answer's text as it arrives; failures become one-line `LLMError`s."""
        import httpx
        import openai

        request: dict[str, Any] = {
            "model": self.model, "messages": [{"role": "user", "content": prompt}],
            "temperature": self.settings.llm_temperature,
            "max_tokens": self.settings.llm_answer_tokens}
        try:
            if not self.settings.llm_stream:
                reply = self._client.chat.completions.create(**request)
                _count(reply.usage, usage)
                yield (reply.choices[0].message.content or "") if reply.choices else ""
                return
            chunks = self._client.chat.completions.create(
                **request, stream=True, stream_options={"include_usage": True})
            finished = False
            for chunk in chunks:
                _count(chunk.usage, usage)
                finished = finished or bool(chunk.choices and chunk.choices[0].finish_reason)
                text = _delta_text(chunk)
                if text:
                    yield text
            if not finished:
                raise LLMError(f"the model {self.model} stopped streaming before the answer was complete")
        except httpx.HTTPError as error:  # the connection broke while the answer streamed
            raise LLMError(f"the model {self.model} is unreachable: {_one_line(str(error))}") from error
        except openai.APITimeoutError as error:
            raise LLMError(f"the model {self.model} did not answer within "
                           f"{self.settings.llm_timeout_s:g} s") from error
        except openai.APIStatusError as error:
            raise LLMError(f"the model {self.model} failed: HTTP {error.status_code} "
                           f"{_one_line(error.message)}") from error
        except openai.APIError as error:
            raise LLMError(f"the model {self.model} is unreachable: {_one_line(str(error))}") from error


def _count(reported: Any, usage: Usage) -> None:
    if reported is not None:
        usage.prompt_tokens = reported.prompt_tokens
        usage.completion_tokens = reported.completion_tokens


def _delta_text(chunk: Any) -> str:
    if not chunk.choices:
        return ""
    return chunk.choices[0].delta.content or ""


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _openai(settings: Settings) -> LLM:
    if not (settings.llm_base_url or settings.llm_key):
        raise ConfigError("RAGQA_LLM=openai needs OPENAI_API_KEY or RAGQA_LLM_BASE_URL")
    try:
        return OpenAIChat(settings)
    except ImportError as error:
        raise ConfigError("the openai backend needs the openai package: pip install openai") from error


BACKENDS: dict[str, Callable[[Settings], LLM]] = {"openai": _openai}


def get_llm(settings: Settings) -> LLM | None:
    """The model `settings` select, or None for extractive answers."""
    choice = settings.llm
    if choice == "none":
        return None
    if choice == "auto":
        configured = settings.llm_base_url or settings.llm_key
        return _openai(settings) if configured else None
    factory = BACKENDS.get(choice)
    if factory is None:
        raise ConfigError(f"unknown LLM backend {choice!r} (choose auto, none or "
                          f"{', '.join(sorted(BACKENDS))})")
    return factory(settings)
