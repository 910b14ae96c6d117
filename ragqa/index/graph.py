"""The code graph of one project at one commit: who calls whom, what a class inherits, what a
module imports, what contains what.

**Nodes** are the project's definitions (module, class-like, function, method — from the symbol
table the chunker wrote into the record), one `module` node per code file and one `package`
node per folder of code files (so sibling modules are two steps apart). **Edges**: `contains`
(package → module → class → method), `imports` (module → module), `calls` (a definition → what it
calls or refers to; the referencing line is kept) and `inherits` (class → base).

**Facts and resolution.** Ingest stores, per code file, what its syntax tree says
(`ragqa.chunking.references.FileFacts`: imports, names called or referred to, bases, as
written) — read from the chunker's own tree, so nothing is parsed twice. The graph resolves
those names when it is opened, by name and "good enough for ranking": the same file first, then
the names the file imports (Python modules and relative imports, Java classes, JS/TS relative
modules, Go packages), `self.`/`this.`/a Go receiver through the enclosing class and its bases,
the same package (Go, Java), and last a project-wide name defined at most `MAX_GLOBAL` times
(each of those candidates gets a share of the edge).

**Storage** (decision): a derived cache beside the lexical index,
`storage/graph/<collection>/<manifest key>.jsonl.gz` — a JSON header line, then one line per
code file: its path (JSON), its blob and its facts (JSON), tab-separated. An ingest copies the
lines of unchanged blobs as they are and only reads the facts of changed files; gzip's CRC and
the header's key tell a truncated, damaged or foreign file, which is then removed and rebuilt
from the indexed files with a one-line warning. Resolution is redone whenever a project is
opened (about half a second per 10k chunks, `bench/graph.py`), so only facts, never resolved
edges, are stored.
"""

from __future__ import annotations

import bisect
import gzip
import json
import logging
import os
import posixpath
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ragqa.chunking.languages import detect
from ragqa.chunking.references import FileFacts
from ragqa.index.lexical import CollectionFiles, manifest_key
from ragqa.index.registry import FileEntry, ProjectRecord
from ragqa.index.store import StoredChunk
from ragqa.languages import by_grammar

log = logging.getLogger("ragqa.index")
GRAPH_VERSION = "graph-3"  # 2: attribute reads marked; 3: lines `path\tblob\tfacts`
_COMPRESSION = 3  # gzip level: a one-file re-ingest rewrites the whole file, so fast beats small
EDGE_KINDS = ("contains", "imports", "calls", "inherits")
CONTAINS, IMPORTS, CALLS, INHERITS = range(4)
MAX_GLOBAL = 3  # a name defined more often than this project-wide is not guessed at
_NODE_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type", "function", "method",
                         "module", "impl"})
_CLASS_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type", "impl"})
_FAMILY = {"typescript": "javascript", "tsx": "javascript"}  # languages that call each other
_SELF = frozenset({"self", "this", "cls", "super"})
_JS_EXTENSIONS = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", "/index.ts", "/index.js", "/index.tsx")


@dataclass(frozen=True)
class Node:
    """A definition (or a module, a package) with its lines and the chunk holding its first line."""

    id: int
    name: str
    kind: str
    path: str
    start_line: int
    end_line: int
    chunk_id: str

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Site:
    """A line that refers to a node: where, and from which definition."""

    path: str
    line: int
    source: Node


def graph_files(record: ProjectRecord) -> dict[str, FileEntry]:
    """The record's files the graph reads: code in a language with a table entry."""
    return {path: entry for path, entry in record.files.items()
            if entry.kind == "code" and by_grammar(entry.language) is not None}


class ChunkSource(Protocol):
    """Where stored chunks are read from (the vector store, or its snapshot in memory)."""

    def get(self, ids: list[str]) -> list[StoredChunk]: ...


