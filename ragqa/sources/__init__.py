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
    "skip_by_content",
]


def open_snapshot(spec: SourceSpec, ref: str | None, settings: Settings, key: str) -> Snapshot:
    """Fetch or open `spec` at `ref`; remote mirrors live under `storage/repos/<key>-<hash>`."""
    if spec.kind is SourceKind.FOLDER:
        return FolderSnapshot(Path(spec.location))
    token = spec.url_password or (
        settings.git_token.get_secret_value() if settings.git_token else None)
    client = GitClient(spec, token, settings.git_username, settings.git_timeout_s)
    return client.open(ref, settings.repos_dir / mirror_name(key))


