"""The symbol table: definitions found by the tree-sitter pass, looked up by name."""

from __future__ import annotations

from ragqa.chunking import read_file
from ragqa.index.registry import FileEntry, ProjectRecord
from ragqa.index.symbols import SymbolTable

CODE = '''"""A module."""

DEFAULT_LIMIT = 30


class Timeout:
    """Timeouts."""

    connect: float = 5.0

    @property
    def connect_only(self):
        return self.connect

    def as_dict(self):
        def helper():
            return 1
        return {"connect": self.connect}


def connect_timeout(seconds):
    return Timeout()


class Session:
    def request(self, method):
        return method

    def get(self):
        return self.request("GET")
'''


def test_definitions_are_qualified_with_kinds_and_lines() -> None:
    found = {d.name: d for d in read_file("src/pkg/http.py", CODE).definitions}
    assert found["DEFAULT_LIMIT"].kind == "variable" and found["DEFAULT_LIMIT"].start_line == 3
    timeout = found["Timeout"]
    assert timeout.kind == "class" and (timeout.start_line, timeout.end_line) == (6, 18)
    assert found["Timeout.connect"].kind == "variable"
    assert found["Timeout.connect_only"].kind == "method" and found["Timeout.connect_only"].start_line == 11
    assert found["Timeout.as_dict.helper"].kind == "function"
    assert found["connect_timeout"].kind == "function" and found["Session.request"].kind == "method"
    assert "Timeout.connect_only.connect_only" not in found, "a decorated definition is found once"


def table() -> SymbolTable:
    chunked = read_file("src/pkg/http.py", CODE)
    def holder(line: int) -> int:
        return next(i for i, c in enumerate(chunked.chunks) if c.start_line <= line <= c.end_line)

    entry = FileEntry(blob="b", language="python", kind="code", chunks=[c.id for c in chunked.chunks],
                      symbols=[(d.name, d.kind, d.start_line, d.end_line, holder(d.start_line))
                               for d in chunked.definitions])
    record = ProjectRecord(name="p", source="s", source_kind="folder", commit="c", collection="x",
                           embedder="e", fingerprint="f", files={"src/pkg/http.py": entry})
    return SymbolTable.of(record)


def test_lookups_by_qualified_name_short_name_and_class_word() -> None:
    symbols = table()
    assert [s.name for s in symbols.find("Timeout.connect_only")] == ["Timeout.connect_only"]
    assert [s.name for s in symbols.find("pkg.Timeout.connect_only")] == ["Timeout.connect_only"]
    assert symbols.find("connect_only")[0].name == "Timeout.connect_only"
    assert symbols.find("Timeout", classes_only=True)[0].kind == "class"
    assert symbols.find("timeout", classes_only=True) == [], "prose words need the exact class name"
    assert symbols.find("`connect_timeout()`")[0].name == "connect_timeout"
    assert symbols.find("nowhere") == []
    chunk = symbols.find("Session.request")[0].chunk_id
    assert chunk in {c.id for c in read_file("src/pkg/http.py", CODE).chunks}


def test_an_option_is_defined_where_it_is_declared_not_where_it_is_read() -> None:
    from ragqa.index.symbols import defines_option

    for line in ("        timeout_keep_alive: int = 5,",
                 "        self.timeout_keep_alive = timeout_keep_alive",
                 '    "--timeout-keep-alive",',
                 "* `--timeout-keep-alive <int>` - Close Keep-Alive connections.",
                 '    "timeout_keep_alive": 5,'):
        assert defines_option(line, "timeout_keep_alive"), line
    for line in ("            self.config.timeout_keep_alive, self.handler", "if timeout_keep_alive == 0:"):
        assert not defines_option(line, "timeout_keep_alive"), line
    assert defines_option('@click.option("--log-level", default="info")', "--log-level")
    assert not defines_option("x = 1", "x")
