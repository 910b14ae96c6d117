"""Derived caches heal from any damage a filesystem can show: the lexical index file missing,
truncated, garbage, of the wrong type, a folder in its place, its folders files, a link to
nowhere, unreadable. Each damage is named in one warning (the path and what is wrong), the
question is answered, and the cache is whole again afterwards. Real Chroma, real files."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ragqa.answer import Answerer
from ragqa.index.lexical import LexicalIndex, manifest_key
from ragqa.ingest import Ingester
from tests.hostile.conftest import Indexed, assert_links_exist

pytestmark = pytest.mark.slow
QUESTION = "How do I retry a call with exponential backoff?"


def truncate(path: Path) -> str:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    return "damaged"


def garbage(path: Path) -> str:
    path.write_bytes(os.urandom(4096))
    return "damaged"


def wrong_type(path: Path) -> str:
    with open(path, "wb") as stream:  # a valid .npz, of other arrays
        np.savez(stream, ids=np.array([1, 2, 3]), key=np.array(["x"]))
    return "damaged"


def empty(path: Path) -> str:
    path.write_bytes(b"")
    return "damaged"


def folder_in_its_place(path: Path) -> str:
    path.unlink()
    (path / "inner").mkdir(parents=True)
    (path / "inner" / "file").write_text("x")
    return "IsADirectoryError"


def dangling_link(path: Path) -> str:
    path.unlink()
    path.symlink_to(path.with_name("nowhere"))
    return "link to nowhere"


def link_loop(path: Path) -> str:
    path.unlink()
    path.symlink_to(path)
    return "link to nowhere"


def collection_folder_is_a_file(path: Path) -> str:
    shutil.rmtree(path.parent)
    path.parent.write_text("not a folder")
    return "is not a folder"


def lexical_root_is_a_file(path: Path) -> str:
    shutil.rmtree(path.parent.parent)
    path.parent.parent.write_text("not a folder")
    return "is not a folder"


def unreadable(path: Path) -> str:
    if os.geteuid() == 0:
        pytest.skip("root reads any file: unreadable permissions cannot be made here")
    path.chmod(0)
    return "PermissionError"


DAMAGES: list[Callable[[Path], str]] = [
    truncate,
    garbage,
    wrong_type,
    empty,
    folder_in_its_place,
    dangling_link,
    link_loop,
    collection_folder_is_a_file,
    lexical_root_is_a_file,
    unreadable,
]


@pytest.mark.parametrize("damage", DAMAGES, ids=[damage.__name__.replace("_", "-") for damage in DAMAGES])
def test_the_lexical_index_heals(
    indexed: Indexed, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], str]
) -> None:
    storage = tmp_path / "storage"
    shutil.copytree(indexed.storage, storage, symlinks=True)
    settings = indexed.settings(storage_dir=storage)
    [target] = list(settings.lexical_dir.rglob("*.npz"))
    named = damage(target)
    caplog.set_level(logging.WARNING)
    answer = Answerer(settings).ask(QUESTION, "sample")
    assert answer.answered and answer.sources
    assert_links_exist(answer.model_dump(mode="json"), indexed)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "lexical index" in warnings[0] and named in warnings[0], warnings
    assert str(target if "folder" not in named else target.parent)[:40] in warnings[0]
    record = Ingester(settings).get("sample")
    assert target.is_file() and not target.is_symlink()
    assert len(LexicalIndex.load(target, manifest_key(record.live_ids()))) == record.chunk_count


@pytest.mark.parametrize("what", ["export", "checksum"])
def test_a_folder_in_the_place_of_the_model_export_is_named_and_rebuilt(
    tmp_path: Path, onnx_dir: Path, caplog: pytest.LogCaptureFixture, what: str
) -> None:
    from ragqa.index.embedders import LocalEmbedder

    reference = LocalEmbedder(None, 8, onnx_dir).embed_query("retry with backoff")
    export = next(onnx_dir.glob("*.onnx"))
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(export, models)
    shutil.copy(export.with_name(export.name + ".sha256"), models)
    damaged = models / (export.name if what == "export" else export.name + ".sha256")
    damaged.unlink()
    (damaged / "inner").mkdir(parents=True)
    caplog.set_level(logging.WARNING)
    vector = LocalEmbedder(None, 8, models).embed_query("retry with backoff")
    assert float(np.dot(vector, reference)) > 0.9999
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("ONNX export" in w and "a folder is in its place" in w for w in warnings), warnings
    assert damaged.is_file()
