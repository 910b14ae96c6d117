"""What every source yields: a commit-like id, the files in it, and a way to read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SourceFile:
    """One file of a snapshot; `blob` changes exactly when the content does (git's blob id).
    A `size` of `MISSING_SIZE` means its content cannot be read (absent from a partial clone)."""

    path: str
    blob: str
    size: int


MISSING_SIZE = -1


class Snapshot(Protocol):
    """A readable, immutable view of a source at one commit."""

    commit: str
    web_url: str | None
    files: list[SourceFile]

    def read(self, path: str) -> bytes:
        """The bytes of `path` in this snapshot."""
        ...

    def close(self) -> None:
        """Release any process or handle the snapshot holds."""
        ...
