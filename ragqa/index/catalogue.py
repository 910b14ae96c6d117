"""The catalogue: a local copy of what answering reads of the registry — project names, stamps,
records and heads — so that `ragqa ask` and `ragqa locate` in their own process open no vector
store (and import no Chroma) when nothing was written to it since.

Only for the embedded store: the catalogue is stamped with the identity, size and modification
time of Chroma's `chroma.sqlite3`, which every write to the registry or the heads (and any other
write) changes. While the file is exactly as stamped, the copy is the registry; once it changed,
the reader goes to the store as before and writes the catalogue again (`remember`). Any doubt — a
missing, foreign or damaged catalogue — means the store is read. A long-running server reads the
store itself (it rechecks a project's stamp every few seconds, and any write in between would make
it re-read every record).

Layout under `storage/snapshot/`: `catalogue.json` (the stamp of the store file, every project's
stamp — or why its record is damaged — and its head) and `records/<name hash>-<stamp hash>.json`
(each record as stored, with its CRC in the catalogue).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragqa.errors import DamagedProjectError
from ragqa.index.registry import DamagedRecord, ProjectRecord

log = logging.getLogger("ragqa.index")
CATALOGUE_FORMAT = "catalogue-1"
Fingerprint = list[int]


class CatalogueView:
    """The registry as the catalogue holds it (the `Registry` reading calls)."""

    def __init__(self, root: Path, projects: dict[str, dict[str, Any]], heads: dict[str, str]) -> None:
        self._root = root
        self._projects = projects
        self._heads = heads

    def names(self) -> list[str]:
        return sorted(self._projects)

    def stamp(self, name: str) -> str | None:
        entry = self._projects.get(name)
        return None if entry is None else str(entry["stamp"])

    def get(self, name: str) -> ProjectRecord | None:
        """The project's record; None when there is none, `DamagedProjectError` as the store's
        registry says (and `ValueError` when the copy itself is damaged: then read the store)."""
        entry = self._projects.get(name)
        if entry is None:
            return None
        if entry.get("damaged"):
            raise DamagedProjectError(str(entry["damaged"]))
        data = (self._root / "records" / str(entry["record"])).read_bytes()
        if zlib.crc32(data) != entry["crc"]:
            raise ValueError(f"the catalogue's copy of {name}'s record fails its CRC")
        return ProjectRecord.model_validate_json(data)

    def head(self, name: str) -> str | None:
        """The project's head as stored (JSON), or None."""
        return self._heads.get(name)


class Catalogue:
    """Reads and writes the catalogue of one embedded store (see the module docstring)."""

    def __init__(self, root: Path, store_file: Path) -> None:
        self.root = root
        self.store_file = store_file

    def fingerprint(self) -> Fingerprint | None:
        """What identifies the store file's present content; None when there is no store."""
        try:
            stat = self.store_file.stat()
        except OSError:
            return None
        return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns]

    def current(self) -> CatalogueView | None:
        """The catalogue if the store has not been written to since it was; else None."""
        now = self.fingerprint()
        if now is None:
            return None
        try:
            data = json.loads((self.root / "catalogue.json").read_bytes())
            if data.get("format") != CATALOGUE_FORMAT or data.get("store") != now:
                return None
            return CatalogueView(self.root, dict(data["projects"]), dict(data["heads"]))
        except FileNotFoundError:
            return None
        except Exception as error:  # a damaged copy: read the store, and write it again
            log.info("catalogue %s is unreadable (%s); reading the store", self.root, type(error).__name__)
            return None

    def remember(self, fingerprint: Fingerprint | None, listing: Sequence[ProjectRecord | DamagedRecord],
                 heads: dict[str, str]) -> None:
        """Write the catalogue of `listing` and `heads`, as read from the store after `fingerprint`
        was taken (a write in between leaves the catalogue stale, never wrong). Best effort: a
        catalogue that cannot be written only means the store is read next time."""
        if fingerprint is None:
            return
        try:
            records = self.root / "records"
            records.mkdir(parents=True, exist_ok=True)
            projects: dict[str, dict[str, Any]] = {}
            for entry in listing:
                if isinstance(entry, DamagedRecord):
                    projects[entry.name] = {"stamp": "", "damaged": entry.error}
                    continue
                name = f"{_hash(entry.name)}-{_hash(entry.stamp)}.json"
                data = entry.model_dump_json().encode()
                crc = zlib.crc32(data)
                if not (records / name).exists() or zlib.crc32((records / name).read_bytes()) != crc:
                    atomic_write(records / name, data)
                projects[entry.name] = {"stamp": entry.stamp, "record": name, "crc": crc}
            for path in records.glob("*.json"):
                if path.name not in {str(entry.get("record")) for entry in projects.values()}:
                    path.unlink(missing_ok=True)
            atomic_write(self.root / "catalogue.json", json.dumps(
                {"format": CATALOGUE_FORMAT, "store": fingerprint, "projects": projects,
                 "heads": heads}).encode())
        except OSError as error:
            log.info("catalogue %s cannot be written (%s)", self.root, type(error).__name__)


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
