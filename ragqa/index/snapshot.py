"""A project's chunks on disk as memory-mapped files: what answering reads of a project at load
(ids, vectors, texts, metadata) without a round trip to the vector store.

Layout, one set per manifest under `storage/snapshot/<collection>/`, named by the manifest's key
like the keyword index and the code graph (`CollectionFiles`):

    <key>.vectors.npy   float32 rows, one per chunk in id order (unit length): memory-mapped
    <key>.chunks.bin    each chunk's JSON `[text, metadata]`, one after another: memory-mapped,
                        and only the chunks a question reads are decoded
    <key>.offsets.npy   where each chunk's JSON starts in chunks.bin (one more for the end)
    <key>.snap.json     written last, the commit point: format, manifest key, the record's stamp,
                        the ids, and the size and CRC-32 of each file above

Mapped pages live once in the OS page cache and are shared by every process that maps them
(`ragqa serve --workers N`, each `ragqa ask`), and opening costs a few milliseconds instead of
reading every chunk back from Chroma. The files are a cache of the store: missing, of another
format, for another record stamp, truncated or failing their CRC, they are removed and rebuilt
from Chroma (never trusted). The CRC runs in a thread that needs no interpreter lock, while the
rest of the project loads (`verified`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragqa.index.catalogue import atomic_write
from ragqa.index.lexical import CollectionFiles, manifest_key
from ragqa.index.store import ChunkStore, ChunkStoreSnapshot, StoredChunk
from ragqa.index.vectors import VectorIndex

log = logging.getLogger("ragqa.index")
SNAPSHOT_FORMAT = "snap-1"
PARTS = ("vectors.npy", "chunks.bin", "offsets.npy")
_STREAM_PAGE = 2_000  # chunks read from the store at once while a snapshot is written
_CRC_BLOCK = 1 << 24  # 16 MiB: zlib releases the interpreter lock while it sums a block


class DamagedSnapshotError(ValueError):
    """A snapshot file that is not what its header says (to be rebuilt from the store)."""


class ProjectSnapshot:
    """All of a project's live chunks and vectors, memory-mapped: exact search over the vectors
    in a few milliseconds, chunks decoded on demand. Same interface as `ChunkStoreSnapshot`."""

    def __init__(self, ids: list[str], vectors: npt.NDArray[np.float32], blob: Any,
                 offsets: npt.NDArray[np.int64], check: threading.Thread | None = None) -> None:
        self.ids = ids
        self.rows = {chunk_id: row for row, chunk_id in enumerate(ids)}
        self.vectors = vectors
        self.search = VectorIndex(vectors)
        self._blob = blob
        self._offsets = offsets
        self._check = check
        self.problem: str | None = None  # what the CRC check found wrong, once it has run

    def verified(self) -> bool:
        """Wait for the CRC check started at open; whether every file is whole."""
        if self._check is not None:
            self._check.join()
            self._check = None
        return self.problem is None

    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        """The chunks with these ids, in the order given (unknown ones left out)."""
        found = []
        for chunk_id in ids:
            row = self.rows.get(chunk_id)
            if row is not None:
                start, end = int(self._offsets[row]), int(self._offsets[row + 1])
                text, metadata = json.loads(bytes(self._blob[start:end]))
                found.append(StoredChunk(chunk_id, text, metadata))
        return found

    def nearest(self, vector: Sequence[float], count: int) -> list[tuple[str, float]]:
        """The `count` chunks most similar to `vector` (cosine; stored vectors are normalised)."""
        return self.search.nearest_ids(self.ids, vector, count)


@dataclass(frozen=True)
class _Header:
    ids: list[str]
    dim: int
    sizes: dict[str, int]
    crcs: dict[str, int]


class SnapshotStore(CollectionFiles):
    """The snapshots of every project, one folder per collection (see the module docstring)."""

    suffix = ".snap.json"

    def files(self, collection: str, live_ids: Iterable[str], stamp: str) -> dict[str, Path]:
        """The header and data files of one manifest's snapshot. The data files are named by the
        record stamp too: a reader that has just read an older header never maps newer data."""
        header = self.path(collection, live_ids)
        stem = f"{header.name.removesuffix(self.suffix)}-{zlib.crc32(stamp.encode()):08x}"
        return {"header": header, **{part: header.with_name(f"{stem}.{part}") for part in PARTS}}

    def prune(self, collection: str, keep: Sequence[set[str]]) -> None:
        """Delete this collection's files except those of the manifests in `keep`."""
        keys = {manifest_key(ids) for ids in keep}
        folder = self.root / collection
        for path in folder.glob("*") if folder.exists() else []:
            if path.name.split(".", 1)[0].split("-", 1)[0] not in keys:
                path.unlink(missing_ok=True)

    def open(self, collection: str, live_ids: set[str], stamp: str) -> ProjectSnapshot | None:
        """The snapshot of exactly these chunks written for the record `stamp`, its CRC check
        running (see `ProjectSnapshot.verified`); None when there is none or it is unusable (then
        its files are removed, saying why unless it is merely outdated)."""
        files = self.files(collection, live_ids, stamp)
        if not files["header"].exists():
            return None
        try:
            header = _read_header(files["header"], manifest_key(live_ids), stamp, len(live_ids))
            return _map(files, header)
        except _Outdated:  # the next write replaces it
            return None
        except Exception as error:  # any damage: the files are a cache, rebuilt from the store
            log.warning("snapshot %s is damaged (%s); rebuilding it from the vector store",
                        files["header"], _describe(error))
            self.discard(collection, live_ids, stamp)
            return None

    def discard(self, collection: str, live_ids: Iterable[str], stamp: str) -> None:
        """Remove one manifest's snapshot (the header first: without it the rest is unused)."""
        for path in self.files(collection, live_ids, stamp).values():
            path.unlink(missing_ok=True)

    def stream(self, collection: str, live_ids: set[str], stamp: str, store: ChunkStore) -> bool:
        """Write the snapshot from the store a page of chunks at a time (the ingest's memory stays
        flat); False when a chunk is missing or the files cannot be written."""
        files = self.files(collection, live_ids, stamp)
        ids = sorted(live_ids)
        temporary = {part: files[part].with_name(files[part].name + ".part") for part in PARTS}
        try:
            files["header"].parent.mkdir(parents=True, exist_ok=True)
            offsets = np.zeros(len(ids) + 1, dtype=np.int64)
            vectors: Any = None
            crc, written = 0, 0
            with open(temporary["chunks.bin"], "wb") as blob:
                for start in range(0, len(ids), _STREAM_PAGE):
                    page = ids[start:start + _STREAM_PAGE]
                    found = {chunk.id: (chunk, vector)
                             for chunk, vector in store.read(page, with_vectors=True)}
                    if len(found) < len(page):
                        return False
                    for row, chunk_id in enumerate(page, start):
                        chunk, vector = found[chunk_id]
                        if vectors is None:
                            vectors = np.lib.format.open_memmap(
                                temporary["vectors.npy"], mode="w+", dtype=np.float32,
                                shape=(len(ids), len(vector)))
                        vectors[row] = vector
                        data = json.dumps([chunk.text, chunk.metadata], separators=(",", ":")).encode()
                        blob.write(data)
                        crc = zlib.crc32(data, crc)
                        written += len(data)
                        offsets[row + 1] = written
            if vectors is None:
                vectors = np.lib.format.open_memmap(temporary["vectors.npy"], mode="w+", dtype=np.float32,
                                                    shape=(0, 0))
            dim = int(vectors.shape[1])
            vectors.flush()
            del vectors
            with open(temporary["offsets.npy"], "wb") as stream:  # a name np.save leaves as it is
                np.save(stream, offsets, allow_pickle=False)
            sizes = {part: temporary[part].stat().st_size for part in PARTS}
            crcs = {part: _crc(temporary[part]) for part in ("vectors.npy", "offsets.npy")}
            crcs["chunks.bin"] = crc
            for part in PARTS:
                os.replace(temporary[part], files[part])
            self._commit(files, live_ids, stamp, ids, dim, sizes, crcs)
            return True
        except OSError as error:
            log.warning("snapshot %s cannot be written (%s); answering from memory",
                        files["header"], _describe(error))
            return False
        finally:
            for path in temporary.values():
                path.unlink(missing_ok=True)

    def _commit(self, files: dict[str, Path], live_ids: set[str], stamp: str, ids: list[str], dim: int,
                sizes: dict[str, int], crcs: dict[str, int]) -> None:
        """Write the header (the commit point) and remove another stamp's data files."""
        header = {"format": SNAPSHOT_FORMAT, "key": manifest_key(live_ids), "stamp": stamp, "dim": dim,
                  "ids": ids, "sizes": sizes, "crcs": crcs}
        atomic_write(files["header"], json.dumps(header, separators=(",", ":")).encode())
        for old in files["header"].parent.glob(f"{files['header'].name.split('.', 1)[0]}-*"):
            if old not in files.values():  # another stamp's data (its readers keep their maps)
                old.unlink(missing_ok=True)


