"""The `Ingester` service: a source → an up-to-date, crash-safe index of one project.

An ingest runs in this order, and the order is what makes it safe to kill at any point:
1. vet the input, fetch or open the source at its commit (nothing in the index changes);
2. diff the source's files against the project's manifest by blob id — this is the diff of
   the indexed commit's tree against the new one, and unlike a commit-to-commit `git diff` it
   needs no history (clones are shallow) and also catches changed include/exclude rules;
3. chunk the changed files and embed only the chunks the collection does not hold yet (so an
   ingest that was killed half-way resumes instead of starting over);
4. write the project record with the new manifest in one step: the commit point;
5. delete every stored chunk that the manifest does not name (old versions, deleted files,
   leftovers of a killed run).
Until step 4 readers use the previous manifest, so the previous index stays answerable.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from ragqa.chunking import Chunk, ChunkedFile, FileFacts, Limits, detect, read_facts, read_file
from ragqa.errors import (
    BadSourceError,
    BusyError,
    DamagedProjectError,
    ModelError,
    ProjectNotFoundError,
    RagqaError,
)
from ragqa.freshness import Heads, behind
from ragqa.index import (
    ChunkStore,
    Embedder,
    FileEntry,
    GraphStore,
    LexicalStore,
    ProjectRecord,
    Registry,
    chroma_client,
    embedder_for,
    embedder_name,
    embedding_text,
    lexical_doc,
)
from ragqa.index.chroma import delete_collection, get_collection, get_or_create_collection
from ragqa.index.leases import Leases
from ragqa.index.snapshot import SnapshotStore
from ragqa.names import check_name
from ragqa.settings import STORAGE_PARTS, Settings
from ragqa.sources import (
    FileFilter,
    Snapshot,
    SourceKind,
    SourcePolicy,
    check_ref,
    decode_text,
    open_snapshot,
    parse_source,
    skip_by_content,
)
from ragqa.sources.git import mirror_name
from ragqa.sources.secrets import REDACTOR_VERSION, Redacted, redact
from ragqa.sources.selection import MISSING_REASON

CHUNKER_VERSION = "chunker-3"  # 2: exact gaps between chunks, symbol table; 3: language tables, AsciiDoc
EMBED_FORMAT_VERSION = "embed-text-1"  # bump when `embedding_text` changes: forces re-embedding
_COPY_BATCH = 512  # vectors copied from a sibling project per store write


class Progress(Protocol):
    """Where an ingest reports what it is doing; the CLI draws bars, the server keeps state."""

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...

    def note(self, message: str, *, verbose: bool = False) -> None:
        """A line for the user; `verbose` ones only when asked for (-v)."""
        ...


class SilentProgress:
    """Reports nothing."""

    def stage(self, name: str, total: int | None) -> None:
        """Ignore the stage."""

    def advance(self, amount: int = 1) -> None:
        """Ignore the step."""

    def note(self, message: str, *, verbose: bool = False) -> None:
        """Ignore the message."""


@dataclass
class IngestRequest:
    """What to ingest. Options left as None keep the project's stored value on a re-ingest."""

    source: str
    name: str | None = None
    ref: str | None = None
    web_url: str | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    audience: str | None = None
    instructions: str | None = None
    replace: bool = False  # index this source under a name another source holds
    reembed: bool = False  # move the project to the vector space the settings select


class IngestSummary(BaseModel):
    """The outcome of one ingest (`ragqa ingest --json`)."""

    project: str
    commit: str
    files: int
    chunks: int
    added: int
    updated: int
    deleted: int
    renamed: int
    skipped: int
    embedded: int
    reused: int = 0  # chunks whose vectors were copied from another project of the same source
    seconds: float = 0.0
    redacted: dict[str, int] = {}  # path → secrets replaced by markers in that file


@dataclass
class _Counts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    renamed: int = 0


