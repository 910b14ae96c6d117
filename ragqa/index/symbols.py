"""The symbol table: every definition the tree-sitter pass found, by name.

A project's record keeps, per file, the definitions its code makes — qualified name, kind,
lines, and which of the file's chunks holds the defining line — so that a name in a question
(`Timeout`, `connect_timeout`, `Session.request`) leads to the chunk that *defines* it rather
than to the many that merely mention it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from ragqa.index.registry import ProjectRecord

_CLASS_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type"})
# What a capitalised word of prose may name: a class-like type, or an error value (`ErrNotFound`).
_ERROR_KINDS = frozenset({"error", "raise"})  # where an error code is defined, where it is thrown
_PROSE_KINDS = _CLASS_KINDS | _ERROR_KINDS
_KIND_ORDER = {"class": 0, "struct": 0, "interface": 0, "trait": 0, "enum": 0, "type": 0,
               "function": 1, "method": 2, "variable": 3, "error": 1, "raise": 1}
MAX_AMBIGUOUS = 6  # a short name defined more often than this says little on its own


class Symbol(NamedTuple):
    """One definition: `name` is qualified by its enclosing classes (`Session.request`). A named
    tuple rather than a frozen dataclass: a big project's table holds ~100k of them, built on
    every load, and a tuple is several times cheaper to make."""

    name: str
    kind: str
    path: str
    start_line: int
    end_line: int
    chunk_id: str

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


class SymbolTable:
    """Definitions by qualified name and by last name part, case-insensitively."""

    def __init__(self, symbols: Iterable[Symbol]) -> None:
        self.symbols = list(symbols)
        self._qualified: dict[str, list[Symbol]] = {}
        self._short: dict[str, list[Symbol]] = {}
        self._depth = max((symbol.name.count(".") + 1 for symbol in self.symbols), default=1)
        self._files: dict[str, list[Symbol]] = {}
        for symbol in self.symbols:
            self._files.setdefault(symbol.path, []).append(symbol)
            lowered = symbol.name.lower()
            self._qualified.setdefault(lowered, []).append(symbol)
            self._short.setdefault(lowered.rsplit(".", 1)[-1], []).append(symbol)

    @classmethod
    def of(cls, record: ProjectRecord) -> SymbolTable:
        return cls(Symbol(name, kind, path, start, end, entry.chunks[position])
                   for path, entry in record.files.items()
                   for name, kind, start, end, position in entry.symbols
                   if 0 <= position < len(entry.chunks))

    def __len__(self) -> int:
        return len(self.symbols)

    def in_file(self, path: str) -> list[Symbol]:
        """The definitions of one file, in file order."""
        return self._files.get(path, [])

    def find(self, name: str, classes_only: bool = False) -> list[Symbol]:
        """Where `name` is defined, best match first.

        A dotted name matches a qualified name that ends with it (`requests.Session.send` finds
        `Session.send`; Rust's `Walker::new` and Javadoc's `Gson#toJson` are dotted names too);
        a plain name matches definitions with that last part, classes and functions before
        methods and variables. `classes_only` (for a capitalised word of prose, `Timeout`)
        wants an exact-case class-like definition or error value. A short name defined in many
        places (`get`) finds nothing; an error code (kind `error` where it is defined, `raise`
        where it is thrown) is found however often it is thrown.
        """
        parts = name.strip("`()").replace("::", ".").replace("#", ".").split(".")
        # only suffixes as deep as the deepest defined name can match: linear in `name`'s length
        for start in range(max(0, len(parts) - self._depth), len(parts) - 1):
            found = self._qualified.get(".".join(parts[start:]).lower())
            if found:
                return _ordered(found)
        found = self._short.get(parts[-1].lower(), [])
        if classes_only:
            found = [s for s in found if s.kind in _PROSE_KINDS and s.short_name == parts[-1]]
        if any(s.kind in _ERROR_KINDS for s in found):
            return _errors_first(found)
        if len(found) > MAX_AMBIGUOUS:
            top_level = [s for s in found if "." not in s.name]
            found = top_level if 0 < len(top_level) <= MAX_AMBIGUOUS else []
        return _ordered(found)


def _errors_first(symbols: list[Symbol]) -> list[Symbol]:
    """An error code's places: the first line that throws it, then where it is defined (its
    message), then the other lines that throw it, then any other definition of the name."""
    ordered = _ordered(symbols)
    raises = [s for s in ordered if s.kind == "raise"]
    defined = [s for s in ordered if s.kind == "error"]
    others = [s for s in ordered if s.kind not in _ERROR_KINDS]
    return (raises[:1] + defined + raises[1:])[:MAX_AMBIGUOUS] + others[:MAX_AMBIGUOUS]


def _ordered(symbols: list[Symbol]) -> list[Symbol]:
    return sorted(symbols, key=lambda s: (s.name.count("."), _KIND_ORDER.get(s.kind, 1), s.path,
                                          s.start_line))


def defines_option(line: str, name: str) -> bool:
    """Whether `line` defines the option, setting or field `name` rather than reading it:
    `name: int = 5`, `name = …`, `self.name = …`, `"name": …` or a command-line flag `"--name"`
    (dashes or underscores alike). The symbol table holds functions and classes; options like
    these are where a "what does `timeout_keep_alive` do?" is answered."""
    pattern = _option_pattern(name.rsplit(".", 1)[-1].strip("-`()"))
    return pattern is not None and bool(pattern.search(line))


@lru_cache(maxsize=256)
def _option_pattern(name: str) -> re.Pattern[str] | None:
    if len(name) < 3 or not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        return None
    plain = re.escape(name)
    flag = "[-_]".join(re.escape(part) for part in re.split(r"[-_]", name) if part)
    return re.compile("|".join((
        rf"^\s*(self\.)?{plain}\s*(:[^=]*)?=(?!=)",  # name: int = 5, self.name = …
        rf"^\s*[\"']?{plain}[\"']?\s*:",  # "name": … in a mapping or YAML
        rf"[\"']--?{flag}[\"'=]",  # "--name" given to an argument parser
        rf"^\s*(?:[-*+]\s+|\.\. option::\s*)?`{{1,2}}(?:--?)?{flag}\b",  # a docs list item or option
    )))
