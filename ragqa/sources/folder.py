"""A plain folder (docs, data): files on disk, `.gitignore` honoured, symlinks never followed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pathspec

from ragqa.sources.base import SourceFile


class FolderSnapshot:
    """Every regular file under `root` that no `.gitignore` excludes.

    A file's `blob` is the id git would give its bytes, so folders and repos share one notion
    of change. The `commit` of a folder is a digest of its (path, blob) list: it changes whenever any
    file does. Links from a folder are path-only since there is no web URL to pin them to.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.web_url: str | None = None
        self.files = [self._describe(path) for path in sorted(self._walk())]
        digest = hashlib.sha1(usedforsecurity=False)
        for file in self.files:
            digest.update(f"{file.path}\0{file.blob}\n".encode())
        self.commit = digest.hexdigest()

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def close(self) -> None:
        """Nothing to release: files are opened only while read."""

    def _describe(self, rel: str) -> SourceFile:
        path = self.root / rel
        size = path.stat().st_size
        digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return SourceFile(path=rel, blob=digest.hexdigest(), size=size)

    def _walk(self) -> list[str]:
        found: list[str] = []
        stack: list[tuple[Path, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [(self.root, [])]
        while stack:
            folder, ignores = stack.pop()
            ignores = [*ignores, *self._gitignore_of(folder)]
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_symlink() or entry.name == ".git":
                        continue
                    rel = Path(entry.path).relative_to(self.root).as_posix()
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if _ignored(rel, is_dir, ignores):
                        continue
                    if is_dir:
                        stack.append((Path(entry.path), ignores))
                    elif entry.is_file(follow_symlinks=False):
                        found.append(rel)
        return found

    def _gitignore_of(self, folder: Path) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
        ignore_file = folder / ".gitignore"
        if not ignore_file.is_file() or ignore_file.is_symlink():
            return []
        prefix = folder.relative_to(self.root).as_posix()
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
        return [("" if prefix == "." else prefix + "/", pathspec.GitIgnoreSpec.from_lines(lines))]


def _ignored(rel: str, is_dir: bool, ignores: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    candidate = rel + "/" if is_dir else rel
    return any(
        candidate.startswith(prefix) and spec.match_file(candidate[len(prefix):])
        for prefix, spec in ignores
    )
