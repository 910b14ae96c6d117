"""Git sources through gitpython: a shallow mirror for remote URLs, in place for local repos.

Nothing is checked out: files are listed with `git ls-tree` and read from the object database,
so symlinks (mode 120000) and submodules are never followed and the work tree is never touched.
A token for private https repos travels only as an `http.<url>.extraHeader` set through git's
environment, never in a URL, a config file or a message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import git

from ragqa.errors import SourceUnavailableError
from ragqa.links import web_url_from_remote
from ragqa.sources.base import MISSING_SIZE, SourceFile
from ragqa.sources.spec import SourceKind, SourceSpec

_HEX_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_KEEP_REF = "refs/ragqa/indexed"


class GitSnapshot:
    """The tracked files of one commit, read straight from git's object database."""

    def __init__(self, repo: git.Repo, commit: str, web_url: str | None) -> None:
        self.repo = repo
        self.commit = commit
        self.web_url = web_url
        self._blobs: dict[str, str] = {}
        self.files = self._list_files()

    def read(self, path: str) -> bytes:
        data: bytes = self.repo.odb.stream(bytes.fromhex(self._blobs[path])).read()
        return data

    def close(self) -> None:
        self.repo.close()

    def _list_files(self) -> list[SourceFile]:
        raw = self.repo.git.ls_tree("-r", "-l", "-z", "--full-tree", self.commit,
                                    stdout_as_string=False)
        files = []
        for record in raw.split(b"\0"):
            meta, _, raw_path = record.partition(b"\t")
            fields = meta.split()
            if len(fields) != 4 or fields[1] != b"blob" or fields[0] == b"120000":
                continue  # submodules, symlinks, the empty tail
            try:
                path = raw_path.decode("utf-8")
            except UnicodeDecodeError:
                continue  # a path that cannot be linked to or shown
            blob = fields[2].decode()
            self._blobs[path] = blob
            # git prints a size it cannot read (a blob missing from a partial clone) as "BAD"
            size = int(fields[3]) if fields[3].isdigit() else MISSING_SIZE
            files.append(SourceFile(path=path, blob=blob, size=size))
        return files


