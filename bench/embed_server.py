"""Ingest through an OpenAI-compatible embeddings server at several `RAGQA_EMBED_CONCURRENCY`
values (not a test).

    python bench/embed_server.py --repo PATH [--delay 0.05] [--concurrency 1,4,8]

The server is the loopback fake of the tests (tests/fake_llm.py) adding `--delay` seconds per
batch, the stand-in for a remote GPU box (TEI, vLLM, Ollama): what is measured is how well ragqa
keeps it busy, not the model. Each run ingests into a fresh storage dir.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fake_llm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="a local clone or folder")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the server adds per batch")
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    from ragqa.ingest import Ingester, IngestRequest
    from ragqa.settings import Settings
    from tests.fake_llm import FakeLLM

    for concurrency in (int(value) for value in args.concurrency.split(",")):
        with FakeLLM(embed_delay=args.delay) as server, tempfile.TemporaryDirectory() as storage:
            settings = Settings(storage_dir=Path(storage), embedder="openai", llm="none",
                                openai_base_url=server.base_url, embed_batch_size=args.batch_size,
                                embed_concurrency=concurrency, _env_file=None)  # type: ignore[call-arg]
            started = time.perf_counter()
            summary = Ingester(settings).ingest(IngestRequest(source=args.repo, name="bench"))
            seconds = time.perf_counter() - started
            print(f"concurrency {concurrency}: {summary.chunks} chunks in {seconds:.1f} s "
                  f"({summary.chunks / seconds:.0f} chunks/s), {server.embed_requests} batches, "
                  f"at most {server.most_in_flight} in flight")


if __name__ == "__main__":
    main()
