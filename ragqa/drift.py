"""Docs drift: references in a project's docs to code that no longer exists at the indexed commit
(`ragqa check --drift`, or a `drift: true` check).

What the docs' text is checked for — only what names this project unambiguously, so that
healthy docs stay quiet (changelogs and release notes, which name what *used* to exist, are left
out):
- **names** in inline code: a dotted name rooted at one of the project's own top-level packages
  (`requests.Session.send`), a member of one of its classes (`Session.send()`), and the targets of
  reStructuredText roles (:func:`merge_setting`): each must be defined (the symbol table), or be
  a name its module defines or imports; a method reached through a constructor call
  (`Timeout().connect_only(2.0)`) is checked as `Timeout.connect_only`, and a host name
  (`ragqa.example.com`) is not a name;
- **settings and options**: an environment variable with the project's prefix (`HTTPX_LOG_LEVEL`),
  and the `--options` of a command line that starts with the project's own command (`ragqa ask
  --top-k 3`), must occur in the code — literally, or as the code declares them without writing
  them out: the fields of a pydantic-settings model with an `env_prefix` (`RAGQA_TOP_K` for
  `top_k` under `env_prefix="RAGQA_"`, or a field's `alias`), and the parameters of typer
  commands (`audience: Annotated[str, typer.Option()]` is `--audience`), read from the code's
  syntax tree (`ragqa.drift_code`);
- **relative links** in Markdown: the file (or folder) must exist at the commit, and a `#anchor`
  into a Markdown file must name one of its headings (GitHub's slugs);
- **imports** in fenced Python snippets: `from pkg.mod import name` of the project's own
  packages must name a module that exists and a name it defines or imports.
A bare name (`LifespanManager`, `close()`) is never checked: it may be another library's or the
reader's own.
"""

from __future__ import annotations

import builtins
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ragqa.drift_code import DeclaredNames, declared_names
from ragqa.index import StoredChunk
from ragqa.index.lexical import tokenize
from ragqa.links import permalink
from ragqa.markdown import MD_LINK, code_spans, line_kinds
from ragqa.retrieve import ProjectIndex
from ragqa.settings import Settings
from ragqa.sources import tracked_paths

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_CALLED = re.compile(r"^([A-Za-z_][\w.]*)\(.*\)$")  # `checkout(cart)`: the name called
_OPTION = re.compile(r"^--[a-z][a-z0-9-]{2,}$")
_ENV = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]{2,}$")
_RST_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|obj|data|exc):`~?([^`<>]+?)`")
_RST_LITERAL = re.compile(r"``([^`]+)``")
_IMPORT = re.compile(r"^\s*(?:>>>\s*)?from\s+([\w.]+)\s+import\s+([\w, ()]+)$"
                     r"|^\s*(?:>>>\s*)?import\s+([\w.]+)\s*$")
_SKIP_LINKS = ("http:", "https:", "mailto:", "ftp:", "#", "/", "data:", "tel:", "javascript:")
_DOC_SUFFIXES = (".md", ".markdown", ".rst", ".txt")
_NOT_LIBRARY = ("examples/", "example/", "doc/", "docs/", "benchmarks/", "bench/")
_BUILTINS = frozenset(dir(builtins))
# the last label of a host name in docs (`ragqa.example.com`, `api.internal`), never a Python name
_HOST_ENDINGS = frozenset({"com", "org", "net", "io", "dev", "app", "ai", "co", "example", "test", "local",
                           "localhost", "internal", "corp", "edu", "gov", "invalid", "lan"})


@dataclass(frozen=True)
class Drift:
    """A reference in the docs that does not resolve at the indexed commit."""

    path: str
    line: int
    reference: str
    kind: str  # name, option, setting, link, anchor, import
    reason: str
    url: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.reason} ({self.url})"


