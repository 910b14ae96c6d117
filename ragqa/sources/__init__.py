"""Stage 1 — sources: turn a git URL, a local repository or a folder into a `Snapshot`."""

from __future__ import annotations

from pathlib import Path

from ragqa.settings import Settings
from ragqa.sources.base import Snapshot, SourceFile
from ragqa.sources.folder import FolderSnapshot
from ragqa.sources.git import GitClient, mirror_name
from ragqa.sources.policy import SourcePolicy
from ragqa.sources.selection import FileFilter, decode_text, skip_by_content
from ragqa.sources.spec import SourceKind, SourceSpec, check_ref, parse_source

__all__ = [
    "FileFilter",
    "Snapshot",
    "SourceFile",
    "SourceKind",
    "SourcePolicy",
    "SourceSpec",
    "check_ref",
    "decode_text",
    "open_snapshot",
    "parse_source",
    "remote_head",
    "skip_by_content",
    "tracked_paths",
]


def open_snapshot(spec: SourceSpec, ref: str | None, settings: Settings, key: str) -> Snapshot:
    """Fetch or open `spec` at `ref`; remote mirrors live under `storage/repos/<key>-<hash>`."""
    if spec.kind is SourceKind.FOLDER:
        return FolderSnapshot(Path(spec.location))
    return _client(spec, settings).open(ref, settings.repos_dir / mirror_name(key))


def remote_head(spec: SourceSpec, ref: str | None, settings: Settings) -> str | None:
    """The commit a git source's `ref` points at now (None for a plain folder)."""
    if spec.kind is SourceKind.FOLDER:
        return None
    return _client(spec, settings).remote_head(ref)


def tracked_paths(source: str, commit: str, settings: Settings, key: str) -> set[str] | None:
    """Every file git tracks at `commit` (images and other files ragqa does not index included),
    read from the local repository or the mirror under storage; None when neither has it."""
    import git

    spec = parse_source(source)
    if spec.kind is SourceKind.FOLDER:
        return None
    location = spec.location if spec.kind is SourceKind.LOCAL_GIT else settings.repos_dir / mirror_name(key)
    try:
        repo = git.Repo(location)
        try:
            listed: str = repo.git.ls_tree("-r", "--name-only", "--full-tree", commit)
        finally:
            repo.close()
    except (git.GitError, OSError):
        return None
    return set(listed.splitlines())


def _client(spec: SourceSpec, settings: Settings) -> GitClient:
    token = spec.url_password or (settings.git_token.get_secret_value() if settings.git_token else None)
    return GitClient(spec, token, settings.git_username, settings.git_timeout_s)


