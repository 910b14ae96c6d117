"""An organisation's scale, synthetic (not a test): 200 projects, 1,000,000 chunks in one storage.

    nice -n 10 python bench/org.py --storage ORG_STORAGE                      # 1M in 200 projects
    nice -n 10 python bench/org.py --storage DIR --chunks 100000 --projects 40   # smaller

What it writes is what `ragqa ingest` leaves behind, with generated vectors instead of embedded
ones: each project's Chroma collection (ids, vectors, texts, the flat metadata of
`ragqa.index.store.chunk_metadata`), its registry record (files, chunk ids, symbols), its BM25
index (`LexicalStore.update`, the ingest's own call) and its code-graph file (`GraphStore.update`,
with empty facts: synthetic code calls nothing). The chunks go to Chroma with the plain
`collection.add`, not through llama-index's `ChromaVectorStore` as ingest writes them: that
wraps every chunk in a `TextNode` and stores its JSON beside the text, which costs more time than
the generated data is worth; reading, which is what the benchmark measures, is the same.

Speed: 140–220 chunks/s on the shared 2-core machine (Chroma's writes a third of the time,
generating and tokenising texts for BM25 the rest), so 1M takes 1.5–2 hours, not minutes.
Projects are written in random order and the run is resumable: stopped early, it leaves a fair
sample of the organisation (`questions.jsonl` grows with it).

The data, made to look like code search where it matters to search:
- sizes: a few large projects (20–60k chunks), some medium (5–15k), most small (1–5k);
- vectors: 384 dimensions on the unit sphere, a mixture of Gaussians — topics shared across the
  organisation, each file near one of its project's topics, each chunk near its file — with a
  decaying spectrum (a few directions carry most of the variance, as in real sentence embeddings);
- texts: lines of code-like names and words drawn with Zipf frequencies, each topic with words of
  its own, so BM25 and the vectors agree on what a chunk is about;
- questions (`questions.jsonl` in the storage): a chunk's words, and a vector near the chunk's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragqa.chunking import Chunk
from ragqa.chunking.references import FileFacts
from ragqa.index.chroma import chroma_client, get_or_create_collection
from ragqa.index.embedders import embedder_name
from ragqa.index.graph import GraphStore
from ragqa.index.lexical import LexicalStore
from ragqa.index.registry import FileEntry, ProjectRecord, Registry
from ragqa.index.store import chunk_metadata, lexical_doc
from ragqa.ingest import _collection_name
from ragqa.settings import Settings

DIMS = 384
TOPICS = 3_000
BATCH = 5_000
Vectors = npt.NDArray[np.float32]


class Organisation:
    """The shared parts of the generated organisation: vocabulary, topics, spectrum."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.words = _vocabulary(self.rng, 20_000)
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        self.zipf = (1 / ranks) / (1 / ranks).sum()
        self.cdf = np.cumsum(self.zipf)
        self.topic_words = self.rng.choice(len(self.words), size=(TOPICS, 40), p=self.zipf ** 0.5 /
                                           (self.zipf ** 0.5).sum())
        basis, _ = np.linalg.qr(self.rng.standard_normal((DIMS, DIMS)))
        spectrum = (np.arange(1, DIMS + 1) ** -0.6).astype(np.float32)
        self.mix = (basis * spectrum).astype(np.float32)  # noise → noise with a decaying spectrum
        self.topics = _unit(self.noise(TOPICS) + 0.35 * _unit(self.rng.standard_normal(DIMS)))

    def vectors(self, topics: npt.NDArray[np.int32], file_sizes: list[int]) -> Vectors:
        """Chunk vectors: each file near its topic (`topics`, one per chunk), each chunk near its file."""
        firsts = np.cumsum([0, *file_sizes[:-1]])
        files = _unit(self.topics[topics[firsts]] + 0.45 * self.noise(len(file_sizes)))
        return _unit(np.repeat(files, file_sizes, axis=0) + 0.55 * self.noise(len(topics)))

    def noise(self, count: int) -> Vectors:
        return _unit(self.rng.standard_normal((count, DIMS), dtype=np.float32) @ self.mix.T)


def sizes(total: int, projects: int, rng: np.random.Generator) -> list[int]:
    """Project sizes: 3 % large (20–60k), 15 % medium (5–15k), the rest small (1–5k), scaled so
    they add up to `total`."""
    large = max(1, round(projects * 0.03))
    medium = max(1, round(projects * 0.15))
    drawn = np.concatenate([rng.uniform(20_000, 60_000, large), rng.uniform(5_000, 15_000, medium),
                            rng.uniform(1_000, 5_000, projects - large - medium)])
    scaled = np.maximum(50, np.round(drawn * total / drawn.sum())).astype(int)
    scaled[0] += total - int(scaled.sum())
    return sorted((int(size) for size in scaled), reverse=True)


