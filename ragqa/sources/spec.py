"""Parse and vet what the user passed as a source, before anything touches git or the disk.

A source is one of:
- a remote git URL: ``https://``, ``http://``, ``ssh://``, ``git://``, ``file://`` or the scp-like
  ``user@host:owner/repo.git``; it is cloned (shallow) under the storage directory;
- a local git repository (a folder holding ``.git``, or a bare repository): read in place at the
  commit of the ref, so uncommitted edits are not indexed (they have no permalink);
- any other local folder (docs, data): read from disk, honouring its ``.gitignore`` files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ragqa.errors import BadSourceError

ALLOWED_SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TRANSPORT = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)::")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!//)[^\s]+$")
_REF = re.compile(r"^[A-Za-z0-9._/+@{}^~-]+$")


class SourceKind(StrEnum):
    REMOTE = "remote"
    LOCAL_GIT = "local_git"
    FOLDER = "folder"


@dataclass(frozen=True)
class SourceSpec:
    """A vetted source: `location` is what git or the file system is given.

    `url_password` holds credentials that were embedded in an https URL; they are moved out of
    the URL so that nothing written to disk or logged carries them.
    """

    kind: SourceKind
    location: str
    url_password: str | None = None
    pinned: str | None = None  # "host:port:addr,…" checked by a `SourcePolicy`; git may use only these

    @property
    def default_name(self) -> str:
        """The project name a source implies: the repository or folder name."""
        tail = self.location.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        tail = tail.removesuffix(".git") or "project"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.") or "project"


def parse_source(raw: str) -> SourceSpec:
    """Classify and validate a source string; raise `BadSourceError` with one readable line."""
    text = raw.strip()
    if not text:
        raise BadSourceError("the source is empty: give a git URL or a local path")
    if text.startswith("-"):
        raise BadSourceError(f"source {text!r} starts with '-', which git would take as an option")
    if any(ch in text for ch in "\n\r\0"):
        raise BadSourceError("the source contains a control character")
    transport = _TRANSPORT.match(text)
    if transport:
        raise BadSourceError(f"git transport {transport.group(1)!r}:: is not allowed")
    scheme = _SCHEME.match(text)
    if scheme:
        return _parse_url(text, scheme.group(1).lower())
    if _SCP_LIKE.match(text) and not Path(text).exists():
        return SourceSpec(SourceKind.REMOTE, text)
    return _parse_path(text)


def check_ref(ref: str | None) -> str | None:
    """Accept a branch, tag or SHA; refuse what git could read as an option or a revision range."""
    if ref is None:
        return None
    ref = ref.strip()
    if not ref:
        raise BadSourceError("the ref is empty")
    if ref.startswith("-"):
        raise BadSourceError(f"ref {ref!r} starts with '-', which git would take as an option")
    if not _REF.match(ref) or ".." in ref:
        raise BadSourceError(f"ref {ref!r} is not a valid branch, tag or commit name")
    return ref


def _parse_url(text: str, scheme: str) -> SourceSpec:
    if scheme not in ALLOWED_SCHEMES:
        allowed = ", ".join(sorted(ALLOWED_SCHEMES))
        raise BadSourceError(f"unsupported URL scheme {scheme!r} (use one of: {allowed})")
    parts = urlsplit(text)
    if scheme != "file" and not parts.hostname:
        raise BadSourceError(f"URL {text!r} has no host")
    if parts.hostname and parts.hostname.startswith("-"):
        raise BadSourceError(f"host in {text!r} starts with '-'")
    if scheme == "file" and not parts.path:
        raise BadSourceError(f"URL {text!r} has no path")
    password = parts.password if scheme in {"https", "http"} else None
    if password is not None:
        host = parts.hostname or ""
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        text = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return SourceSpec(SourceKind.REMOTE, text, url_password=password)


def _parse_path(text: str) -> SourceSpec:
    path = Path(text).expanduser()
    if not path.exists():
        raise BadSourceError(f"no such folder: {text} (nor is it a git URL)")
    if not path.is_dir():
        raise BadSourceError(f"{text} is a file; give the folder or repository that holds it")
    resolved = str(path.resolve())
    if (path / ".git").exists() or _is_bare_repo(path):
        return SourceSpec(SourceKind.LOCAL_GIT, resolved)
    return SourceSpec(SourceKind.FOLDER, resolved)


def _is_bare_repo(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
