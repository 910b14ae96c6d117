"""Asking a remote ragqa server (`POST /ask`) instead of the in-process `Answerer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ragqa.answer import Answer
from ragqa.errors import RagqaError


def remote_asker(server: str, token: str | None, project: str | None, top_k: int | None,
                 timeout: float = 120.0) -> Callable[[str], Answer]:
    """Ask through a ragqa server's `POST /ask` instead of in process."""
    import httpx

    client = httpx.Client(base_url=server.rstrip("/"), timeout=timeout,
                          headers={"Authorization": f"Bearer {token}"} if token else {})

    def ask(question: str) -> Answer:
        body: dict[str, Any] = {"question": question}
        body.update({key: value for key, value in (("project", project), ("top_k", top_k)) if value})
        try:
            response = client.post("/ask", json=body)
        except httpx.HTTPError as error:
            raise RagqaError(f"cannot reach {server}: {error}") from error
        if response.status_code != 200:
            raise RagqaError(f"{server}/ask answered HTTP {response.status_code}: {_error_text(response)}")
        return Answer.model_validate(response.json())

    return ask


def _error_text(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return " ".join(response.text.split())[:200]
