"""The Ingester end to end with real git, real embedded Chroma and the real local model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragqa.chunking import split_lines
from ragqa.errors import (
    BadSourceError,
    BusyError,
    ProjectNotFoundError,
    RagqaError,
    SourceUnavailableError,
)
from ragqa.index import ChunkStore, chroma_client
from ragqa.index.chroma import get_or_create_collection
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from tests.conftest import GitRepo


def stored_chunks(settings: Settings, name: str) -> tuple[Ingester, ChunkStore]:
    ingester = Ingester(settings)
    record = ingester.get(name)
    store = ChunkStore(get_or_create_collection(chroma_client(settings), record.collection, {}))
    return ingester, store


def assert_index_matches_repo(settings: Settings, name: str, repo: GitRepo) -> None:
    """The manifest names exactly the stored chunks, and each is its lines at the commit."""
    ingester, store = stored_chunks(settings, name)
    record = ingester.get(name)
    live = record.live_ids()
    assert store.all_ids() == live, "orphan or missing chunks"
    for chunk in store.get(sorted(live)):
        meta = chunk.metadata
        lines = split_lines(repo.show(record.commit, meta["path"]))
        assert chunk.text == "\n".join(lines[meta["start_line"] - 1:meta["end_line"]])
        assert meta["project"] == name and chunk.id in record.files[meta["path"]].chunks
        for key in ("language", "kind", "symbol", "heading", "commit", "content_hash"):
            assert key in meta


def test_first_ingest_by_path(repo: GitRepo, settings: Settings) -> None:
    summary = Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    assert summary.project == "sample"
    assert summary.commit == repo.git("rev-parse", "HEAD")
    assert summary.files == 4 and summary.added == 4
    assert summary.chunks == summary.embedded > 0
    assert_index_matches_repo(settings, "sample", repo)
    _, store = stored_chunks(settings, "sample")
    symbols = {c.metadata["symbol"] for c in store.get(sorted(store.all_ids()))}
    assert {"connect_timeout", "retry_with_backoff"} <= symbols


def test_file_url_clone_and_incremental_updates(repo: GitRepo, settings: Settings) -> None:
    ingester = Ingester(settings)
    request = IngestRequest(source=repo.url, web_url="https://github.com/acme/sample")
    first = ingester.ingest(request)
    assert first.embedded == first.chunks
    assert list((settings.repos_dir).iterdir()), "the clone lives under storage/repos"

    assert ingester.ingest(IngestRequest(source=repo.url)).embedded == 0  # no-op

    repo.write("docs/guide.md", (repo.root / "docs/guide.md").read_text() + "\n## New\n\nMore.\n")
    repo.commit("edit docs")
    edited = ingester.ingest(IngestRequest(source=repo.url))
    assert (edited.updated, edited.added, edited.deleted) == (1, 0, 0)
    docs_chunks = len(ingester.get("sample").files["docs/guide.md"].chunks)
    assert 0 < edited.embedded <= docs_chunks
    assert_index_matches_repo(settings, "sample", repo)

    repo.git("rm", "-q", "README.rst")
    repo.git("mv", "pyproject.toml", "setup.toml")
    repo.commit("delete and rename")
    moved = ingester.ingest(IngestRequest(source=repo.url))
    assert (moved.deleted, moved.renamed, moved.added) == (1, 1, 0)
    record = ingester.get("sample")
    assert "README.rst" not in record.files and "setup.toml" in record.files
    assert record.web_url == "https://github.com/acme/sample", "options stick on re-ingest"
    assert_index_matches_repo(settings, "sample", repo)


def test_refs_tags_and_shas(repo: GitRepo, settings: Settings) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.git("tag", "v1")
    repo.write("src/sample/extra.py", "def extra():\n    return 2\n")
    repo.commit("second")
    ingester = Ingester(settings)
    tagged = ingester.ingest(IngestRequest(source=repo.url, ref="v1"))
    assert tagged.project == "sample@v1" and tagged.commit == first
    by_sha = ingester.ingest(IngestRequest(source=repo.url, name="old", ref=first[:10]))
    assert by_sha.commit == first
    at_name = ingester.ingest(IngestRequest(source=str(repo.root), name="pinned@v1"))
    assert at_name.commit == first and ingester.get("pinned@v1").ref == "v1"
    with pytest.raises(SourceUnavailableError, match="ref 'nope' not found"):
        ingester.ingest(IngestRequest(source=repo.url, ref="nope"))
    with pytest.raises(SourceUnavailableError, match="ref 'nope' not found"):
        ingester.ingest(IngestRequest(source=str(repo.root), ref="nope"))


def test_selection_rules_in_a_repo(repo: GitRepo, settings: Settings) -> None:
    repo.write(".env", "SECRET=1\n").write("certs/server.pem", "-----BEGIN-----\n")
    repo.write("node_modules/lib/index.js", "module.exports = 1;\n")
    repo.write("logo.bin", b"\x00\x01\x02binary")
    repo.write("latin1.txt", b"caf\xe9 au lait\n")
    repo.write("big.txt", "x" * 2_000 + "\n")
    (repo.root / "link.py").symlink_to("/etc/passwd")
    repo.commit("noise")
    notes: list[str] = []

    class Notes:
        def stage(self, name: str, total: int | None) -> None: ...
        def advance(self, amount: int = 1) -> None: ...
        def note(self, message: str, *, verbose: bool = False) -> None:
            if not verbose:
                notes.append(message)

    custom = Settings(storage_dir=settings.storage_dir, max_file_bytes=1_500, _env_file=None)  # type: ignore[call-arg]
    summary = Ingester(custom, Notes()).ingest(
        IngestRequest(source=str(repo.root), exclude=["README.rst"]))
    indexed = set(Ingester(custom).get("sample").files)
    assert indexed == {"src/sample/http.py", "docs/guide.md", "pyproject.toml"}
    assert summary.skipped == 7  # the symlink is not a file to git: never listed
    assert notes == ["skipped latin1.txt: not valid UTF-8 text"]


def test_a_blob_missing_from_the_clone_is_skipped_and_said(repo: GitRepo, settings: Settings) -> None:
    blob = repo.git("rev-parse", "HEAD:docs/guide.md")
    (repo.root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # as in a partial or damaged clone
    notes: list[str] = []

    class Notes:
        def stage(self, name: str, total: int | None) -> None: ...
        def advance(self, amount: int = 1) -> None: ...
        def note(self, message: str, *, verbose: bool = False) -> None:
            notes.append(message)

    summary = Ingester(settings, Notes()).ingest(IngestRequest(source=str(repo.root)))
    assert "docs/guide.md" not in Ingester(settings).get("sample").files and summary.files == 3
    assert "skipped docs/guide.md: its content is missing from the repository (a partial or damaged clone)" \
        in notes


def test_plain_folder_with_gitignore(tmp_path: Path, settings: Settings) -> None:
    docs = tmp_path / "handbook"
    (docs / "build").mkdir(parents=True)
    (docs / ".gitignore").write_text("build/\n*.tmp\n")
    (docs / "intro.md").write_text("# Intro\n\nHello there.\nSecond line.\n")
    (docs / "build" / "out.md").write_text("# Built\n\nIgnored.\n")
    (docs / "draft.tmp").write_text("ignored\n")
    outside = tmp_path / "outside.md"
    outside.write_text("# Secret\n\nNot in the tree.\n")
    (docs / "escape.md").symlink_to(outside)
    ingester = Ingester(settings)
    first = ingester.ingest(IngestRequest(source=str(docs)))
    assert first.project == "handbook" and first.files == 2  # intro.md and .gitignore
    assert set(ingester.get("handbook").files) == {"intro.md", ".gitignore"}
    assert ingester.ingest(IngestRequest(source=str(docs))).embedded == 0
    (docs / "intro.md").write_text("# Intro\n\nHello again.\nSecond line.\n")
    changed = ingester.ingest(IngestRequest(source=str(docs)))
    assert changed.updated == 1 and changed.embedded == 1 and changed.commit != first.commit
    with pytest.raises(BadSourceError, match="no refs"):
        ingester.ingest(IngestRequest(source=str(docs), ref="main"))


def test_bad_sources_leave_the_index_alone(repo: GitRepo, tmp_path: Path,
                                           settings: Settings) -> None:
    ingester = Ingester(settings)
    good = ingester.ingest(IngestRequest(source=str(repo.root)))
    empty = GitRepo(tmp_path / "empty")
    with pytest.raises(SourceUnavailableError, match="empty"):
        ingester.ingest(IngestRequest(source=str(empty.root), name="sample", replace=True))
    with pytest.raises(SourceUnavailableError, match="empty"):
        ingester.ingest(IngestRequest(source=empty.url, name="sample", replace=True))
    with pytest.raises(SourceUnavailableError, match="cannot fetch"):
        missing = (tmp_path / "missing.git").as_uri()
        ingester.ingest(IngestRequest(source=missing, name="sample", replace=True))
    assert not settings.repos_dir.exists() or not any(settings.repos_dir.iterdir()), \
        "a first clone that failed leaves no half clone behind"
    with pytest.raises(BadSourceError):
        ingester.ingest(IngestRequest(source="ext::sh -c id", name="sample", replace=True))
    with pytest.raises(BadSourceError):
        ingester.ingest(IngestRequest(source=str(repo.root), name="sample", ref="--exec=id", replace=True))
    binary_only = tmp_path / "blobs"
    binary_only.mkdir()
    (binary_only / "a.png").write_bytes(b"\x89PNG")
    with pytest.raises(RagqaError, match="nothing to index"):
        ingester.ingest(IngestRequest(source=str(binary_only), name="sample", replace=True))
    assert ingester.get("sample").commit == good.commit
    assert_index_matches_repo(settings, "sample", repo)


def test_token_is_never_written_or_shown(repo: GitRepo, settings: Settings) -> None:
    ingester = Ingester(settings)
    with pytest.raises(SourceUnavailableError) as caught:
        ingester.ingest(IngestRequest(source="http://bot:tok3n-XYZ@127.0.0.1:9/org/repo.git"))
    assert "tok3n-XYZ" not in str(caught.value)
    for path in settings.storage_dir.rglob("*"):
        if path.is_file():
            assert b"tok3n-XYZ" not in path.read_bytes(), path


def test_one_ingest_per_project(repo: GitRepo, settings: Settings) -> None:
    ingester = Ingester(settings)
    with ingester._lock("sample"), pytest.raises(BusyError):
        ingester.ingest(IngestRequest(source=str(repo.root)))


def test_refresh_and_remove(repo: GitRepo, settings: Settings) -> None:
    ingester = Ingester(settings)
    ingester.ingest(IngestRequest(source=repo.url, name="demo"))
    repo.write("src/sample/more.py", "def more():\n    return 3\n")
    repo.commit("more")
    assert ingester.refresh("demo").added == 1
    assert ingester.ingest(IngestRequest(source="demo")).embedded == 0  # a name refreshes too
    collection = ingester.get("demo").collection
    ingester.remove("demo")
    with pytest.raises(ProjectNotFoundError):
        ingester.get("demo")
    names = [c.name if hasattr(c, "name") else c for c in chroma_client(settings).list_collections()]
    assert collection not in names
    assert not any(p.name.startswith("demo-") for p in settings.repos_dir.iterdir())


def test_store_outage_is_a_clear_error(tmp_path: Path) -> None:
    broken = Settings(storage_dir=tmp_path, chroma_url="http://127.0.0.1:9", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(RagqaError, match="cannot open the vector store"):
        Ingester(broken)
