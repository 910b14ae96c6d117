"""Ingest benchmark (not a test): first ingest, no-op re-ingest, one-file-change re-ingest, and
the raw embedding time of the same chunks.

    python bench/ingest.py /path/to/repo-or-URL [--ref REF]

The repository is copied into a temp dir (so one file can be changed and committed) and ingested
through `file://` into a temp storage dir. Re-ingests are timed twice: in process (model already
loaded, as in `ragqa serve`) and as a fresh `ragqa ingest` process (what the CLI user waits for).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ragqa.chunking import Limits, chunk_file
from ragqa.index import embedding_text, get_embedder
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from ragqa.sources import FileFilter, decode_text, skip_by_content

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a local git repository or a git URL")
    parser.add_argument("--ref", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-") as tmp:
        work = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", args.source, str(work)], check=True)
        if args.ref:
            subprocess.run(["git", "-C", str(work), "checkout", "-q", args.ref], check=True)
        settings = Settings(storage_dir=Path(tmp) / "storage", _env_file=None)  # type: ignore[call-arg]
        run(work, settings)


def run(work: Path, settings: Settings) -> None:
    ingester = Ingester(settings)
    source = work.as_uri()
    get_embedder(settings).embed_query("warm up")  # model load is timed separately below
    raw_before = raw_embedding_seconds(work, settings)

    first = ingester.ingest(IngestRequest(source=source, name="bench"))
    report("first ingest", first.files, first.chunks, first.embedded, first.seconds)
    noop = ingester.ingest(IngestRequest(source=source, name="bench"))
    report("no-op re-ingest (in process)", noop.files, noop.chunks, noop.embedded, noop.seconds)
    print(f"{'no-op re-ingest (fresh CLI)':34} {cli_seconds(source, settings):8.2f} s wall")

    changed = change_one_file(work, ingester.get("bench").files)
    one = ingester.ingest(IngestRequest(source=source, name="bench"))
    report(f"one-file change (in process) {changed}", one.files, one.chunks, one.embedded, one.seconds)
    change_one_file(work, ingester.get("bench").files, path=changed)
    print(f"{'one-file change (fresh CLI)':34} {cli_seconds(source, settings):8.2f} s wall")

    raw_after = raw_embedding_seconds(work, settings)
    raw = (raw_before + raw_after) / 2
    print(f"{'raw embedding of the same chunks':34} {raw:8.2f} s  "
          f"({first.chunks / raw:.1f} chunks/s; {raw_before:.2f} s before the ingest, "
          f"{raw_after:.2f} s after)")
    print(f"first ingest / raw embedding = {first.seconds / raw:.2f}  (target <= 1.25)")


def report(label: str, files: int, chunks: int, embedded: int, seconds: float) -> None:
    rate = embedded / seconds if seconds and embedded else 0.0
    print(f"{label:34} {seconds:8.2f} s  files={files} chunks={chunks} embedded={embedded} "
          f"({rate:.1f} chunks/s)")


def change_one_file(work: Path, indexed: dict[str, object], path: str | None = None) -> str:
    """Append a line to one indexed Python (else any) file and commit it."""
    path = path or next((p for p in sorted(indexed) if p.endswith(".py")), sorted(indexed)[0])
    with (work / path).open("a", encoding="utf-8") as handle:
        handle.write(f"\n# bench edit {time.time()}\n")
    subprocess.run([*GIT, "-C", str(work), "commit", "-qam", "bench edit"], check=True)
    return path


def cli_seconds(source: str, settings: Settings) -> float:
    env = {**os.environ, "RAGQA_STORAGE_DIR": str(settings.storage_dir)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ragqa", "ingest", source, "--name", "bench", "--json"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def raw_embedding_seconds(work: Path, settings: Settings) -> float:
    """Chunk the files ragqa would index and time only the embedder on them, in file order."""
    limits = Limits(settings.chunk_max_lines, settings.chunk_max_chars)
    rules = FileFilter(max_bytes=settings.max_file_bytes)
    listed = subprocess.run(["git", "-C", str(work), "ls-files", "-z"], check=True,
                            capture_output=True, text=True).stdout.split("\0")
    texts = []
    for path in sorted(p for p in listed if p):
        if (work / path).is_symlink():
            continue
        data = (work / path).read_bytes()
        if rules.skip_by_path(path, len(data)) or skip_by_content(data):
            continue
        text = decode_text(data)
        texts += [embedding_text(chunk) for chunk in chunk_file(path, text or "", limits)]
    embedder = get_embedder(settings)
    started = time.perf_counter()
    for start in range(0, len(texts), settings.embed_batch_size * 4):
        embedder.embed_documents(texts[start:start + settings.embed_batch_size * 4])
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