class CodeGraph:
    """The resolved graph and its read interface (`definitions`, `references`, `callers`,
    `callees`, `neighbours`)."""

    def __init__(self, nodes: list[Node], edges: dict[tuple[int, int, int], float],
                 sites: dict[int, list[tuple[str, int, int]]]) -> None:
        self.nodes = nodes
        keys = sorted(edges)
        self.src: npt.NDArray[np.int32] = np.array([k[0] for k in keys], dtype=np.int32)
        self.dst: npt.NDArray[np.int32] = np.array([k[1] for k in keys], dtype=np.int32)
        self.kind: npt.NDArray[np.int8] = np.array([k[2] for k in keys], dtype=np.int8)
        self.weight: npt.NDArray[np.float32] = np.array([edges[k] for k in keys], dtype=np.float32)
        self._sites = sites
        self._out: dict[int, list[int]] = {}
        self._in: dict[int, list[int]] = {}
        for position, (source, target, _) in enumerate(keys):
            self._out.setdefault(source, []).append(position)
            self._in.setdefault(target, []).append(position)
        self._by_short: dict[str, list[int]] = {}
        self._by_name: dict[str, list[int]] = {}
        self._by_chunk: dict[str, list[int]] = {}
        self._by_path: dict[str, list[int]] = {}
        for node in nodes:
            if node.kind != "package":
                self._by_path.setdefault(node.path, []).append(node.id)
            if node.kind not in ("module", "package"):
                self._by_short.setdefault(node.short_name.lower(), []).append(node.id)
                self._by_name.setdefault(node.name.lower(), []).append(node.id)
            self._by_chunk.setdefault(node.chunk_id, []).append(node.id)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def edge_count(self) -> int:
        return len(self.src)

    def definitions(self, name: str) -> list[Node]:
        """The definitions of `name`: a qualified name (`Session.send`, `requests.Session.send`,
        `Walker::new`) or a short one (`send`), qualified matches first."""
        parts = name.strip("`() ").replace("::", ".").replace("#", ".").split(".")
        for start in range(len(parts) - 1):
            found = self._by_name.get(".".join(parts[start:]).lower())
            if found:
                return [self.nodes[i] for i in found]
        return [self.nodes[i] for i in self._by_short.get(parts[-1].lower(), [])]

    def at_chunk(self, chunk_id: str) -> list[Node]:
        """The nodes whose first line is in this chunk."""
        return [self.nodes[i] for i in self._by_chunk.get(chunk_id, [])]

    def module_of(self, path: str) -> Node | None:
        """The module node of a code file."""
        return next((self.nodes[i] for i in self._by_path.get(path, []) if self.nodes[i].kind == "module"),
                    None)

    def at(self, path: str, line: int) -> Node | None:
        """The innermost definition of `path` holding `line`, else the file's module."""
        nodes = [self.nodes[i] for i in self._by_path.get(path, [])]
        holding = [node for node in nodes
                   if node.kind != "module" and node.start_line <= line <= node.end_line]
        if holding:
            return min(holding, key=lambda node: (node.end_line - node.start_line, -node.start_line))
        return self.module_of(path)

    def references(self, node: Node) -> list[Site]:
        """Every line that calls or refers to `node` (resolved by name), in path and line order."""
        return [Site(path, line, self.nodes[source]) for path, line, source in
                sorted(self._sites.get(node.id, []))]

    def callers(self, node: Node) -> list[Node]:
        """The definitions that call or refer to `node`."""
        return self._ends(self._in.get(node.id, []), CALLS, self.src)

    def callees(self, node: Node) -> list[Node]:
        """The definitions `node` calls or refers to."""
        return self._ends(self._out.get(node.id, []), CALLS, self.dst)

    def neighbours(self, node: Node) -> list[tuple[Node, str]]:
        """Every node one edge away, with the relation read from `node`: `calls`, `called by`,
        `contains`, `contained in`, `imports`, `imported by`, `inherits`, `inherited by`."""
        found: list[tuple[Node, str]] = []
        for position in self._out.get(node.id, []):
            found.append((self.nodes[int(self.dst[position])], _FORWARD[int(self.kind[position])]))
        for position in self._in.get(node.id, []):
            found.append((self.nodes[int(self.src[position])], _BACKWARD[int(self.kind[position])]))
        return found

    def _ends(self, positions: list[int], kind: int, ends: npt.NDArray[np.int32]) -> list[Node]:
        seen = dict.fromkeys(int(ends[p]) for p in positions if self.kind[p] == kind)
        return [self.nodes[i] for i in seen]


_FORWARD = ("contains", "imports", "calls", "inherits")
_BACKWARD = ("contained in", "imported by", "called by", "inherited by")


def build(record: ProjectRecord, facts: dict[str, FileFacts]) -> CodeGraph:
    """Resolve every file's facts against the record's definitions."""
    return _Builder(record, facts).build()


