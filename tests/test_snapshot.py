"""A project's snapshot (memory-mapped chunks and vectors) and the registry's catalogue: written by
the ingest, answering exactly as the store does, healed when missing, outdated or damaged, and
letting `ragqa ask` / `ragqa locate` answer in their own process without importing Chroma.
Real git repositories, real embedded Chroma, the real CLI in child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragqa.answer import Answerer
from ragqa.index.lexical import manifest_key
from ragqa.index.snapshot import ProjectSnapshot, SnapshotStore
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo, run_cli

QUESTION = "How do I retry a call with exponential backoff?"
TRACE = 'Traceback (most recent call last):\n  File "src/sample/http.py", line 3, in get\nTimeoutError'
BLOCK_CHROMA = ("import runpy, sys\nsys.modules['chromadb'] = None\nsys.argv = ['ragqa', *sys.argv[1:]]\n"
                "runpy.run_module('ragqa', run_name='__main__')\n")


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Settings, GitRepo]:
    repo = GitRepo(tmp_path / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD).commit("initial")
    settings = Settings(storage_dir=tmp_path / "storage", llm="none", project_check_s=0,
                        _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url="https://github.com/acme/sample"))
    return settings, repo


def snapshot_files(settings: Settings) -> dict[str, Path]:
    record = Answerer(settings, llm=None).project("sample").record
    return SnapshotStore(settings.snapshot_dir).files(record.collection, record.live_ids(), record.stamp)


def answer_of(settings: Settings) -> dict[str, object]:
    answer = Answerer(settings).ask(QUESTION, "sample").model_dump(mode="json")
    answer.pop("timings_ms")
    return answer


def test_the_ingest_writes_the_snapshot_and_answers_from_it_as_from_the_store(
        indexed: tuple[Settings, GitRepo]) -> None:
    settings, _ = indexed
    files = snapshot_files(settings)
    assert all(path.is_file() for path in files.values())
    index = Answerer(settings).project("sample")
    assert isinstance(index.memory, ProjectSnapshot)
    assert isinstance(index.memory.vectors, np.memmap)  # mapped, not read into the process
    from_snapshot = answer_of(settings)
    for path in files.values():
        path.unlink()
    from_store = answer_of(settings)  # read back from Chroma, and written again
    assert from_snapshot == from_store and from_store["answered"]
    assert all(path.is_file() for path in files.values())
    chunks = index.memory.get(sorted(index.record.live_ids()))
    assert [chunk.text for chunk in chunks] == [chunk.text for chunk in index.store.get(index.memory.ids)]


@pytest.mark.parametrize("damage", ["truncate chunks", "flip a vector byte", "garbage header",
                                    "foreign header"])
def test_a_damaged_snapshot_is_rebuilt_from_the_store_never_trusted(
        indexed: tuple[Settings, GitRepo], damage: str, caplog: pytest.LogCaptureFixture) -> None:
    settings, _ = indexed
    expected = answer_of(settings)
    files = snapshot_files(settings)
    if damage == "truncate chunks":
        data = files["chunks.bin"].read_bytes()
        files["chunks.bin"].write_bytes(data[: len(data) // 2])
    elif damage == "flip a vector byte":
        data = bytearray(files["vectors.npy"].read_bytes())
        data[-3] ^= 0xFF
        files["vectors.npy"].write_bytes(bytes(data))
    elif damage == "garbage header":
        files["header"].write_bytes(b"\x00{not json")
    else:
        header = json.loads(files["header"].read_text())
        header["key"] = manifest_key(["someone-else"])
        files["header"].write_text(json.dumps(header))
    assert answer_of(settings) == expected
    assert "damaged" in caplog.text and "rebuilding it from the vector store" in caplog.text
    index = Answerer(settings).project("sample")
    assert isinstance(index.memory, ProjectSnapshot) and index.memory.verified()


def test_a_new_record_stamp_outdates_the_snapshot(indexed: tuple[Settings, GitRepo]) -> None:
    settings, _ = indexed
    before = snapshot_files(settings)
    Ingester(settings).set_tuning("sample", {"tuned_at": "2026-12-07T00:00:00+00:00"})
    after = snapshot_files(settings)
    assert after["header"] == before["header"] and after["vectors.npy"] != before["vectors.npy"]
    assert answer_of(settings)["answered"]
    assert json.loads(after["header"].read_text())["stamp"].endswith("2026-12-07T00:00:00+00:00")
    assert after["vectors.npy"].is_file() and not before["vectors.npy"].exists()


def blocked(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI with Chroma made unimportable."""
    return subprocess.run([sys.executable, "-c", BLOCK_CHROMA, *args], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def without_timings(text: str) -> dict[str, object]:
    shown = json.loads(text)
    shown.pop("timings_ms")
    return shown


def test_the_cli_answers_without_chroma_while_the_store_is_unchanged(
        indexed: tuple[Settings, GitRepo], cli_env: dict[str, str]) -> None:
    settings, repo = indexed
    env = {**cli_env, "RAGQA_STORAGE_DIR": str(settings.storage_dir), "RAGQA_SERVER": "off",
           "RAGQA_LLM": "none"}
    first = run_cli(env, "ask", QUESTION, "--json")  # reads the store, writes the catalogue
    assert first.returncode == 0, first.stderr
    again = blocked(env, "ask", QUESTION, "--json")
    assert again.returncode == 0, again.stderr
    assert without_timings(again.stdout) == without_timings(first.stdout)
    located = blocked(env, "locate", TRACE, "--json")
    expected = run_cli(env, "locate", TRACE, "--json")
    assert located.returncode == 0, located.stderr
    assert without_timings(located.stdout) == without_timings(expected.stdout)

    repo.write("docs/guide.md", SAMPLE_MD + "\n## Backoff\n\nRetries wait longer each time.\n")
    commit = repo.commit("more docs")
    done = run_cli(env, "ingest", "sample")
    assert done.returncode == 0, done.stderr
    stale = blocked(env, "ask", QUESTION, "--json")  # the store changed: the catalogue is not used
    assert stale.returncode != 0 and "chromadb" in stale.stderr
    fresh = run_cli(env, "ask", QUESTION, "--json")
    assert json.loads(fresh.stdout)["commit"] == commit
    assert without_timings(blocked(env, "ask", QUESTION, "--json").stdout) == without_timings(fresh.stdout)


def test_a_tampered_catalogue_record_is_not_believed(indexed: tuple[Settings, GitRepo],
                                                     cli_env: dict[str, str]) -> None:
    settings, repo = indexed
    env = {**cli_env, "RAGQA_STORAGE_DIR": str(settings.storage_dir), "RAGQA_SERVER": "off",
           "RAGQA_LLM": "none"}
    expected = run_cli(env, "ask", QUESTION, "--json")
    assert expected.returncode == 0, expected.stderr
    (copy,) = (settings.snapshot_dir / "records").glob("*.json")
    copy.write_text(copy.read_text().replace(repo.git("rev-parse", "HEAD"), "0" * 40))
    shown = run_cli(env, "ask", QUESTION, "--json")
    assert without_timings(shown.stdout) == without_timings(expected.stdout)
    assert "0" * 40 not in shown.stdout