class _Outdated(ValueError):
    """A snapshot of another format or record stamp: not damage, only to be rebuilt."""


def _read_header(path: Path, key: str, stamp: str, count: int) -> _Header:
    data = json.loads(path.read_bytes())
    if data.get("format") != SNAPSHOT_FORMAT or data.get("stamp") != stamp:
        raise _Outdated(path)
    if data.get("key") != key or len(data.get("ids", ())) != count:
        raise DamagedSnapshotError("it holds another set of chunks")
    return _Header(list(data["ids"]), int(data["dim"]), {k: int(v) for k, v in data["sizes"].items()},
                   {k: int(v) for k, v in data["crcs"].items()})


def _map(files: dict[str, Path], header: _Header) -> ProjectSnapshot:
    """Map the data files after checking their sizes; their CRCs are summed in a thread."""
    for part in PARTS:
        size = files[part].stat().st_size
        if size != header.sizes[part]:
            raise DamagedSnapshotError(f"{files[part].name} holds {size} bytes of {header.sizes[part]}")
    vectors = np.load(files["vectors.npy"], mmap_mode="r", allow_pickle=False)
    offsets = np.load(files["offsets.npy"], mmap_mode="r", allow_pickle=False)
    count = len(header.ids)
    if vectors.shape != (count, header.dim) or vectors.dtype != np.float32 or offsets.shape != (count + 1,):
        raise DamagedSnapshotError("its arrays have the wrong shape")
    blob = np.memmap(files["chunks.bin"], dtype=np.uint8, mode="r") if header.sizes["chunks.bin"] \
        else np.zeros(0, np.uint8)
    snapshot = ProjectSnapshot(header.ids, vectors, blob, offsets)
    check = threading.Thread(target=_check, args=(snapshot, files, header), name="ragqa-snapshot-crc",
                             daemon=True)
    snapshot._check = check
    check.start()
    return snapshot