@dataclass
class _FileScope:
    path: str
    language: str
    module: int
    defs: list[int] = field(default_factory=list)  # node ids by start line
    starts: list[int] = field(default_factory=list)
    by_name: dict[str, int] = field(default_factory=dict)  # qualified name → node id
    aliases: dict[str, list[int]] = field(default_factory=dict)  # imported local name → nodes
    stars: list[int] = field(default_factory=list)  # modules imported with `*`


class _Builder:
    def __init__(self, record: ProjectRecord, facts: dict[str, FileFacts]) -> None:
        self.record = record
        self.facts = facts
        self.nodes: list[Node] = []
        self.edges: dict[tuple[int, int, int], float] = {}
        self.sites: dict[int, list[tuple[str, int, int]]] = {}
        self.files: dict[str, _FileScope] = {}
        self.short: dict[tuple[str, str], list[int]] = {}  # (language family, short name) → nodes
        self.dotted: dict[str, list[str]] = {}  # a dotted module suffix (`a.b.c`) → its files
        self.folders: dict[str, list[str]] = {}  # folder → code files in it
        self.bases: dict[int, list[int]] = {}

    def build(self) -> CodeGraph:
        files = graph_files(self.record)
        for path, entry in sorted(files.items()):
            self._add_file(path, entry)
        self._add_packages()
        for scope in self.files.values():
            self._add_imports(scope, self.facts.get(scope.path, FileFacts()))
        for scope in self.files.values():
            for line, base in self.facts.get(scope.path, FileFacts()).bases:
                owner = self._class_at(scope, line)
                for target, share in self._resolve(scope, base, owner, classes=True):
                    self._edge(owner if owner is not None else scope.module, target, INHERITS, share)
                    if owner is not None:
                        self.bases.setdefault(owner, []).append(target)
        for scope in self.files.values():
            for name, line in self.facts.get(scope.path, FileFacts()).references:
                source = self._enclosing(scope, line)
                for target, share in self._resolve(scope, name, source):
                    if target != source:
                        self._edge(source, target, CALLS, share)
                        self.sites.setdefault(target, []).append((scope.path, line, source))
        return CodeGraph(self.nodes, self.edges, self.sites)

    def _node(self, name: str, kind: str, path: str, start: int, end: int, chunk_id: str) -> int:
        self.nodes.append(Node(len(self.nodes), name, kind, path, start, end, chunk_id))
        return len(self.nodes) - 1

    def _edge(self, source: int, target: int, kind: int, weight: float = 1.0) -> None:
        key = (source, target, kind)
        self.edges[key] = self.edges.get(key, 0.0) + weight

    def _add_file(self, path: str, entry: FileEntry) -> None:
        if not entry.chunks:
            return
        language = detect(path)[0]
        module_name = _module_name(path)
        last = max((end for _, _, _, end, _ in entry.symbols), default=1)
        module = self._node(module_name, "module", path, 1, last, entry.chunks[0])
        scope = _FileScope(path, language, module)
        self.files[path] = scope
        parts = module_name.split(".")
        for start in range(len(parts)):
            self.dotted.setdefault(".".join(parts[start:]), []).append(path)
        self.folders.setdefault(posixpath.dirname(path), []).append(path)
        for name, kind, start_line, end_line, position in entry.symbols:
            if kind not in _NODE_KINDS or not 0 <= position < len(entry.chunks):
                continue
            node = self._node(name, kind, path, start_line, end_line, entry.chunks[position])
            scope.defs.append(node)
            scope.starts.append(start_line)
            scope.by_name.setdefault(name, node)
            self.short.setdefault((_FAMILY.get(language, language), name.rsplit(".", 1)[-1]), []).append(node)
            parent = scope.by_name.get(name.rsplit(".", 1)[0]) if "." in name else None
            self._edge(parent if parent is not None else module, node, CONTAINS)

    def _add_packages(self) -> None:
        for folder, paths in sorted(self.folders.items()):
            first = self.files[paths[0]]
            package = self._node(folder.replace("/", ".") or ".", "package", folder,
                                 1, 1, self.nodes[first.module].chunk_id)
            for path in paths:
                self._edge(package, self.files[path].module, CONTAINS)

    def _add_imports(self, scope: _FileScope, facts: FileFacts) -> None:
        for local, target in facts.imports:
            nodes = self._import_targets(scope, target)
            if not nodes:
                continue
            if local == "*":
                scope.stars.extend(nodes)
            elif local:
                scope.aliases.setdefault(local, []).extend(nodes)
            for node in nodes:
                module = self.files[self.nodes[node].path].module
                if module != scope.module:
                    self._edge(scope.module, module, IMPORTS)

    def _import_targets(self, scope: _FileScope, target: str) -> list[int]:
        """The nodes an import names: a module, or a definition in a module."""
        if scope.language in ("javascript", "typescript", "tsx"):
            return self._js_target(scope, target)
        if scope.language == "go":
            tail = target.rstrip("/").split("/")
            for length in (2, 1):
                folders = [folder for folder in self.folders
                           if folder.split("/")[-length:] == tail[-length:] and len(tail) >= length]
                if len(folders) == 1:
                    return [self.files[path].module for path in self.folders[folders[0]]]
            return []
        dotted = _absolute(target, scope.path) if target.startswith(".") else target
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            paths = self.dotted.get(".".join(parts[:cut]), [])
            if len(paths) != 1:
                continue
            rest = ".".join(parts[cut:])
            found = self.files[paths[0]]
            if not rest:
                return [found.module]
            node = found.by_name.get(rest)
            if node is not None:
                return [node]
            return [found.module] if cut == len(parts) - 1 else []
        return []

    def _js_target(self, scope: _FileScope, target: str) -> list[int]:
        module, _, name = target.partition("#")
        if not module.startswith("."):
            return []
        base = posixpath.normpath(posixpath.join(posixpath.dirname(scope.path), module))
        for extension in _JS_EXTENSIONS:
            found = self.files.get(base + extension)
            if found is not None:
                node = found.by_name.get(name) if name and name != "default" else None
                return [node if node is not None else found.module]
        return []

    def _class_at(self, scope: _FileScope, line: int) -> int | None:
        for node in scope.defs:
            if self.nodes[node].start_line <= line <= self.nodes[node].end_line and \
                    self.nodes[node].kind in _CLASS_KINDS and self.nodes[node].start_line >= line - 3:
                return node
        return None

    def _enclosing(self, scope: _FileScope, line: int) -> int:
        """The innermost definition holding `line`, else the module."""
        position = bisect.bisect_right(scope.starts, line) - 1
        best: int | None = None
        for index in range(position, max(-1, position - 200), -1):
            node = self.nodes[scope.defs[index]]
            if node.end_line >= line and (best is None or node.start_line >= self.nodes[best].start_line):
                best = node.id
                break
        return best if best is not None else scope.module

    def _resolve(self, scope: _FileScope, name: str, source: int | None, classes: bool = False
                 ) -> list[tuple[int, float]]:
        """The nodes `name` (as written in `scope`, inside `source`) stands for, with shares. An
        attribute read (`@index.record`) is never guessed project-wide: too many share a name."""
        read = name.startswith("@")
        name = name.removeprefix("@")
        unknown_receiver = name.startswith(".")
        parts = [part for part in name.split(".") if part]
        if not parts:
            return []
        last = parts[-1]
        if not unknown_receiver:
            found = self._resolve_known(scope, parts, source)
            if found:
                return [(node, 1.0) for node in found if not classes or self.nodes[node].kind in _CLASS_KINDS]
        defined = self.short.get((_FAMILY.get(scope.language, scope.language), last), [])
        if read or len(defined) > 4 * MAX_GLOBAL:
            return []
        candidates = [node for node in defined
                      if (not classes or self.nodes[node].kind in _CLASS_KINDS)
                      and (len(parts) == 1 or "." in self.nodes[node].name or
                           self.nodes[node].kind == "function")]
        if 0 < len(candidates) <= MAX_GLOBAL:
            return [(node, 1.0 / len(candidates)) for node in candidates]
        return []

    def _resolve_known(self, scope: _FileScope, parts: list[str], source: int | None) -> list[int]:
        head, last = parts[0], parts[-1]
        owner = self._owner(scope, source)
        if len(parts) == 1:
            node = self._in_scope(scope, head, owner)
            return [node] if node is not None else self._imported(scope, head)
        if head in _SELF or (owner is not None and head not in scope.aliases and
                             self._in_scope(scope, head, None) is None):
            method = self._method(owner, last) if owner is not None else None
            if method is not None:
                return [method]
            if head in _SELF:
                return []
        targets, rest = self._prefix(scope, parts)
        found = []
        for target in targets:
            held = self.nodes[target]
            if held.kind == "module":
                inner = self.files[held.path].by_name.get(".".join(rest)) or \
                    self.files[held.path].by_name.get(last)
                if inner is None and self.files[held.path].language == "go":
                    inner = self._in_folder(held.path, last)
                if inner is not None:
                    found.append(inner)
            elif held.kind in _CLASS_KINDS:
                method = self._method(target, last)
                if method is not None:
                    found.append(method)
        return found

    def _prefix(self, scope: _FileScope, parts: list[str]) -> tuple[list[int], list[str]]:
        """The nodes the longest imported or defined prefix of a dotted name stands for, and the
        parts after it (`os.path.join` with `import os.path`: the module `os.path`, `join`)."""
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            found = self._imported(scope, prefix)
            if not found and cut == 1:
                node = self._in_scope(scope, prefix, None)
                found = [node] if node is not None else []
            if found:
                return found, parts[cut:]
        return [], parts[1:]

    def _owner(self, scope: _FileScope, source: int | None) -> int | None:
        """The class a definition is a method of (`Session` of `Session.send`)."""
        if source is None or "." not in self.nodes[source].name:
            return None
        owner_name = self.nodes[source].name.rsplit(".", 1)[0]
        node = scope.by_name.get(owner_name)
        if node is None and scope.language == "go":
            node = self._in_folder(scope.path, owner_name)
        return node

    def _method(self, owner: int, name: str, depth: int = 0) -> int | None:
        """`name` defined in class `owner` or in its bases (a few levels up)."""
        node = self.nodes[owner]
        scope = self.files.get(node.path)
        found = scope.by_name.get(f"{node.name}.{name}") if scope is not None else None
        if found is None and scope is not None and scope.language == "go":
            found = self._in_folder(node.path, f"{node.name}.{name}")
        if found is not None or depth >= 4:
            return found
        for base in self.bases.get(owner, []):
            found = self._method(base, name, depth + 1)
            if found is not None:
                return found
        return None

    def _in_scope(self, scope: _FileScope, name: str, owner: int | None) -> int | None:
        """A name visible unqualified: defined in the file, or (Go, Java) in its package."""
        node = scope.by_name.get(name)
        if node is not None:
            return node
        if scope.language in ("go", "java"):
            return self._in_folder(scope.path, name)
        return None

    def _in_folder(self, path: str, name: str) -> int | None:
        for other in self.folders.get(posixpath.dirname(path), []):
            node = self.files[other].by_name.get(name)
            if node is not None:
                return node
        return None

    def _imported(self, scope: _FileScope, name: str) -> list[int]:
        found = scope.aliases.get(name, [])
        if found:
            return found
        for module in scope.stars:
            node = self.files[self.nodes[module].path].by_name.get(name)
            if node is not None:
                return [node]
        return []