@contextmanager
def nothing_left_on_failure(settings: Settings) -> Iterator[None]:
    """Around a command that may create the embedded store: when there was no index in the storage
    folder before and the command fails (a missing folder, an unreachable URL, Ctrl-C), what it
    created — the folder itself, or its parts inside a `storage/` that held only the marker — is
    removed again, so a failed first ingest leaves nothing behind. An existing index is never
    touched: its projects survive any failed ingest by design (records commit last)."""
    folder = settings.storage_dir
    first = not settings.chroma_url and not settings.chroma_dir.exists()  # no index here yet
    made = [folder] if not folder.exists() else [folder / part for part in STORAGE_PARTS
                                                 if not (folder / part).exists()]
    try:
        yield
    except BaseException:
        for path in made if first else []:
            shutil.rmtree(path, ignore_errors=True)
        raise


class Ingester:
    """Builds and refreshes project indexes; one instance serves any number of projects."""

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress = progress or SilentProgress()
        self.client = chroma_client(settings)
        self.registry = Registry(self.client)
        self.leases = Leases(self.client, settings.lease_ttl_s)
        self.lexical = LexicalStore(settings.lexical_dir)
        self.graph = GraphStore(settings.graph_dir)
        self.snapshots = SnapshotStore(settings.snapshot_dir)

    def ingest(self, request: IngestRequest, policy: SourcePolicy | None = None) -> IngestSummary:
        """Index `request.source` as a new project or bring an existing one up to date.

        `policy` limits what a network caller may ingest (the CLI passes none).
        """
        started = time.perf_counter()
        request = self._resolve_project_name(request)
        spec = parse_source(request.source)
        if policy is not None:
            spec = policy.vet(spec)
        name, ref = _name_and_ref(request, spec.default_name)
        if ref is not None and spec.kind is SourceKind.FOLDER:
            raise BadSourceError(f"{request.source} is a plain folder: it has no refs to check out")
        with self._lock(name):
            previous = self._previous(name, spec.location, request.replace)
            options_from = None if request.replace else previous
            space = options_from.embedder if options_from and not request.reembed else None
            record = self._new_record(request, name, ref, spec.location, spec.kind.value, options_from, space)
            self.progress.stage("fetching", None)
            snapshot = open_snapshot(spec, ref, self.settings, name)
            try:
                return self._index(snapshot, record, previous, started)
            finally:
                snapshot.close()

    def _previous(self, name: str, source: str, replace: bool) -> ProjectRecord | None:
        """The project's current record, if this ingest may update it.

        Another source under the same name is refused unless `replace` says so (a fork's links
        must not point into the original); a damaged record is rebuilt only when replaced.
        """
        try:
            previous = self.registry.get(name)
        except DamagedProjectError:
            if not replace:
                raise
            self.progress.note(f"{name}: its damaged record is replaced")
            return None
        if previous is not None and previous.source != source and not replace:
            raise BadSourceError(
                f"project {name!r} is indexed from {previous.source}, not {source}: choose another "
                f"name with --name, or add --replace to index {source} as {name!r} (its --web-url and "
                "options start afresh)")
        return previous

    def project_name(self, request: IngestRequest) -> str:
        """The project an ingest of `request` would write, known without fetching anything."""
        request = self._resolve_project_name(request)
        return _name_and_ref(request, parse_source(request.source).default_name)[0]

    def refresh(self, name: str, policy: SourcePolicy | None = None) -> IngestSummary:
        """Re-ingest a registered project from its stored source and options."""
        record = self.get(name)
        return self.ingest(IngestRequest(source=record.source, name=record.name, ref=record.ref), policy)

    def _resolve_project_name(self, request: IngestRequest) -> IngestRequest:
        """`ragqa ingest requests` refreshes the project named so, unless a folder has that name."""
        source = request.source.strip()
        if "/" in source or ":" in source or request.name or Path(source).exists():
            return request
        record = self.registry.get(source)
        if record is None:
            return request
        return replace(request, source=record.source, name=record.name,
                       ref=request.ref or record.ref)

    def get(self, name: str) -> ProjectRecord:
        """The project's record (`ProjectNotFoundError` if there is none)."""
        record = self.registry.get(check_name(name))
        if record is None:
            raise ProjectNotFoundError(f"no project named {name!r} (see `ragqa projects`)")
        return record

    def projects(self) -> list[ProjectRecord]:
        """Every readable project, by name."""
        return self.registry.all()

    def listing(self) -> list[dict[str, Any]]:
        """Every project's summary by name (with `behind` when a newer commit of its branch is
        known); a damaged one says so, and how to fix it."""
        heads = Heads(self.client)
        summaries = []
        for entry in self.registry.listing():
            summary = entry.summary()
            if isinstance(entry, ProjectRecord):
                late = behind(entry, heads.get(entry.name))
                summary["behind"] = late.model_dump(mode="json") if late else None
            summaries.append(summary)
        return summaries

    def set_tuning(self, name: str, tuning: dict[str, Any]) -> ProjectRecord:
        """Store `ragqa tune`'s fitted values in the project's record (empty: back to defaults)."""
        with self._lock(name):
            record = self.get(name)
            record.tuning = tuning
            self.registry.put(record)
            return record

    def remove(self, name: str) -> None:
        """Delete a project: its record first (so it disappears at once), then its data. A
        damaged record is removed too, with whatever of its data can still be named."""
        with self._lock(name):
            try:
                collection: str | None = self.get(name).collection
            except DamagedProjectError:
                collection = self.registry.raw_field(name, "collection")
            self.registry.delete(name)
            if isinstance(collection, str) and collection:
                delete_collection(self.client, collection)
                self.lexical.drop(collection)
                self.graph.drop(collection)
                self.snapshots.drop(collection)
            shutil.rmtree(self.settings.repos_dir / mirror_name(name), ignore_errors=True)

    def _index(self, snapshot: Snapshot, record: ProjectRecord, previous: ProjectRecord | None,
               started: float) -> IngestSummary:
        record.commit = snapshot.commit
        record.web_url = record.web_url or snapshot.web_url
        reusable = previous if previous and previous.collection == record.collection else None
        same_chunking = reusable is not None and reusable.fingerprint == record.fingerprint
        old_files = dict(reusable.files) if reusable and same_chunking else {}
        candidates, skipped = self._select(snapshot, record)
        unchanged = {path: entry for path, entry in old_files.items()
                     if candidates.get(path) == entry.blob}
        changed = [path for path in candidates if path not in unchanged]
        new_files, chunks, facts, undecodable = self._chunk(snapshot, changed, candidates)
        skipped += undecodable
        if not unchanged and not new_files:
            raise RagqaError(f"nothing to index in {record.source}: no text files left after "
                             f"skipping {skipped} (binary, generated, secret, excluded or too big)")
        store = ChunkStore(get_or_create_collection(
            self.client, record.collection, {"project": record.name, "embedder": record.embedder}))
        embedded, reused = self._embed_missing(store, chunks, record)
        if reusable is not None and not same_chunking:
            store.relabel(chunks)  # a chunker upgrade may label the stored lines better
        record.files = {**unchanged, **new_files}
        self.progress.stage("keywords", None)
        self.lexical.update(
            record.collection, record.live_ids(), {chunk.id: lexical_doc(chunk) for chunk in chunks},
            reusable.live_ids() if reusable else None,
            fetch=lambda ids: [lexical_doc(stored) for stored in store.get(ids)])
        self._update_graph(snapshot, record, facts, reusable)
        if record.chunk_count <= self.settings.memory_search_max_chunks:  # what answering maps
            self.snapshots.stream(record.collection, record.live_ids(), record.stamp, store)
        self.registry.put(record)
        self.progress.note(f"committed {record.name} @ {record.commit[:12]}", verbose=True)
        self._collect_garbage(store, record, previous)
        counts = _count_changes(previous.files if previous else {}, record.files)
        return IngestSummary(
            project=record.name, commit=record.commit, files=len(record.files),
            chunks=record.chunk_count, added=counts.added, updated=counts.updated,
            deleted=counts.deleted, renamed=counts.renamed, skipped=skipped, embedded=embedded,
            reused=reused,
            seconds=round(time.perf_counter() - started, 3),
            redacted={path: entry.redacted for path, entry in record.files.items() if entry.redacted})

    def _select(self, snapshot: Snapshot, record: ProjectRecord) -> tuple[dict[str, str], int]:
        """Path → blob of the files that pass the path rules, and how many did not."""
        rules = FileFilter(record.include, record.exclude, self.settings.max_file_bytes)
        kept: dict[str, str] = {}
        for file in snapshot.files:
            reason = rules.skip_by_path(file.path, file.size)
            if reason is None:
                kept[file.path] = file.blob
            else:
                self.progress.note(f"skipped {file.path}: {reason}", verbose=reason != MISSING_REASON)
        return kept, len(snapshot.files) - len(kept)

    def _chunk(self, snapshot: Snapshot, paths: Sequence[str], blobs: dict[str, str]
               ) -> tuple[dict[str, FileEntry], list[Chunk], dict[str, FileFacts], int]:
        """Read and chunk the changed files; files that turn out binary or undecodable drop out."""
        limits = Limits(self.settings.chunk_max_lines, self.settings.chunk_max_chars)
        self.progress.stage("chunking", len(paths))
        entries: dict[str, FileEntry] = {}
        chunks: list[Chunk] = []
        facts: dict[str, FileFacts] = {}
        dropped = 0
        for path in paths:
            self.progress.advance()
            data = snapshot.read(path)
            reason = skip_by_content(data)
            text = decode_text(data) if reason is None else None
            if text is None:
                dropped += 1
                if reason is None:
                    self.progress.note(f"skipped {path}: not valid UTF-8 text")
                else:
                    self.progress.note(f"skipped {path}: {reason}", verbose=True)
                continue
            secrets = self._redact(path, text)
            chunked = read_file(path, secrets.text, limits)
            if not chunked.chunks:
                continue
            language, kind = detect(path)
            entries[path] = FileEntry(blob=blobs[path], language=language, kind=kind,
                                      chunks=[chunk.id for chunk in chunked.chunks],
                                      symbols=_symbol_entries(chunked), redacted=secrets.count,
                                      doc_chunks=chunked.doc_chunks)
            chunks.extend(chunked.chunks)
            if chunked.facts is not None:
                facts[path] = chunked.facts
        return entries, chunks, facts, dropped

    def _update_graph(self, snapshot: Snapshot, record: ProjectRecord, facts: dict[str, FileFacts],
                      reusable: ProjectRecord | None) -> None:
        """Save the code graph's facts for the new manifest: the changed files' come from the
        chunker's trees, unchanged ones from the previous manifest's graph (or, when that is
        lost, from reading the file again). The graph is a cache: failing to write it leaves
        the ingest whole, and readers rebuild it."""
        self.progress.stage("graph", None)

        def again(path: str) -> FileFacts:
            text = decode_text(snapshot.read(path)) or ""
            if self.settings.redact_secrets:
                text = redact(path, text).text
            return read_facts(path, text)

        try:
            self.graph.update(record, facts, reusable.live_ids() if reusable else None, again, parsed=False)
        except (OSError, ValueError) as error:
            self.progress.note(f"the code graph of {record.name} was not saved ({error}); "
                               "it is rebuilt when the project is opened")

    def _redact(self, path: str, text: str) -> Redacted:
        """The text with its secrets replaced (when `redact_secrets` is on, the default)."""
        if not self.settings.redact_secrets:
            return Redacted(text)
        found = redact(path, text)
        if found.count:
            kinds = ", ".join(f"{kind} ×{count}" if count > 1 else kind
                              for kind, count in sorted(found.kinds.items()))
            self.progress.note(f"redacted {found.count} secret{'s' * (found.count > 1)} in {path} ({kinds})",
                               verbose=True)
        return found

    def _embed_missing(self, store: ChunkStore, chunks: list[Chunk], record: ProjectRecord
                       ) -> tuple[int, int]:
        """Embed and store the chunks the collection lacks; return how many were embedded and
        how many had their vectors copied from another project of the same source instead.

        Writing batch n to Chroma overlaps embedding batch n+1 (one writer thread, at most one
        batch in flight), so store writes and llama-index's import hide behind the model.
        """
        stored = store.existing_ids(chunk.id for chunk in chunks)
        todo = list({chunk.id: chunk for chunk in chunks if chunk.id not in stored}.values())
        todo, reused = self._reuse_vectors(store, todo, record)
        todo.sort(key=lambda chunk: len(chunk.text))  # batches of like length pad less
        self.progress.stage("embedding", len(todo))
        if not todo:
            return 0, reused
        embedder = embedder_for(record.embedder, self.settings)
        size = self.settings.embed_batch_size * max(4, self.settings.embed_concurrency)
        batches = [todo[start:start + size] for start in range(0, len(todo), size)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragqa-store") as writer:
            pending: Future[None] | None = None
            for index, batch in enumerate(batches, 1):
                vectors = _embed(embedder, [embedding_text(chunk) for chunk in batch])
                if pending is not None:
                    pending.result()
                pending = writer.submit(store.add, batch, vectors, record.name, record.commit)
                pending.add_done_callback(self._stored(index, len(batches), len(batch)))
            if pending is not None:
                pending.result()
        return len(todo), reused

    def _reuse_vectors(self, store: ChunkStore, todo: list[Chunk], record: ProjectRecord
                       ) -> tuple[list[Chunk], int]:
        """Copy the vectors other projects of the same source already hold (another branch, an
        older commit under another name): a chunk id stands for a path, its lines and their
        text, and the embedder and chunker must match, so the vector is the one embedding would
        give. Returns the chunks still to embed and how many were copied."""
        reused = 0
        for sibling in self._siblings(record):
            if not todo:
                break
            live = sibling.live_ids()
            wanted = {chunk.id: chunk for chunk in todo if chunk.id in live}
            collection = get_collection(self.client, sibling.collection) if wanted else None
            if collection is None:
                continue
            found: dict[str, list[float]] = {
                stored.id: list(vector) for stored, vector in
                ChunkStore(collection).read(list(wanted), with_vectors=True) if vector is not None}
            copied = [wanted[chunk_id] for chunk_id in found]
            for start in range(0, len(copied), _COPY_BATCH):
                batch = copied[start:start + _COPY_BATCH]
                store.add(batch, [found[chunk.id] for chunk in batch], record.name, record.commit)
            reused += len(copied)
            todo = [chunk for chunk in todo if chunk.id not in found]
        if reused:
            self.progress.note(f"reused {reused} vectors from projects of the same source", verbose=True)
        return todo, reused

    def _siblings(self, record: ProjectRecord) -> list[ProjectRecord]:
        """Other projects indexed from the same source with the same embedder, embedding text
        and chunking."""
        return [other for other in self.registry.all()
                if other.name != record.name and other.source == record.source
                and other.embedder == record.embedder and other.fingerprint == record.fingerprint
                and other.collection == _collection_name(other.name, record.embedder)]

    def _stored(self, index: int, total: int, size: int) -> Callable[[Future[None]], None]:
        def report(done: Future[None]) -> None:
            if done.exception() is None:
                self.progress.advance(size)
                self.progress.note(f"stored batch {index}/{total}", verbose=True)
        return report

    def _collect_garbage(self, store: ChunkStore, record: ProjectRecord,
                         previous: ProjectRecord | None) -> None:
        stale = store.all_ids() - record.live_ids()
        if stale:
            store.delete(stale)
            self.progress.note(f"deleted {len(stale)} stale chunks", verbose=True)
        if previous and previous.collection != record.collection:
            delete_collection(self.client, previous.collection)
            self.lexical.drop(previous.collection)
            self.graph.drop(previous.collection)
            self.snapshots.drop(previous.collection)
        keep = [record.live_ids()]
        if previous is not None and previous.collection == record.collection:
            keep.append(previous.live_ids())  # for readers still holding the previous record
        self.lexical.prune(record.collection, keep)
        self.graph.prune(record.collection, keep)
        self.snapshots.prune(record.collection, keep)

    def _new_record(self, request: IngestRequest, name: str, ref: str | None, source: str,
                    kind: str, previous: ProjectRecord | None, space: str | None) -> ProjectRecord:
        """The record this ingest will write; options not given keep their stored values, and
        the vector space is `space` (the project's own) or else the one the settings select."""
        embedder = space or embedder_name(self.settings)
        record = ProjectRecord(
            name=name, source=source, source_kind=kind, ref=ref, commit="",
            collection=_collection_name(name, embedder), embedder=embedder,
            fingerprint=f"{CHUNKER_VERSION}:{self.settings.chunk_max_lines}:"
                        f"{self.settings.chunk_max_chars}:"
                        f"{REDACTOR_VERSION if self.settings.redact_secrets else 'no-redaction'}",
            redact_secrets=self.settings.redact_secrets)
        options = {"web_url": _clean_web_url(request.web_url), "include": request.include,
                   "exclude": request.exclude, "audience": request.audience,
                   "instructions": request.instructions}
        for option, value in options.items():
            if value is not None:
                setattr(record, option, value)
            elif previous is not None:
                setattr(record, option, getattr(previous, option))
        return record

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        """One ingest per project at a time: a file lock for this machine, then a lease in the
        store for every process sharing it (`ragqa.index.leases`)."""
        self.settings.locks_dir.mkdir(parents=True, exist_ok=True)
        path = self.settings.locks_dir / f"{mirror_name(name)}.lock"
        with path.open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BusyError(f"another ingest of {name!r} is running") from None
            with self.leases.hold(name):
                yield


def _embed(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    """Vectors for a batch; a failing model is a `ModelError` that names the model."""
    try:
        return embedder.embed_documents(texts)
    except RagqaError:
        raise
    except Exception as error:
        raise ModelError(f"the embedding model ({embedder.name}) failed: {type(error).__name__}: "
                         f"{' '.join(str(error).split())[:200]}") from error


def _symbol_entries(chunked: ChunkedFile) -> list[tuple[str, str, int, int, int]]:
    """The file's definitions as the record keeps them, each with the chunk holding its first line."""
    starts = [chunk.start_line for chunk in chunked.chunks]
    return [(found.name, found.kind, found.start_line, found.end_line,
             max(0, bisect.bisect_right(starts, found.start_line) - 1))
            for found in chunked.definitions]


def _count_changes(before: dict[str, FileEntry], after: dict[str, FileEntry]) -> _Counts:
    """Files added, updated, deleted and renamed (same blob, new path) between two manifests."""
    counts = _Counts()
    gone = [path for path in before if path not in after]
    gone_blobs = {before[path].blob for path in gone}
    for path, entry in after.items():
        if path in before:
            counts.updated += before[path].blob != entry.blob
        elif entry.blob in gone_blobs:
            counts.renamed += 1
        else:
            counts.added += 1
    counts.deleted = len(gone) - counts.renamed
    return counts


def _name_and_ref(request: IngestRequest, default_name: str) -> tuple[str, str | None]:
    """`--name repo@v2` with no `--ref` means ref v2; a default name carries the ref too."""
    ref = check_ref(request.ref)
    name = request.name
    if name is None:
        name = f"{default_name}@{ref}" if ref else default_name
    elif ref is None and "@" in name:
        ref = check_ref(name.rsplit("@", 1)[1])
    return check_name(name), ref


def _collection_name(project: str, embedder: str) -> str:
    """Per project and vector space, so a change of embedder builds a fresh collection."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", project).strip("-._")[:40] or "project"
    key = f"{project}\0{embedder}\0{EMBED_FORMAT_VERSION}"
    return f"ragqa-{slug}-{hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12]}"


def _clean_web_url(url: str | None) -> str | None:
    if url is None:
        return None
    url = url.strip().rstrip("/").removesuffix(".git")
    if not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", url):
        raise BadSourceError(f"--web-url must be an http(s) URL, not {url!r}")
    return url


