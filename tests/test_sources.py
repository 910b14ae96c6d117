"""Source parsing, web URLs and permalinks, and the file selection rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragqa.errors import BadSourceError
from ragqa.links import permalink, web_url_from_remote
from ragqa.sources import FileFilter, SourceKind, SourcePolicy, check_ref, parse_source, skip_by_content
from ragqa.sources.git import GitClient
from ragqa.sources.selection import decode_text


@pytest.mark.parametrize("source, reason", [
    ("ext::sh -c touch% /tmp/pwned", "transport 'ext'"),
    ("fd::17", "transport 'fd'"),
    ("--upload-pack=touch /tmp/x", "starts with '-'"),
    ("-oProxyCommand=x", "starts with '-'"),
    ("ftp://example.com/repo.git", "unsupported URL scheme 'ftp'"),
    ("javascript://x", "unsupported URL scheme"),
    ("https:///nohost", "has no host"),
    ("ssh://-oProxyCommand=x/repo", "starts with '-'"),
    ("", "empty"),
    ("/definitely/not/here", "no such folder"),
    ("https://example.com/a\nb", "control character"),
])
def test_hostile_or_bad_sources_are_refused(source: str, reason: str) -> None:
    with pytest.raises(BadSourceError, match=reason):
        parse_source(source)


def test_url_kinds() -> None:
    assert parse_source("https://github.com/psf/requests").kind is SourceKind.REMOTE
    assert parse_source("git@github.com:psf/requests.git").kind is SourceKind.REMOTE
    assert parse_source("ssh://git@github.com/psf/requests.git").kind is SourceKind.REMOTE
    assert parse_source("file:///srv/repo.git").kind is SourceKind.REMOTE
    assert parse_source("git@github.com:psf/requests.git").default_name == "requests"


def test_credentials_are_moved_out_of_the_url() -> None:
    spec = parse_source("https://bot:s3cret@github.com:8443/org/private.git")
    assert spec.location == "https://github.com:8443/org/private.git"
    assert spec.url_password == "s3cret"
    assert "s3cret" not in repr(spec.location)


def test_local_paths(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    assert parse_source(str(tmp_path / "docs")).kind is SourceKind.FOLDER
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    assert parse_source(str(tmp_path / "repo")).kind is SourceKind.LOCAL_GIT
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BadSourceError, match="is a file"):
        parse_source(str(tmp_path / "file.txt"))


@pytest.mark.parametrize("ref", ["-x", "--output=/tmp/x", "a..b", "a b", "", "x;rm"])
def test_bad_refs(ref: str) -> None:
    with pytest.raises(BadSourceError):
        check_ref(ref)


def test_good_refs() -> None:
    assert check_ref("v2.31.0") == "v2.31.0"
    assert check_ref("feature/x") == "feature/x"
    assert check_ref(None) is None


@pytest.mark.parametrize("remote, web", [
    ("https://github.com/psf/requests.git", "https://github.com/psf/requests"),
    ("https://user:tok@github.com/psf/requests", "https://github.com/psf/requests"),
    ("git@github.com:psf/requests.git", "https://github.com/psf/requests"),
    ("ssh://git@gitlab.com:2222/group/sub/proj.git", "https://gitlab.com/group/sub/proj"),
    ("file:///srv/repo.git", None),
    ("/srv/repo", None),
    (None, None),
])
def test_web_url_from_remote(remote: str | None, web: str | None) -> None:
    assert web_url_from_remote(remote) == web


def test_permalinks() -> None:
    sha = "a" * 40
    assert permalink("https://github.com/o/r", sha, "src/a b.py", 3, 9) == (
        f"https://github.com/o/r/blob/{sha}/src/a%20b.py#L3-L9")
    assert permalink("https://gitlab.com/g/p", sha, "x.py", 1, 2) == (
        f"https://gitlab.com/g/p/-/blob/{sha}/x.py#L1-2")
    assert permalink("https://bitbucket.org/o/r", sha, "x.py", 1, 2) == (
        f"https://bitbucket.org/o/r/src/{sha}/x.py#lines-1:2")
    assert permalink(None, sha, "docs/x.md", 4, 5) == "docs/x.md#L4-L5"


@pytest.mark.parametrize("path, reason", [
    (".env", "secret"), (".env.production", "secret"), ("deploy/server.pem", "secret"),
    ("keys/id_rsa", "secret"), ("keys/id_rsa.pub", "secret"), ("config/credentials", "secret"),
    ("app.key", "secret"), ("node_modules/x/index.js", "vendored"),
    ("vendor/lib.go", "vendored"), ("package-lock.json", "lock"), ("poetry.lock", "lock"),
    ("static/app.min.js", "generated"), ("api/service_pb2.py", "generated"),
    ("logo.png", "binary"), ("dist/pkg.whl", "binary"),
    ("themes/basic/static/jquery-3.5.1.js", "versioned library"),
    ("static/bootstrap-4.6.min.css", "minified"),
])
def test_paths_skipped_by_default(path: str, reason: str) -> None:
    skipped = FileFilter().skip_by_path(path, 10)
    assert skipped is not None and reason in skipped


def test_paths_kept_and_size_limit() -> None:
    rules = FileFilter(max_bytes=100)
    assert rules.skip_by_path("src/app.py", 100) is None
    assert rules.skip_by_path("docs/environment.md", 10) is None
    assert rules.skip_by_path("static/jquery.js", 10) is None and rules.skip_by_path("app-1.js", 10) is None
    assert rules.skip_by_path("src/app.py", 101) == "over 100 bytes"


def test_include_and_exclude_globs() -> None:
    rules = FileFilter(include=["src/**", "*.md"], exclude=["src/legacy/"])
    assert rules.skip_by_path("src/a/b.py", 1) is None
    assert rules.skip_by_path("docs/x.md", 1) is None
    assert rules.skip_by_path("tests/t.py", 1) == "not included"
    assert rules.skip_by_path("src/legacy/old.py", 1) == "excluded"


def test_content_rules() -> None:
    assert skip_by_content(b"\x89PNG\x00\x00") == "binary"
    assert skip_by_content(b"// @generated by protoc\nvar x = 1;\n") == "generated or minified"
    assert skip_by_content(b"var a=1;" * 500) == "generated or minified"
    assert skip_by_content(b"def f():\n    return 1\n") is None
    assert decode_text(b"\xef\xbb\xbfhello") == "hello"
    assert decode_text(b"caf\xe9") is None


def test_a_vetted_source_pins_git_to_the_checked_addresses() -> None:
    policy = SourcePolicy(frozenset({"code.example.com"}), resolver=lambda host, port: ["93.184.215.14"])
    spec = policy.vet(parse_source("https://code.example.com/acme/repo.git"))
    assert spec.pinned == "code.example.com:443:93.184.215.14"
    config = GitClient(spec, None, "x", 30).env
    pairs = {config[f"GIT_CONFIG_KEY_{n}"]: config[f"GIT_CONFIG_VALUE_{n}"]
             for n in range(int(config["GIT_CONFIG_COUNT"]))}
    assert pairs["http.curloptResolve"] == "code.example.com:443:93.184.215.14"
    assert pairs["http.followRedirects"] == "false" and pairs["protocol.allow"] == "never"
    assert pairs["protocol.https.allow"] == "always"
    six = SourcePolicy(frozenset({"v6.example.com"}), resolver=lambda host, port: ["2606:2800:21f:cb07::1"])
    pinned = six.vet(parse_source("https://v6.example.com/r")).pinned
    assert pinned == "v6.example.com:443:[2606:2800:21f:cb07::1]"
    mapped = SourcePolicy(frozenset({"m.example.com"}), resolver=lambda host, port: ["::ffff:127.0.0.1"])
    with pytest.raises(BadSourceError, match="loopback"):
        mapped.vet(parse_source("https://m.example.com/r"))
    unpinned = GitClient(parse_source("https://code.example.com/acme/repo.git"), None, "x", 30).env
    assert "http.curloptResolve" not in unpinned.values()