class DriftChecker:
    """Finds drift in one project's docs."""

    def __init__(self, index: ProjectIndex, tracked: set[str] | None = None,
                 changelogs: Iterable[str] = (), tests: Iterable[str] = ()) -> None:
        self.index = index
        self.record = index.record
        self.changelogs = index.matching(list(changelogs)) if changelogs else set()
        self.not_library = index.matching(list(tests))
        self.tracked = tracked if tracked is not None else set(index.record.files)
        self.packages = _packages(self.record.files)
        self.commands = {name.lower() for name in (*self.packages, self.record.name.rsplit("/", 1)[-1])}
        code_ids = [chunk_id for chunk_id, path in index.chunk_paths.items()
                    if index.file_kinds[path] == "code"]
        self.code_terms = index.lexical.chunk_terms(code_ids)
        self._code_ids = code_ids
        self._texts: dict[str, str] | None = None
        self._declared: DeclaredNames | None = None
        # parsed once per check, so the work is O(links + pages), never links × page size
        self._page_anchors: dict[str, set[str]] = {}
        self._folders = {folder for tracked_path in self.tracked for folder in _parents(tracked_path)}

    def check(self) -> list[Drift]:
        """Every unresolved reference of the project's docs, by file and line."""
        found: list[Drift] = []
        docs = sorted(path for path, kind in self.index.file_kinds.items()
                      if kind == "docs" and path.lower().endswith(_DOC_SUFFIXES)
                      and path not in self.changelogs)
        for path in docs:
            text, _ = self.index.read_lines(path, 1, 10**9)
            found.extend(self._file(path, text))
        return found

    def _file(self, path: str, text: str) -> Iterator[Drift]:
        markdown = not path.lower().endswith((".rst", ".txt"))
        lines = text.split("\n")
        kinds = line_kinds(text) if markdown else ["text"] * len(lines)
        block: list[tuple[int, str]] = []
        for number, (line, kind) in enumerate(zip(lines, kinds, strict=True), 1):
            if kind == "code":
                block.append((number, line))
                continue
            if block:
                yield from self._snippet(path, block)
                block = []
            if kind == "text":
                for reference in _inline(line, markdown):
                    yield from self._reference(path, number, reference)
                for target in ([] if markdown else _RST_ROLE.findall(line)):
                    yield from self._role(path, number, target)
                if markdown:
                    yield from self._links(path, number, line)
        if block:
            yield from self._snippet(path, block)

    def _reference(self, path: str, line: int, reference: str) -> Iterator[Drift]:
        name = self._called_name(reference.strip()).lstrip("~")
        words = reference.split()
        if len(words) > 1 and words[0] in self.commands:
            for option in (word.split("=")[0] for word in words[1:] if _OPTION.match(word.split("=")[0])):
                if option not in self._names().options and not self._in_code(option):
                    yield self._drift(path, line, option, "option", f"`{option}` appears nowhere in the code")
        elif _ENV.match(reference) and reference.split("_")[0].lower() in self.commands:
            if reference.upper() not in self._names().settings and not self._in_code(reference):
                yield self._drift(path, line, reference, "setting", f"`{reference}` appears nowhere in "
                                                                   "the code")
        elif _DOTTED.match(name) and not _host_name(name) and self._ours(name) and not self._resolves(name):
            yield self._drift(path, line, reference, "name", f"`{name}` is not defined in the code")

    def _called_name(self, reference: str) -> str:
        """The name a reference calls: `Session.send()` → `Session.send`; through a constructor of
        one of the project's classes, the method (`Timeout().connect_only(2.0)` →
        `Timeout.connect_only`); otherwise what the first call returns is unknown, so the name
        stops there (`requests.get(url).json()` → `requests.get`). Not a call: the reference."""
        if not _CALLED.match(reference):
            return reference
        name, text = "", reference
        while (opened := text.find("(")) >= 0:
            head, closed = text[:opened], _closing(text, opened)
            rest = text[closed + 1:] if closed is not None else ""
            if not (rest.startswith(".") and self._is_class(head.rsplit(".", 1)[-1])):
                return name + head
            name, text = name + head, rest
        return name + text

    def _is_class(self, short_name: str) -> bool:
        return any(symbol.kind == "class" and symbol.short_name == short_name
                   for symbol in self.index.symbols.find(short_name))

    def _names(self) -> DeclaredNames:
        """Settings and options the project's Python code declares without writing them out."""
        if self._declared is None:
            sources = [self.index.read_lines(path, 1, 10**9)[0]
                       for path, kind in self.index.file_kinds.items()
                       if kind == "code" and path.endswith(".py") and path not in self.not_library]
            self._declared = declared_names(sources)
        return self._declared

    def _ours(self, dotted: str) -> bool:
        """A dotted name rooted at the project's package or at one of its library classes (not a
        class of its tests or examples: docs' examples define classes of the same names)."""
        first = dotted.split(".")[0]
        return first in self.packages or any(
            symbol.kind == "class" and symbol.short_name == first and symbol.path not in self.not_library
            and not symbol.path.startswith(_NOT_LIBRARY) for symbol in self.index.symbols.find(first))

    def _role(self, path: str, line: int, target: str) -> Iterator[Drift]:
        """An explicit reStructuredText reference (:func:`name`): a bare name must be defined."""
        name = target.strip().lstrip("~").removesuffix("()")
        if "." in name:
            if self._ours(name) and not self._resolves(name):
                yield self._drift(path, line, target, "name", f"`{name}` is not defined in the code")
        elif name not in _BUILTINS and not self.index.symbols.find(name):
            yield self._drift(path, line, target, "name", f"`{name}` is not defined in the code")

    def _resolves(self, dotted: str) -> bool:
        """A dotted name of the project: a module, a definition, or a name the module defines or
        imports (`requests.get` is defined in `requests/api.py` and imported by the package)."""
        parts = dotted.split(".")
        if self.index.module_path(dotted) or self.index.symbols.find(dotted):
            return True
        for cut in range(len(parts) - 1, 0, -1):
            module = self.index.module_path(".".join(parts[:cut]))
            if module is not None:
                rest = parts[cut:]
                if self.index.symbols.find(".".join(rest)):
                    return True
                if len(rest) > 1 and self._is_class(rest[0]):
                    return False  # a member of one of the project's classes, as `Session.send` is
                return re.search(rf"\b{re.escape(rest[0])}\b", self._text(module)) is not None
        return False

    def _links(self, path: str, line: int, text: str) -> Iterator[Drift]:
        for match in re.finditer(MD_LINK, text):
            if match.group("image"):
                continue
            target = match.group("target").strip("<>")
            if target.startswith(_SKIP_LINKS) or ":" in target.split("/")[0]:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), file_part))
            if resolved.startswith("../"):
                continue  # outside the repository
            if not self._exists(resolved) and not self._site_link(path, file_part):
                yield self._drift(path, line, target, "link", f"the link to `{file_part}` leads to no file")
            elif anchor and resolved.lower().endswith((".md", ".markdown")) and \
                    resolved in self.record.files and anchor.lower() not in self._anchors(resolved):
                yield self._drift(path, line, target, "anchor",
                                  f"`{file_part}` has no heading for the anchor `#{anchor}`")

    def _snippet(self, path: str, block: list[tuple[int, str]]) -> Iterator[Drift]:
        for number, line in block:
            match = _IMPORT.match(line)
            if not match:
                continue
            module = match.group(1) or match.group(3)
            if module.split(".")[0] not in self.packages:
                continue
            module_path = self.index.module_path(module)
            if module_path is None:
                yield self._drift(path, number, module, "import",
                                  f"the snippet imports `{module}`, which does not exist")
                continue
            for name in (n.strip(" ()") for n in (match.group(2) or "").split(",")):
                name = name.split(" as ")[0].strip()
                if name and name != "*" and not self._resolves(f"{module}.{name}"):
                    yield self._drift(path, number, f"{module}.{name}", "import",
                                      f"the snippet imports `{name}` from `{module}`, which does not "
                                      "define it")

    def _site_link(self, path: str, target: str) -> bool:
        """A link written for the docs site (mkdocs, sphinx): `../advanced/transports` from
        `docs/async.md` is the page `docs/advanced/transports.md`, the page itself being a folder."""
        page = posixpath.splitext(path)[0]
        for base in (posixpath.dirname(path), page):
            resolved = posixpath.normpath(posixpath.join(base, target.rstrip("/")))
            if any(self._exists(resolved + suffix) for suffix in (".md", ".rst", "/index.md", "/README.md")):
                return True
        return False

    def _exists(self, path: str) -> bool:
        return path in self.tracked or path == "." or path.rstrip("/") in self._folders

    def _anchors(self, path: str) -> set[str]:
        if path not in self._page_anchors:
            self._page_anchors[path] = self._read_anchors(path)
        return self._page_anchors[path]

    def _read_anchors(self, path: str) -> set[str]:
        text, _ = self.index.read_lines(path, 1, 10**9)
        kinds = line_kinds(text)
        anchors: set[str] = set()
        for line, kind in zip(text.split("\n"), kinds, strict=True):
            heading = re.match(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line) if kind == "text" else None
            if heading:
                anchors.add(github_slug(heading.group(1)))
            anchors.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', line))
        return anchors

    def _in_code(self, literal: str) -> bool:
        terms = tokenize(literal)
        if terms and not all(term in self.code_terms for term in terms):
            return False
        return any(literal in text for text in self._code_texts().values())

    def _text(self, path: str) -> str:
        return "\n".join(chunk.text for chunk in self.index.chunks(self.record.files[path].chunks))

    def _code_texts(self) -> dict[str, str]:
        if self._texts is None:
            chunks: list[StoredChunk] = self.index.chunks(self._code_ids)
            self._texts = {chunk.id: chunk.text for chunk in chunks}
        return self._texts

    def _drift(self, path: str, line: int, reference: str, kind: str, reason: str) -> Drift:
        return Drift(path, line, reference, kind, reason,
                     permalink(self.record.web_url, self.record.commit, path, line, line))