def file_text(source: ChunkSource, chunk_ids: Sequence[str]) -> str:
    """A file's indexed text put together from its chunks (the chunker leaves only empty lines
    between them): what a lost graph is rebuilt from."""
    lines: dict[int, str] = {}
    for chunk in source.get(list(chunk_ids)):
        first = int(chunk.metadata.get("start_line", 1))
        for offset, text in enumerate(chunk.text.split("\n")):
            lines[first + offset] = text
    return "\n".join(lines.get(number, "") for number in range(1, max(lines, default=0) + 1))


def _module_name(path: str) -> str:
    """`pkg/sessions.py` → `pkg.sessions`, `pkg/__init__.py` → `pkg`, `src/main/java/a/B.java` →
    `src.main.java.a.B` (its dotted suffixes name it too)."""
    stem = path.rsplit(".", 1)[0] if "." in posixpath.basename(path) else path
    stem = stem.removesuffix("/__init__").removesuffix("/index")
    return stem.replace("/", ".")


def _absolute(target: str, path: str) -> str:
    """A relative Python import (`..models.Base` in `pkg/sub/x.py`) as an absolute dotted name."""
    dots = len(target) - len(target.lstrip("."))
    package = posixpath.dirname(path).split("/") if posixpath.dirname(path) else []
    package = package[: len(package) - (dots - 1)] if dots > 1 else package
    rest = target[dots:]
    return ".".join([*package, rest] if rest else package)


