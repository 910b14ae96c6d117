"""Asking a ragqa server's `POST /ask` with the same call as the in-process `Answerer.ask`."""

from __future__ import annotations

from typing import Any

from ragqa.answer import Answer
from ragqa.errors import RagqaError


class RemoteAnswerer:
    """`ask(question, project, top_k)` answered by a ragqa server over one HTTP connection pool."""

    def __init__(self, server: str, token: str | None, timeout: float = 120.0) -> None:
        import httpx

        self.server = server.rstrip("/")
        self._client = httpx.Client(base_url=self.server, timeout=timeout,
                                    headers={"Authorization": f"Bearer {token}"} if token else {})

    def ask(self, question: str, project: str | list[str] | None = None, top_k: int | None = None) -> Answer:
        """`project` as `POST /ask` takes it: a name, several names, or `"*"`."""
        import httpx

        body: dict[str, Any] = {"question": question}
        body.update({key: value for key, value in (("project", project), ("top_k", top_k)) if value})
        try:
            response = self._client.post("/ask", json=body)
        except httpx.HTTPError as error:
            raise RagqaError(f"cannot reach {self.server}: {error}") from error
        if response.status_code != 200:
            raise RagqaError(f"{self.server}/ask answered HTTP {response.status_code}: "
                             f"{_error_text(response)}")
        return Answer.model_validate(response.json())


def _error_text(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return " ".join(response.text.split())[:200]
