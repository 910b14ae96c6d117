"""Small records (projects, jobs, feedback) kept as JSON documents in the vector store.

Keeping them in Chroma rather than in local files lets API replicas that share one Chroma
server share them too. They are read by id or by metadata, never by similarity.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ragqa.index.chroma import get_or_create_collection

Model = TypeVar("Model", bound=BaseModel)
_PLACEHOLDER_VECTOR = [1.0]  # Chroma wants a vector per record; these are never searched by one


class DocumentCollection(Generic[Model]):
    """Pydantic models by id in one Chroma collection."""

    def __init__(self, client: Any, name: str, model: type[Model]) -> None:
        self.collection = get_or_create_collection(client, name, {})
        self.model = model

    def get(self, item_id: str) -> Model | None:
        document = self.raw(item_id)
        return None if document is None else self.model.model_validate_json(document)

    def raw(self, item_id: str) -> str | None:
        """The stored JSON of one record, unparsed (None when there is none)."""
        documents = self.collection.get(ids=[item_id], include=["documents"])["documents"] or []
        return (documents[0] or "") if documents else None

    def find(self, where: dict[str, Any] | None = None) -> list[Model]:
        return [self.model.model_validate_json(document) for _, document in self.find_raw(where)]

    def find_raw(self, where: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """(id, stored JSON) of the records matching `where`, unparsed."""
        found = self.collection.get(where=where, include=["documents"])
        return [(item_id, document or "")
                for item_id, document in zip(found["ids"], found["documents"] or [], strict=True)]

    def metadata(self, item_id: str) -> dict[str, Any] | None:
        metadatas = self.collection.get(ids=[item_id], include=["metadatas"])["metadatas"] or []
        return dict(metadatas[0] or {}) if metadatas else None

    def metadatas(self, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [dict(meta or {}) for meta in
                self.collection.get(where=where, include=["metadatas"])["metadatas"] or []]

    def ids(self) -> list[str]:
        return sorted(self.collection.get(include=[])["ids"])

    def put(self, item_id: str, item: Model, metadata: dict[str, Any]) -> None:
        """Write one record in one step."""
        self.collection.upsert(
            ids=[item_id], embeddings=[_PLACEHOLDER_VECTOR], metadatas=[metadata],
            documents=[json.dumps(item.model_dump(mode="json"), separators=(",", ":"))])

    def delete(self, item_id: str) -> None:
        self.collection.delete(ids=[item_id])