class GraphStore(CollectionFiles):
    """The stored facts of every project's code graph, one folder per collection (see the module
    docstring)."""

    suffix = ".jsonl.gz"

    def load(self, collection: str, live_ids: set[str]) -> dict[str, tuple[str, str]] | None:
        """Path → (blob, its facts as stored JSON) saved for exactly these chunks; None when
        there is no such file. A damaged one (truncated, corrupt, foreign) is reported in one
        line and removed; one of an older format is removed quietly."""
        path = self.path(collection, live_ids)
        if not path.exists():
            return None
        try:
            return _read(path, manifest_key(live_ids))
        except _OtherVersion:
            log.info("code graph %s was written by another version of ragqa; rebuilding it", path)
            path.unlink(missing_ok=True)
            return None
        except Exception as error:  # any damage: the file is a cache, rebuilt from the files
            text = " ".join(str(error).split())[:120]
            log.warning("code graph %s is damaged (%s: %s); rebuilding it from the indexed files",
                        path, type(error).__name__, text)
            path.unlink(missing_ok=True)
            return None

    def update(self, record: ProjectRecord, new_facts: dict[str, FileFacts], base_ids: set[str] | None,
               read_facts: Callable[[str], FileFacts], parsed: bool = True) -> dict[str, FileFacts]:
        """Save the facts of every graph file of `record` for its manifest — from `new_facts`
        (just chunked), the previous manifest's file (`base_ids`, same blob: its stored line is
        copied as is) or `read_facts` — and return them (`parsed`; else nothing, for ingest)."""
        live = record.live_ids()
        wanted = graph_files(record)
        saved = self.load(record.collection, live)
        if saved is not None and all(saved.get(path, ("",))[0] == entry.blob
                                     for path, entry in wanted.items()):
            return {path: _facts(saved[path][1]) for path in wanted} if parsed else {}
        base = (self.load(record.collection, base_ids) if base_ids else None) or saved or {}
        unread = [path for path, entry in wanted.items()
                  if path not in new_facts and base.get(path, ("",))[0] != entry.blob]
        if len(unread) > 1:
            log.info("code graph of %s: reading %d files", record.name, len(unread))
        lines: dict[str, tuple[str, str]] = {}
        for path in sorted(wanted):
            blob = wanted[path].blob
            if path in new_facts:
                lines[path] = (blob, _json(new_facts[path]))
            elif path in base and base[path][0] == blob:
                lines[path] = base[path]
            else:
                lines[path] = (blob, _json(read_facts(path)))
        _write(self.path(record.collection, live), manifest_key(live), lines)
        if not parsed:
            return {}
        return {path: new_facts[path] if path in new_facts else _facts(text)
                for path, (_, text) in lines.items()}



