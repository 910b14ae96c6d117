"""The project registry, kept in the vector store itself.

Each project is one record of the `ragqa-projects` collection: its source and options, the
indexed commit, and the manifest (path → blob and chunk ids) that defines which stored chunks
are live. Writing that one record is the commit point of an ingest: readers always see either
the previous manifest or the new one, never a mix, and chunks outside the manifest (written by
an ingest that was killed) are ignored until the next ingest deletes them. Keeping it in Chroma
rather than in a local file means API replicas sharing one Chroma server share the registry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from ragqa.errors import DamagedProjectError
from ragqa.index.documents import DocumentCollection

if TYPE_CHECKING:
    from ragqa.settings import Settings

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
    redacted: int = 0  # secrets replaced by markers in this file's text
    doc_chunks: list[int] = Field(default_factory=list)  # positions of chunks mostly doc comment


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
    redact_secrets: bool = False  # whether secrets in the files were replaced before indexing
    tuning: dict[str, Any] = Field(default_factory=dict)  # `ragqa tune`: fitted settings and figures
    indexed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    files: dict[str, FileEntry] = Field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        return sum(len(entry.chunks) for entry in self.files.values())

    @property
    def stamp(self) -> str:
        """Changes whenever the record does: an ingest, or a `ragqa tune`."""
        return f"{self.commit}@{self.indexed_at.isoformat()}@{self.tuning.get('tuned_at', '')}"

    def tuned(self, settings: Settings) -> Settings:
        """`settings` with this project's fitted values (`ragqa tune`), if any."""
        fitted = self.tuning.get("settings") or {}
        return settings.model_copy(update=fitted) if fitted else settings

    def live_ids(self) -> set[str]:
        return {chunk_id for entry in self.files.values() for chunk_id in entry.chunks}

    def summary(self) -> dict[str, Any]:
        """The record without its manifest, for listings."""
        data = self.model_dump(mode="json", exclude={"files"})
        data.update(state="ok", files=len(self.files), chunks=self.chunk_count)
        return data


class Registry:
    """Read and write project records."""

    def __init__(self, client: Any) -> None:
        self._records = DocumentCollection(client, REGISTRY_COLLECTION, ProjectRecord)

    def get(self, name: str) -> ProjectRecord | None:
        """The project's record; None when there is none, `DamagedProjectError` when its stored
        record cannot be read (that project alone is then unavailable)."""
        raw = self._records.raw(name)
        return None if raw is None else _parse(name, raw)

    def stamp(self, name: str) -> str | None:
        """A value that changes whenever the project's record is rewritten (cheap to read)."""
        metadata = self._records.metadata(name)
        return None if metadata is None else str(metadata.get("stamp", ""))

    def names(self) -> list[str]:
        """The registered project names, without reading their records."""
        return self._records.ids()

    def all(self) -> list[ProjectRecord]:
        """Every readable record, by name (damaged ones are left out: see `damaged`)."""
        return [entry for entry in self.listing() if isinstance(entry, ProjectRecord)]

    def listing(self) -> list[ProjectRecord | DamagedRecord]:
        """Every record by name, a damaged one as a `DamagedRecord` instead of an error."""
        entries: list[ProjectRecord | DamagedRecord] = []
        for name, raw in self._records.find_raw():
            try:
                entries.append(_parse(name, raw))
            except DamagedProjectError as error:
                entries.append(DamagedRecord(name, str(error), _loose(raw).get("source")))
        return sorted(entries, key=lambda entry: entry.name)

    def raw_field(self, name: str, field: str) -> Any:
        """One field of a record, read loosely (to remove or rebuild a damaged project)."""
        raw = self._records.raw(name)
        return None if raw is None else _loose(raw).get(field)

    def put(self, record: ProjectRecord) -> None:
        """Write the record in one step (the commit point of an ingest)."""
        self._records.put(record.name, record, {"commit": record.commit, "stamp": record.stamp})

    def delete(self, name: str) -> None:
        self._records.delete(name)


@dataclass(frozen=True)
class DamagedRecord:
    """A project whose stored record cannot be read."""

    name: str
    error: str
    source: str | None

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "state": "damaged", "error": self.error, "source": self.source}


def _parse(name: str, raw: str) -> ProjectRecord:
    try:
        return ProjectRecord.model_validate_json(raw)
    except (ValidationError, ValueError) as error:
        reason = _reason(error)
        source = _loose(raw).get("source")
        rebuild = f"`ragqa ingest {source} --name {name} --replace`" if source else \
            f"`ragqa ingest <its source> --name {name} --replace`"
        raise DamagedProjectError(f"project {name!r} is damaged ({reason}): {rebuild} rebuilds it, "
                                  f"`ragqa remove {name}` drops it") from error


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "json_invalid":
            return "its record is not valid JSON"
        return f"its record has a bad or missing field {where!r}" if where else "its record is unreadable"
    return "its record is unreadable"


def _loose(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
