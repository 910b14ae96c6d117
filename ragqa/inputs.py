"""Reading files a user hands ragqa — checks, question sets — safely and with clear errors.

Every such file is read the same way: it must be a regular file (not a directory, a device such
as /dev/zero, a FIFO or a socket), no larger than `RAGQA_MAX_INPUT_FILE_BYTES` (1 MB), and UTF-8
text. YAML is read without aliases or anchors (no "billion laughs") and with a bounded nesting
depth; JSON likewise. Each failure is one `RagqaError` that names the file and the reason, and
nothing here reads more than the limit or recurses without bound.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

from ragqa.errors import RagqaError

MAX_DEPTH = 32


class InputFileError(RagqaError):
    """A file given on the command line cannot be used."""

    code = "bad_input_file"


def read_text(path: Path, limit: int) -> str:
    """The text of a regular file of at most `limit` bytes, decoded as UTF-8."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise InputFileError(f"cannot read {path}: {error.strerror or error}") from error
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{path} is {_kind(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise InputFileError(f"{path} is {info.st_size:,} bytes; {limit:,} at most "
                             "(RAGQA_MAX_INPUT_FILE_BYTES)")
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        raise InputFileError(f"cannot read {path}: {error.strerror or error}") from error
    if len(data) > limit:
        raise InputFileError(f"{path} grew past {limit:,} bytes while it was read")
    try:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(f"{path} is not UTF-8 text (byte {error.start:,} cannot be decoded); "
                             "save it as UTF-8") from error


def read_stdin(limit: int) -> str:
    """Standard input's text, for an argument given as `-`: at most one character past `limit`
    (an over-long paste then gets the usual "too long" error rather than filling memory). Closed
    (`<&-`), unreadable (a directory) or not UTF-8 is one `InputFileError` saying so; a terminal
    or a pipe is read alike."""
    stream = sys.stdin
    if stream is None or stream.closed:
        raise InputFileError("standard input is closed: pipe the text in (… | ragqa ask -) or give it "
                             "as the argument")
    buffer = getattr(stream, "buffer", None)
    try:
        if buffer is None:  # a text stream without bytes underneath (an embedding program's)
            return str(stream.read(limit + 1))
        size = 4 * (limit + 1)  # UTF-8: at most 4 bytes a character
        data: bytes = buffer.read(size)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputFileError(f"cannot read standard input: {reason}") from error
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as error:
        cut = len(data) == size and len(data) - error.start < 4 and error.reason == "unexpected end of data"
        if not cut:
            raise InputFileError(f"standard input is not UTF-8 text (byte {error.start:,} cannot be "
                                 "decoded)") from error
        text = data[:error.start].decode("utf-8")  # the read cut a character in two past the limit
    return text[: limit + 1]


def load_yaml(text: str, path: Path) -> Any:
    """YAML data without aliases or anchors and at most `MAX_DEPTH` levels deep."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except _RefusedYaml as error:
        raise InputFileError(f"{path}: {error}") from error
    except yaml.YAMLError as error:
        raise InputFileError(f"{path} is not valid YAML: {' '.join(str(error).split())[:300]}") from error
    except RecursionError as error:
        raise InputFileError(f"{path} is nested too deeply") from error


def load_json(text: str, where: str) -> Any:
    """JSON data at most `MAX_DEPTH` levels deep; `where` names the file (and line) in errors."""
    try:
        data = json.loads(text)
    except RecursionError as error:
        raise InputFileError(f"{where} is nested too deeply") from error
    except ValueError as error:
        raise InputFileError(f"{where} is not valid JSON ({error})") from error
    if _depth(data) > MAX_DEPTH:
        raise InputFileError(f"{where} is nested more than {MAX_DEPTH} levels deep")
    return data


class _RefusedYaml(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader that refuses aliases and anchors and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _RefusedYaml("YAML aliases (*name) are not allowed")
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise _RefusedYaml("YAML anchors (&name) are not allowed")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _RefusedYaml(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _depth(data: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(data, dict):
        return max((_depth(value, level + 1) for value in data.values()), default=level)
    if isinstance(data, list):
        return max((_depth(value, level + 1) for value in data), default=level)
    return level


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