class _OtherVersion(ValueError):
    """A graph file of another format version: not damage, only to be rebuilt."""


def _read(path: Path, key: str) -> dict[str, tuple[str, str]]:
    """A graph file's lines: `<path as JSON>\t<blob>\t<facts as JSON>` after a header line."""
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        header = json.loads(stream.readline())
        if str(header.get("graph", "")).startswith("graph-") and header.get("graph") != GRAPH_VERSION:
            raise _OtherVersion(header.get("graph"))
        if header.get("graph") != GRAPH_VERSION or header.get("key") != key:
            raise ValueError("it is the graph of another set of chunks")
        found: dict[str, tuple[str, str]] = {}
        for line in stream:
            written, blob, text = line.rstrip("\n").split("\t", 2)
            found[str(json.loads(written))] = (blob, text)
        if len(found) != header.get("files"):
            raise ValueError(f"it holds {len(found)} files of {header.get('files')}")
    return found


def _json(facts: FileFacts) -> str:
    return json.dumps(facts.to_json(), separators=(",", ":"))


def _facts(text: str) -> FileFacts:
    return FileFacts.from_json(json.loads(text))


def _write(path: Path, key: str, lines: dict[str, tuple[str, str]]) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as raw, \
                gzip.open(raw, "wt", encoding="utf-8", compresslevel=_COMPRESSION) as stream:
            stream.write(json.dumps({"graph": GRAPH_VERSION, "key": key, "files": len(lines)}) + "\n")
            for file_path, (blob, text) in lines.items():
                stream.write(f"{json.dumps(file_path)}\t{blob}\t{text}\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
