"""The project registry, kept in the vector store itself.

Each project is one record of the `ragqa-projects` collection: its source and options, the
indexed commit, and the manifest (path → blob and chunk ids) that defines which stored chunks
are live. Writing that one record is the commit point of an ingest: readers always see either
the previous manifest or the new one, never a mix, and chunks outside the manifest (written by
an ingest that was killed) are ignored until the next ingest deletes them. Keeping it in Chroma
rather than in a local file means API replicas sharing one Chroma server share the registry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from ragqa.index.documents import DocumentCollection

REGISTRY_COLLECTION = "ragqa-projects"


class FileEntry(BaseModel):
    """One indexed file: the blob it was read from, the chunks made of it and the definitions
    its code makes — (qualified name, kind, first line, last line, index of the chunk holding
    the first line) — for the symbol table."""

    blob: str
    language: str
    kind: str
    chunks: list[str]
    symbols: list[tuple[str, str, int, int, int]] = Field(default_factory=list)


class ProjectRecord(BaseModel):
    """Everything ragqa knows about one project."""

    name: str
    source: str
    source_kind: str
    ref: str | None = None
    web_url: str | None = None
    commit: str
    collection: str
    embedder: str
    fingerprint: str
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    audience: str = "developer"
    instructions: str = ""
    indexed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    files: dict[str, FileEntry] = Field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        return sum(len(entry.chunks) for entry in self.files.values())

    @property
    def stamp(self) -> str:
        return f"{self.commit}@{self.indexed_at.isoformat()}"

    def live_ids(self) -> set[str]:
        return {chunk_id for entry in self.files.values() for chunk_id in entry.chunks}

    def summary(self) -> dict[str, Any]:
        """The record without its manifest, for listings."""
        data = self.model_dump(mode="json", exclude={"files"})
        data.update(files=len(self.files), chunks=self.chunk_count)
        return data


class Registry:
    """Read and write project records."""

    def __init__(self, client: Any) -> None:
        self._records = DocumentCollection(client, REGISTRY_COLLECTION, ProjectRecord)

    def get(self, name: str) -> ProjectRecord | None:
        return self._records.get(name)

    def stamp(self, name: str) -> str | None:
        """A value that changes whenever the project's record is rewritten (cheap to read)."""
        metadata = self._records.metadata(name)
        return None if metadata is None else str(metadata.get("stamp", ""))

    def names(self) -> list[str]:
        """The registered project names, without reading their records."""
        return self._records.ids()

    def all(self) -> list[ProjectRecord]:
        return sorted(self._records.find(), key=lambda record: record.name)

    def put(self, record: ProjectRecord) -> None:
        """Write the record in one step (the commit point of an ingest)."""
        self._records.put(record.name, record, {"commit": record.commit, "stamp": record.stamp})

    def delete(self, name: str) -> None:
        self._records.delete(name)
