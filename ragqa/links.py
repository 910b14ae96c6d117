"""Links back to the code host: derived from a remote URL, pinned to a commit, line-anchored."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._~-]+@(?P<host>[A-Za-z0-9.-]+):(?P<path>.+)$")


def web_url_from_remote(remote: str | None) -> str | None:
    """The browsable https URL of a git remote, or None when there is none (local, file://).

    `https://host/owner/repo.git`, `ssh://git@host/owner/repo.git` and `git@host:owner/repo.git`
    all give `https://host/owner/repo`; credentials and ports are dropped.
    """
    if not remote:
        return None
    scp = _SCP_LIKE.match(remote)
    if scp and "://" not in remote:
        host, path = scp.group("host"), scp.group("path")
    else:
        parts = urlsplit(remote)
        if parts.scheme not in {"https", "http", "ssh", "git"} or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    path = path.strip("/").removesuffix(".git").strip("/")
    if not path:
        return None
    return f"https://{host}/{path}"


def permalink(web_url: str | None, commit: str, path: str, start: int, end: int) -> str:
    """A link that opens `path` at `commit` with lines `start`–`end` (1-based, inclusive).

    GitHub is the default form; GitLab and Bitbucket get their own anchors. With no web URL
    (a plain folder) the link is a path-only reference `path#Lstart-Lend`.
    """
    quoted = quote(path)
    if not web_url:
        return f"{quoted}#L{start}-L{end}"
    base = web_url.rstrip("/")
    host = urlsplit(base).hostname or ""
    if "gitlab" in host:
        return f"{base}/-/blob/{commit}/{quoted}#L{start}-{end}"
    if "bitbucket" in host:
        return f"{base}/src/{commit}/{quoted}#lines-{start}:{end}"
    return f"{base}/blob/{commit}/{quoted}#L{start}-L{end}"