def _check(snapshot: ProjectSnapshot, files: dict[str, Path], header: _Header) -> None:
    try:
        for part in PARTS:
            crc = _crc(files[part])
            if crc != header.crcs[part]:
                snapshot.problem = f"{files[part].name} fails its CRC"
                return
        offsets = snapshot._offsets
        if len(offsets) and (int(offsets[0]) != 0 or int(offsets[-1]) != header.sizes["chunks.bin"]
                             or bool(np.any(np.diff(offsets) <= 0))):
            snapshot.problem = "its offsets do not cover chunks.bin"
    except Exception as error:  # an unreadable file is damage like any other
        snapshot.problem = _describe(error)


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as stream:
        while block := stream.read(_CRC_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc



def _describe(error: Exception) -> str:
    text = " ".join(str(error).split())[:120]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def read_back(snapshots: SnapshotStore, store: ChunkStore, collection: str, live_ids: set[str],
              stamp: str) -> ProjectSnapshot | ChunkStoreSnapshot:
    """The project's chunks read back from the store into a new snapshot, a page at a time, then
    mapped; when some are missing (another process writing at that moment, or lost) or the files
    cannot be written, read once more into memory and served from there."""
    if snapshots.stream(collection, live_ids, stamp, store):
        mapped = snapshots.open(collection, live_ids, stamp)
        if mapped is not None:
            return mapped
    ids = sorted(live_ids)
    memory = ChunkStoreSnapshot.load(store, ids)
    if len(memory.ids) < len(ids):
        memory = ChunkStoreSnapshot.load(store, ids)
    return memory