def project_chunks(org: Organisation, name: str, count: int
                   ) -> tuple[list[Chunk], Vectors, dict[str, FileEntry]]:
    """A project's chunks, their vectors and its files."""
    rng = org.rng
    topics = rng.choice(TOPICS, size=max(3, count // 400), replace=False)
    chunks: list[Chunk] = []
    rows: list[Vectors] = []
    files: dict[str, FileEntry] = {}
    while len(chunks) < count:
        size = min(int(rng.integers(3, 30)), count - len(chunks))
        topic = int(rng.choice(topics))
        docs = rng.random() < 0.15
        path = _path(org, topic, len(files), docs)
        rows.append(np.full((size, 1), topic, dtype=np.int32))
        made = _file_chunks(org, path, topic, size, docs)
        chunks.extend(made)
        files[path] = FileEntry(
            blob=_sha1(f"{name}/{path}"), language="markdown" if docs else "python",
            kind="docs" if docs else "code", chunks=[chunk.id for chunk in made],
            symbols=[] if docs else [(chunk.symbol, "function", chunk.start_line, chunk.end_line, place)
                                     for place, chunk in enumerate(made)])
    file_sizes = [len(entry.chunks) for entry in files.values()]
    return chunks, org.vectors(np.concatenate(rows)[:, 0], file_sizes), files


def _file_chunks(org: Organisation, path: str, topic: int, count: int, docs: bool) -> list[Chunk]:
    rng = org.rng
    line = 1
    made = []
    for _ in range(count):
        length = int(rng.integers(4, 12))
        words = _words(org, topic, length * 6)
        if docs:
            heading = " ".join(words[:3]).capitalize()
            body = [f"## {heading}", ""] + [" ".join(words[i:i + 6]) + "." for i in range(6, length * 6, 6)]
            symbol = ""
        else:
            heading = ""
            symbol = "_".join(words[:2])
            body = [f"def {symbol}({words[2]}, {words[3]}):"] + [
                f"    {words[i]} = {words[i + 1]}.{words[i + 2]}({words[i + 3]}, {words[i + 4]})"
                for i in range(6, length * 6, 6)]
        text = "\n".join(body)
        end = line + text.count("\n")
        made.append(Chunk(path, line, end, text, "markdown" if docs else "python",
                          "docs" if docs else "code", symbol, heading))
        line = end + 2
    return made


def _words(org: Organisation, topic: int, count: int) -> list[str]:
    own = org.topic_words[topic][org.rng.integers(0, 40, count)]
    common = np.minimum(np.searchsorted(org.cdf, org.rng.random(count)), len(org.words) - 1)
    picked = np.where(org.rng.random(count) < 0.5, own, common)
    return [org.words[index] for index in picked]


def _path(org: Organisation, topic: int, number: int, docs: bool) -> str:
    folder = org.words[int(org.topic_words[topic][0])]
    return f"docs/{folder}/page{number}.md" if docs else f"src/{folder}/module{number}.py"


def _vocabulary(rng: np.random.Generator, count: int) -> list[str]:
    """Code-like words: syllables joined, some snake_case or camelCase names."""
    consonants, vowels = list("bcdfghklmnprstvz"), list("aeiou")
    words: set[str] = set()
    while len(words) < count:
        parts = ["".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.integers(2, 4)))
                 for _ in range(rng.integers(1, 3))]
        words.add(parts[0] + "".join(part.capitalize() for part in parts[1:]) if rng.random() < 0.3
                  else "_".join(parts))
    return sorted(words, key=lambda word: rng.random())


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _unit(matrix: npt.NDArray[Any]) -> Vectors:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def write_project(settings: Settings, client: Any, org: Organisation, name: str, count: int,
                  questions: int) -> list[dict[str, Any]]:
    """Generate one project into the storage; return its questions."""
    chunks, vectors, files = project_chunks(org, name, count)
    space = embedder_name(settings)
    commit = _sha1(name)
    record = ProjectRecord(name=name, source=f"https://example.org/{name}.git", source_kind="git",
                           web_url=f"https://example.org/{name}", commit=commit,
                           collection=_collection_name(name, space), embedder=space,
                           fingerprint="synthetic", files=files)
    collection = get_or_create_collection(client, record.collection, {"project": name, "embedder": space})
    for start in range(0, len(chunks), BATCH):
        part = chunks[start:start + BATCH]
        collection.add(ids=[chunk.id for chunk in part], embeddings=vectors[start:start + BATCH],
                       documents=[chunk.text for chunk in part],
                       metadatas=[chunk_metadata(chunk, name, commit) for chunk in part])
    LexicalStore(settings.lexical_dir).update(
        record.collection, record.live_ids(), {chunk.id: lexical_doc(chunk) for chunk in chunks}, None,
        fetch=lambda ids: [])
    GraphStore(settings.graph_dir).update(record, {}, None, lambda path: FileFacts(), parsed=False)
    Registry(client).put(record)
    return [_question(org, name, chunks[row], vectors[row])
            for row in org.rng.choice(len(chunks), size=min(questions, len(chunks)), replace=False)]


def _question(org: Organisation, project: str, chunk: Chunk, vector: Vectors) -> dict[str, Any]:
    """A question about `chunk`: some of its words (a name among them), and a vector near its own."""
    words = [word for word in chunk.text.replace("(", " ").replace(")", " ").replace(",", " ")
             .replace(".", " ").replace("=", " ").split() if word not in ("def", "##")]
    picked = [words[int(i)] for i in org.rng.choice(len(words), size=min(4, len(words)), replace=False)]
    near = _unit(vector + 0.6 * org.noise(1)[0])
    return {"project": project, "chunk": chunk.id, "question": f"where is {' '.join(picked)} handled?",
            "vector": [round(float(value), 6) for value in near]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--questions", type=int, default=3, help="questions kept per project")
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    settings = Settings(storage_dir=args.storage)
    client = chroma_client(settings)
    org = Organisation(args.seed)
    started = time.perf_counter()
    done = 0
    with (args.storage / "questions.jsonl").open("a") as out:
        planned = sizes(args.chunks, args.projects, org.rng)
        order = org.rng.permutation(len(planned))  # a run stopped early holds a fair sample
        for number in order:
            name, count = f"p{number:03d}", planned[number]
            if Registry(client).stamp(name) is None:
                for question in write_project(settings, client, org, name, count, args.questions):
                    out.write(json.dumps(question) + "\n")
                out.flush()
            done += count
            elapsed = time.perf_counter() - started
            print(f"{name}: {count:,} chunks; {done:,} in {elapsed:.0f} s ({done / elapsed:,.0f}/s)",
                  flush=True)


if __name__ == "__main__":
    main()