class GitClient:
    """Runs git for one source with a safe, non-interactive environment."""

    def __init__(self, spec: SourceSpec, token: str | None, username: str, timeout_s: int):
        self.spec = spec
        self.timeout_s = timeout_s
        self._secrets: list[str] = []
        self.env = self._environment(token, username)

    def open(self, ref: str | None, mirror_dir: Path) -> GitSnapshot:
        """Fetch (remote) or open (local) the repository and pin the commit of `ref`."""
        if self.spec.kind is SourceKind.LOCAL_GIT:
            repo = git.Repo(self.spec.location)
            commit = self._resolve_local(repo, ref)
            return GitSnapshot(repo, commit, web_url_from_remote(_origin_url(repo)))
        fresh = not mirror_dir.exists()
        repo = self._mirror(mirror_dir)
        try:
            commit = self._fetch(repo, ref)
            repo.git.update_ref(_KEEP_REF, commit)
        except BaseException:
            repo.close()
            if fresh:  # a first clone that failed leaves nothing behind
                shutil.rmtree(mirror_dir, ignore_errors=True)
            raise
        return GitSnapshot(repo, commit, web_url_from_remote(self.spec.location))

    def remote_head(self, ref: str | None) -> str:
        """The commit `ref` (default: HEAD) points at now, without fetching anything."""
        target = ref or "HEAD"
        if self.spec.kind is SourceKind.LOCAL_GIT:
            repo = git.Repo(self.spec.location)
            try:
                return self._resolve_local(repo, ref)
            finally:
                repo.close()
        try:
            out: str = git.Git().execute(["git", "ls-remote", "--", self.spec.location, target], env=self.env,
                                         kill_after_timeout=self.timeout_s)
        except git.GitCommandError as error:
            raise self._explain(error, ref) from None
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name in (target, f"refs/heads/{target}", f"refs/tags/{target}"):
                return sha
        raise SourceUnavailableError(f"ref {target!r} not found in {self.spec.location}")

    def _resolve_local(self, repo: git.Repo, ref: str | None) -> str:
        try:
            return _rev_parse(repo, ref or "HEAD")
        except git.GitCommandError:
            repo.close()
            if ref is None:
                raise SourceUnavailableError(
                    f"repository {self.spec.location} is empty (no commits)") from None
            raise SourceUnavailableError(
                f"ref {ref!r} not found in {self.spec.location}") from None

    def _mirror(self, mirror_dir: Path) -> git.Repo:
        """A bare repo under storage; a half-made one (killed clone) is made again."""
        if mirror_dir.exists():
            try:
                repo = git.Repo(mirror_dir)
                repo.git.config("remote.origin.url", self.spec.location)
                return repo
            except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
                shutil.rmtree(mirror_dir)
        staging = mirror_dir.with_name(mirror_dir.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(staging, bare=True)
        repo.git.config("remote.origin.url", self.spec.location)
        repo.close()
        staging.rename(mirror_dir)
        return git.Repo(mirror_dir)

    def _fetch(self, repo: git.Repo, ref: str | None) -> str:
        target = ref or "HEAD"
        try:
            self._git(repo, "fetch", "--depth=1", "--no-tags", "origin", target)
            return _rev_parse(repo, "FETCH_HEAD")
        except git.GitCommandError as shallow_error:
            if ref is not None and _HEX_SHA.match(ref):
                return self._fetch_full_for_sha(repo, ref)
            raise self._explain(shallow_error, ref) from None

    def _fetch_full_for_sha(self, repo: git.Repo, sha: str) -> str:
        """A short or unadvertised SHA: fetch all branches and tags, then look it up."""
        unshallow = ["--unshallow"] if (Path(repo.git_dir) / "shallow").exists() else []
        try:
            self._git(repo, "fetch", *unshallow, "--tags", "origin",
                      "+refs/heads/*:refs/remotes/origin/*")
        except git.GitCommandError as error:
            raise self._explain(error, sha) from None
        try:
            return _rev_parse(repo, sha)
        except git.GitCommandError:
            raise SourceUnavailableError(f"ref {sha!r} not found in {self.spec.location}") from None

    def _git(self, repo: git.Repo, *args: str) -> str:
        out: str = repo.git.execute(["git", *args], env=self.env,
                                    kill_after_timeout=self.timeout_s)
        return out

    def _explain(self, error: git.GitCommandError, ref: str | None) -> SourceUnavailableError:
        message = self._redact(str(error.stderr or error))
        if "couldn't find remote ref" in message:
            if ref is None:
                return SourceUnavailableError(f"repository {self.spec.location} is empty (no commits)")
            return SourceUnavailableError(f"ref {ref!r} not found in {self.spec.location}")
        if error.status in (-9, -15) or "timed out" in message.lower():
            return SourceUnavailableError(
                f"git gave up on {self.spec.location} after {self.timeout_s} s")
        return SourceUnavailableError(f"cannot fetch {self.spec.location}: {_first_fatal(message)}")

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _environment(self, token: str | None, username: str) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C"}
        if "GIT_SSH_COMMAND" not in os.environ:
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
        config = [("protocol.ext.allow", "never"), ("protocol.fd.allow", "never")]
        if self.spec.pinned:  # vetted for a network caller: these addresses, https, no redirects
            config += [("http.curloptResolve", self.spec.pinned), ("http.followRedirects", "false"),
                       ("protocol.allow", "never"), ("protocol.https.allow", "always")]
        parts = urlsplit(self.spec.location)
        if token and parts.scheme in {"https", "http"} and parts.hostname:
            basic = base64.b64encode(f"{username}:{token}".encode()).decode()
            self._secrets += [token, basic]
            config.append((f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
                           f"Authorization: Basic {basic}"))
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env


def mirror_name(key: str) -> str:
    """A folder name for a mirror: readable, and unique per key (the project name)."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", key)[:40]
    digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{tail.strip('-.') or 'repo'}-{digest}"


def _rev_parse(repo: git.Repo, rev: str) -> str:
    out: str = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    return out.strip()


def _origin_url(repo: git.Repo) -> str | None:
    try:
        return str(repo.remote("origin").url)
    except ValueError:
        return None


def _first_fatal(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        for prefix in ("stderr: ", "'"):
            line = line.removeprefix(prefix)
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip().rstrip("'")
    return lines[-1] if lines else "git failed"
