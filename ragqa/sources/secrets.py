"""Secrets in repository text are replaced before anything is chunked, embedded or stored.

Detection is Yelp's `detect-secrets` (its scanner, plugins and false-positive filters): AWS,
GitHub, GitLab, Slack, Stripe, OpenAI, npm, PyPI, SendGrid, Twilio and other token formats,
private-key blocks, JWTs, credentials in URLs (`https://user:pass@host`), and values assigned to
names such as `password`, `secret`, `api_key`. On top, a value of high entropy (by
detect-secrets' own measure) assigned to a name ending in KEY, SECRET, TOKEN, PASSWORD or
CREDENTIALS counts too (`SERVICE_TOKEN = "Zm9v…"`), which its keyword list does not cover.

A secret is replaced in place by a marker such as `«redacted: aws-access-key»`; a private key's
body lines each become a marker line, so the text keeps its line count and every link and
quote still points at the right lines. Placeholder credentials in documentation are left alone:
they are examples, not secrets — short values of letters (`scott:tiger`, `user:pass`,
`password="secret"`), values made of words (`SECRET_KEY="base64 encoded random bytes"`,
`your-secret-key-here`), elided ones (`sk-...`) and ones that say what they are (`<token>`,
`changeme`, `YOUR_API_KEY`). Only values given to secret-like names are judged so; a token in a
known format (GitHub, AWS, Slack …) is always redacted. The original values are kept nowhere —
not in the index, not in the ingest summary (which counts redactions per file and names their
kinds).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

REDACTOR_VERSION = "redact-2"  # bumped when the rules change: a re-ingest redacts again
PLUGINS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
    "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "KeywordDetector",
    "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector", "PypiTokenDetector",
    "SendGridDetector", "SlackDetector", "SoftlayerDetector", "SquareOAuthDetector",
    "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)
# Lines that can hold a secret some plugin finds (a cheap pre-pass: only these are scanned): a
# secret-like name given a value, a comparison with one, a key block, credentials in a URL, or
# one of the token formats the plugins know.
_CANDIDATE = re.compile(
    r"(key|secret|token|pass|pwd|auth|credential)[\w.'\"\]-]{0,30}\s*(:=|=>|[:=]|==|!=)\s*\S"
    r"|(==|!=)\s*\S*(key|secret|token|pass|pwd)"
    r"|PRIVATE KEY|://[^\s/@:]+:[^\s/@]+@|AKIA|ASIA|A3T|gh[pousr]_|glpat-|xox[abposr]-|"
    r"[sr]k_(live|test)_|sk-|eyJ|npm_|pypi-|SG\.|AccountKey|cloudant|softlayer|ibm|discord|"
    r"telegram|\b(AC|SK)[0-9a-f]{32}|[0-9a-f]{32}-us\d|sq0|\d{8,10}:[\w-]{30}|AKC|AP[\dA-F]",
    re.IGNORECASE)
_NAMED_VALUE = re.compile(
    r"""(?i)\b[\w.-]*(?:key|secret|token|password|passwd|pwd|credentials?)\b["']?\s*(?::=|=>|[:=])\s*"""
    r"""(?P<quote>["'`])(?P<value>[^"'`\s]{16,})(?P=quote)""")
_PLACEHOLDER = re.compile(r"^[A-Za-z][A-Za-z _-]{0,15}$|^[x*.<>{}$%()_-]+$|^<[^>]*>$|^\$\{[^}]*\}$")
# What a documentation example puts where a secret goes, of any length: words (letters joined by
# spaces, dashes, dots or underscores: "base64 encoded random bytes", "your-secret-key-here"),
# an elided value ("sk-...", "xoxb-…"), or a value that says it is one ("<token>", "changeme").
_EXAMPLE_VALUE = re.compile(
    r"^[A-Za-z]+(?:[ ._-]+[A-Za-z]+)*$|\.\.\.|…|\s"
    r"|(?i:your|placeholder|changeme|change[_-]me|dummy|redacted|replace|xxxx|<|\{\{)")
_BEGIN_KEY = re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY( BLOCK)?-----")
_END_KEY = re.compile(r"-----END[A-Z ]*PRIVATE KEY( BLOCK)?-----")
_KEY_BLOCK_LINES = 200
_lock = threading.Lock()  # detect-secrets keeps its settings in a process-wide global