def find_drift(index: ProjectIndex, settings: Settings) -> list[Drift]:
    """The drift of an opened project's docs, with the paths git tracks at its commit."""
    record = index.record
    tracked = tracked_paths(record.source, record.commit, settings, record.name)
    return DriftChecker(index, tracked, settings.changelog_paths, settings.test_paths).check()


def _parents(path: str) -> Iterator[str]:
    """The folders holding `path`: `a/b/c.md` → `a/b`, `a`."""
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"`|\*\*|__|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _host_name(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in _HOST_ENDINGS


def _closing(text: str, opened: int) -> int | None:
    """The index of the parenthesis that closes the one at `opened`, if any."""
    depth = 0
    for position in range(opened, len(text)):
        depth += {"(": 1, ")": -1}.get(text[position], 0)
        if depth == 0:
            return position
    return None


def _inline(line: str, markdown: bool) -> list[str]:
    """The inline code of a line: Markdown code spans, or reStructuredText literals and roles."""
    if markdown:
        return [piece.strip("`").strip() for piece, is_code in code_spans(line) if is_code]
    return _RST_LITERAL.findall(line)


def _packages(files: Iterable[str]) -> set[str]:
    """The project's own top-level Python packages: folders holding an `__init__.py` at the top or
    under `src/` (so `requests` for `src/requests/__init__.py`)."""
    found = set()
    for path in files:
        parts = path.split("/")
        top_level = len(parts) == 2 or (len(parts) == 3 and parts[0] in ("src", "lib"))
        if parts[-1] == "__init__.py" and top_level:
            found.add(parts[-2])
    return found
