"""The code graph's cost on a folder of code (not a test): what extracting its facts adds to
chunking, how big its stored file is per 10k chunks, how long resolving it takes when a
project opens, how long a one-file re-ingest spends on it (the changed file's facts, then the
stored graph rewritten for the new manifest, every other file's line copied), and how long one
personalised PageRank over it takes.

    python bench/graph.py /path/to/a/checkout [--repeat 3]

No embedding and no vector store: the folder is chunked exactly as ingest chunks it (the same
`read_file`), its record is built in memory, and the graph is resolved and saved as the
`GraphStore` saves it. The embedding stage an ingest adds on top (tens of chunks per second on
2 cores) is far slower than all of this, so the share of chunking is an upper bound of the
share of a first ingest.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ragqa.chunking import ChunkedFile, detect, read_file
from ragqa.chunking.code import parse
from ragqa.chunking.references import file_facts
from ragqa.index.graph import GraphStore, build
from ragqa.index.registry import FileEntry, ProjectRecord
from ragqa.ingest import _symbol_entries
from ragqa.languages import by_grammar
from ragqa.retrieve.spread import personalised_pagerank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(path for path in args.folder.rglob("*")
                   if path.is_file() and detect(str(path))[1] == "code" and path.stat().st_size < 500_000)
    texts = {str(path.relative_to(args.folder)): path.read_text("utf-8", errors="replace") for path in paths}
    started = time.process_time()
    chunked: dict[str, ChunkedFile] = {path: read_file(path, text) for path, text in texts.items()}
    chunk_cpu = time.process_time() - started
    facts_cpu = 0.0
    for path, text in texts.items():
        language = detect(path)[0]
        entry = by_grammar(language)
        if entry is None:
            continue
        tree = parse(text.encode("utf-8"), language)
        begun = time.process_time()
        file_facts(tree, entry)
        facts_cpu += time.process_time() - begun
    record = ProjectRecord(name="bench", source=str(args.folder), source_kind="folder", commit="0" * 40,
                           collection="bench", embedder="none", fingerprint="bench")
    record.files = {path: FileEntry(blob=f"{index:040d}", language=detect(path)[0], kind="code",
                                    chunks=[chunk.id for chunk in found.chunks],
                                    symbols=_symbol_entries(found))
                    for index, (path, found) in enumerate(chunked.items()) if found.chunks}
    facts = {path: found.facts for path, found in chunked.items() if found.facts is not None}
    chunks = record.chunk_count
    with tempfile.TemporaryDirectory() as folder:
        store = GraphStore(Path(folder))
        store.update(record, facts, None, lambda path: facts[path])
        size = os.path.getsize(store.path("bench", record.live_ids()))
        began = time.process_time()
        for _ in range(args.repeat):
            graph = build(record, store.update(record, {}, None, lambda path: facts[path]))
        open_cpu = (time.process_time() - began) / args.repeat
        reingest_cpu = _one_file_reingest(store, record, texts, facts, args.repeat)
    seeds = {node.id: 1.0 for node in graph.nodes[:: max(1, len(graph) // 10)][:10]}
    began = time.process_time()
    for _ in range(args.repeat):
        personalised_pagerank(graph, seeds)
    walk_ms = (time.process_time() - began) / args.repeat * 1000
    per_10k = 10_000 / max(chunks, 1)
    print(f"files {len(record.files)}, chunks {chunks}, graph nodes {len(graph)}, edges {graph.edge_count}")
    print(f"chunking CPU {chunk_cpu:.2f} s, of which graph facts {facts_cpu:.2f} s "
          f"({100 * facts_cpu / max(chunk_cpu, 1e-9):.1f} %)")
    print(f"stored graph {size / 1024:.0f} KiB = {size * per_10k / 1024:.0f} KiB per 10k chunks")
    print(f"open (read + resolve) CPU {open_cpu * 1000:.0f} ms = "
          f"{open_cpu * per_10k * 1000:.0f} ms per 10k chunks")
    print(f"one-file re-ingest's graph work (its facts, the stored graph rewritten) CPU "
          f"{reingest_cpu * 1000:.0f} ms")
    print(f"one personalised PageRank: {walk_ms:.1f} ms CPU")


def _one_file_reingest(store: GraphStore, record: ProjectRecord, texts: dict[str, str],
                       facts: dict[str, Any], repeat: int) -> float:
    """CPU seconds of the graph's share of re-ingesting one changed file (the largest with facts):
    its facts read from its tree, then `GraphStore.update` against the previous manifest."""
    path = max(facts, key=lambda name: len(record.files[name].chunks) if name in record.files else 0)
    base_ids = record.live_ids()
    language = detect(path)[0]
    entry = by_grammar(language)
    total = 0.0
    for attempt in range(repeat):
        changed = copy.deepcopy(record)
        changed.files[path].blob = f"{attempt + 1:040x}"
        changed.files[path].chunks = [f"{chunk_id}-{attempt}" for chunk_id in changed.files[path].chunks]
        tree = parse(texts[path].encode("utf-8"), language)  # chunking's own parse: not the graph's cost
        began = time.process_time()
        new = {path: file_facts(tree, entry) if entry is not None else facts[path]}
        store.update(changed, new, base_ids, lambda name: facts[name], parsed=False)
        total += time.process_time() - began
    return total / repeat


if __name__ == "__main__":
    main()