@dataclass
class Redacted:
    """A file's text with its secrets replaced, and how many of each kind were found."""

    text: str
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.kinds.values())


def marker(kind: str) -> str:
    """What stands in a redacted secret's place."""
    return f"«redacted: {kind}»"


def redact(path: str, text: str) -> Redacted:
    """`text` (the content of `path`) with every secret found replaced by a marker."""
    lines = text.split("\n")
    candidates = {number for number, line in enumerate(lines, 1) if _CANDIDATE.search(line)}
    if not candidates:
        return Redacted(text)
    kinds: Counter[str] = Counter()
    for number, kind, value in _findings(path, lines, candidates):
        if kind == "private-key":
            kinds[kind] += _redact_key_block(lines, number)
        elif _replace(lines, number, value, kind):
            kinds[kind] += 1
    for number in sorted(candidates):
        for found in _NAMED_VALUE.finditer(lines[number - 1]):
            value = found.group("value")
            if _high_entropy(value) and not _placeholder(value):
                kinds["high-entropy-secret"] += _replace(lines, number, value, "high-entropy-secret")
    return Redacted("\n".join(lines), kinds)


def _findings(path: str, lines: list[str], candidates: set[int]) -> list[tuple[int, str, str]]:
    """(line number, kind, value) of what detect-secrets finds on the candidate lines.

    The scanner reads files, so the candidate lines alone are written to a temporary file under
    the original file name (some plugins read the extension); line numbers are mapped back.
    """
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import transient_settings

    numbers = sorted(candidates)
    scanned = "\n".join(lines[number - 1] for number in numbers)
    with tempfile.TemporaryDirectory(prefix="ragqa-scan-") as folder:
        target = os.path.join(folder, PurePosixPath(path).name or "file")
        with open(target, "w", encoding="utf-8") as stream:
            stream.write(scanned)
        with _lock, transient_settings({"plugins_used": [{"name": name} for name in PLUGINS]}):
            found: list[Any] = list(scan_file(target))
    results = []
    for secret in found:
        value = secret.secret_value or ""
        kind = _kind(secret.type)
        if kind in ("secret-keyword", "basic-auth-credentials") and _placeholder(value):
            continue  # scott:tiger, user:pass, SECRET_KEY="base64 encoded random bytes": examples
        results.append((numbers[secret.line_number - 1], kind, value))
    return results


def _placeholder(value: str) -> bool:
    """A value a documentation example gives a secret-like name, not a secret: real secrets have
    no spaces, are not made of words alone and are not elided (a token format's own detector —
    GitHub, AWS, Slack … — is never overruled by this)."""
    value = value.strip("\"'`")
    return bool(_PLACEHOLDER.match(value) or _EXAMPLE_VALUE.search(value))


def _kind(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def _replace(lines: list[str], number: int, value: str, kind: str) -> bool:
    """Replace `value` on line `number` (or, for a value that is only a token's prefix, the
    whole token the plugin's pattern matches there)."""
    line = lines[number - 1]
    if len(value) >= 6 and value in line:
        lines[number - 1] = line.replace(value, marker(kind))
        return True
    token = re.search(rf"{re.escape(value)}[\w.+/=-]*", line) if value else None
    if token is None:
        return False
    lines[number - 1] = line[:token.start()] + marker(kind) + line[token.end():]
    return True


def _redact_key_block(lines: list[str], number: int) -> int:
    """Replace the body of a private key that begins on line `number`; 1 when one was found."""
    begin = _BEGIN_KEY.search(lines[number - 1])
    if begin is None:
        return 0
    line = lines[number - 1]
    end = _END_KEY.search(line, begin.end())
    if end is not None:  # the whole key on one line (escaped newlines in JSON or YAML)
        lines[number - 1] = line[:begin.end()] + marker("private-key") + line[end.start():]
        return 1
    for row in range(number, min(len(lines), number + _KEY_BLOCK_LINES)):
        if _END_KEY.search(lines[row]):
            break
        lines[row] = marker("private-key")
    return 1


def _high_entropy(value: str) -> bool:
    """Random-looking by detect-secrets' measure: its base64 or hex limit is exceeded."""
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )

    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return HexHighEntropyString().calculate_shannon_entropy(value) > 3.0
    return Base64HighEntropyString().calculate_shannon_entropy(value) > 4.5
