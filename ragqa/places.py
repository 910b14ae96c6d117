"""Where the storage folder is when RAGQA_STORAGE_DIR is not set (kept apart from `ragqa.settings`
so the CLI's fast path finds it without loading the settings machinery)."""

from __future__ import annotations

from pathlib import Path

STORAGE_PARTS = ("chroma", "lexical", "repos", "locks", "models")
STORAGE_MARKER = ".ragqa"  # a folder named storage/ holding this file is a ragqa storage
MAX_QUESTION_CHARS = 64_000  # the default of RAGQA_MAX_QUESTION_CHARS


def find_storage(start: Path) -> Path:
    """Where ragqa keeps its data when RAGQA_STORAGE_DIR is not set: a `storage/` folder that holds
    a ragqa index (or its `.ragqa` marker) in `start` or one of its parents (as git finds `.git`),
    else the user's data folder (`~/.local/share/ragqa` on Linux, `~/Library/Application
    Support/ragqa` on macOS)."""
    for folder in (start, *start.parents):
        candidate = folder / "storage"
        marked = (candidate / STORAGE_MARKER).is_file()
        if marked or any((candidate / part).is_dir() for part in STORAGE_PARTS):
            return candidate
    import platformdirs

    return Path(platformdirs.user_data_dir("ragqa", appauthor=False))
