"""A pasted issue, traceback or log read part by part: prose, code, traces of four languages,
errors, logs, and the names, modules and files it points at."""

from __future__ import annotations

from ragqa.query import Query
from ragqa.report import looks_like_report, read_report
from ragqa.retrieve.evidence import fragments

PYTHON_ISSUE = """\
QDP reader crashes on lower-case commands
### Description

`ascii.qdp` assumes commands are upper case; `Table.read` fails with "read serr 1 2".

```python
>>> from astropy.table import Table
>>> from astropy.io.ascii.qdp import _line_type as line_type
>>> Table.read('test.qdp', format='ascii.qdp')
WARNING: table_id not specified. Reading the first available table [astropy.io.ascii.qdp]
Traceback (most recent call last):
  File "<stdin>", line 1, in <module>
  File "/home/me/venv/lib/python3.10/site-packages/astropy/table/connect.py", line 62, in __call__
    out = self.registry.read(cls, *args, **kwargs)
  File "/home/me/venv/lib/python3.10/site-packages/astropy/io/ascii/qdp.py", line 289, in _get_tables
    contents, ncol = _get_type_from_list_of_lines(lines, delimiter=delimiter)
  File "/home/me/venv/lib/python3.10/site-packages/astropy/io/ascii/qdp.py", line 40, in _get_types
    contents, ncol = _get_type_from_list_of_lines(lines, delimiter=delimiter)
  File "/home/me/venv/lib/python3.10/site-packages/astropy/io/ascii/qdp.py", line 78, in _line_type
    raise ValueError(f"Unrecognized QDP line: {line}")
ValueError: Unrecognized QDP line: read serr 1 2
```

Running `qdp test.qdp` with `--verbose` works fine; see `astropy/io/ascii/qdp.py`.
"""

NODE_TRACE = """\
TypeError: Cannot read properties of undefined (reading 'port')
    at parseConfig (/srv/app/node_modules/acme/lib/config.js:41:17)
    at Object.load (/srv/app/node_modules/acme/lib/index.js:12:10)
    at async main (file:///srv/app/server.mjs:5:3)
"""

JAVA_TRACE = """\
Exception in thread "main" java.lang.IllegalStateException: Config file not found: app.yaml
\tat org.acme.config.Loader.load(Loader.java:87)
\tat org.acme.Main.main(Main.java:12)
Caused by: java.io.FileNotFoundException: app.yaml (No such file or directory)
\tat java.base/java.io.FileInputStream.open0(Native Method)
"""

GO_TRACE = """\
panic: runtime error: index out of range [3] with length 3

goroutine 1 [running]:
github.com/acme/tool/internal/parse.(*Reader).Next(0xc000010000)
\t/home/ci/go/src/github.com/acme/tool/internal/parse/reader.go:58 +0x1d
main.main()
\t/home/ci/go/src/github.com/acme/tool/cmd/tool/main.go:21 +0x45
exit status 2
"""

LOG = """\
2024-05-01 12:00:01,123 INFO server started
2024-05-01 12:00:02,456 ERROR acme.pool: connection pool exhausted after 30 seconds
[WARNING] retry budget spent for upstream cache
"""


def test_a_python_issue_is_split_into_its_parts() -> None:
    report = read_report(PYTHON_ISSUE.replace("\n", "\r\n"))  # issue trackers send CRLF
    assert report.title == "QDP reader crashes on lower-case commands"
    assert len(report.code_blocks) == 1 and "Table.read" in report.code_blocks[0]
    assert "Running `qdp test.qdp`" in report.prose and "Traceback" not in report.prose
    [trace] = report.tracebacks
    assert trace.language == "python"
    assert [frame.function for frame in trace.frames] == [
        "<module>", "__call__", "_get_tables", "_get_types", "_line_type"]
    assert trace.frames[-1].line == 78 and trace.frames[-1].path.endswith("astropy/io/ascii/qdp.py")
    assert trace.error == "ValueError: Unrecognized QDP line: read serr 1 2"
    assert report.errors[0].kind == "ValueError"
    assert report.errors[0].message == "Unrecognized QDP line: read serr 1 2"
    assert report.log_lines == (
        "table_id not specified. Reading the first available table [astropy.io.ascii.qdp]",)
    assert report.frames[-1][1] == 0  # the deepest frame has depth 0
    assert "Table.read" in report.names and "_line_type" in report.names  # an imported name, not its alias
    assert "line_type" not in report.names and "Traceback" not in report.names
    assert report.modules[:2] == ("astropy.table", "astropy.io.ascii.qdp")
    assert "astropy/io/ascii/qdp.py" in report.file_names
    assert "read serr 1 2" in report.quoted
    assert "--verbose" in report.flags
    assert report.is_bug and not report.about_docs


def test_node_java_and_go_traces_are_read_deepest_last() -> None:
    [node] = read_report(NODE_TRACE).tracebacks
    assert node.language == "javascript"
    assert [(f.path, f.line, f.function) for f in node.frames] == [
        ("/srv/app/server.mjs", 5, "main"), ("/srv/app/node_modules/acme/lib/index.js", 12, "Object.load"),
        ("/srv/app/node_modules/acme/lib/config.js", 41, "parseConfig")]
    assert node.error == "TypeError: Cannot read properties of undefined (reading 'port')"

    java = read_report(JAVA_TRACE)
    first = java.tracebacks[0]
    assert first.language == "java"
    assert [(f.path, f.function) for f in first.frames] == [
        ("org/acme/Main.java", "main"), ("org/acme/config/Loader.java", "load")]
    kinds = {error.kind: error.message for error in java.errors}
    assert kinds["java.lang.IllegalStateException"] == "Config file not found: app.yaml"
    assert "java.io.FileNotFoundException" in kinds

    [go] = read_report(GO_TRACE).tracebacks
    assert go.language == "go"
    assert [(f.path.rsplit("/", 1)[-1], f.line, f.function) for f in go.frames] == [
        ("main.go", 21, "main"), ("reader.go", 58, "Next")]
    assert go.error == "panic: runtime error: index out of range [3] with length 3"


def test_log_lines_and_their_messages() -> None:
    report = read_report(LOG)
    assert report.log_lines == ("connection pool exhausted after 30 seconds",
                                "retry budget spent for upstream cache")
    assert report.is_bug


def test_what_is_read_as_a_report() -> None:
    assert not looks_like_report("How do I set a connect timeout?")
    assert looks_like_report(NODE_TRACE) and looks_like_report(GO_TRACE) and looks_like_report(JAVA_TRACE)
    assert looks_like_report("ValueError: Unrecognized QDP line: read serr 1 2")
    assert looks_like_report("x " * 400)
    assert Query.parse(PYTHON_ISSUE).report is not None
    assert Query.parse(PYTHON_ISSUE, read_reports=False).report is None
    assert Query.parse("How do I set a connect timeout?").report is None
    assert not read_report("Typo in the tutorial\n\nThe docs say `sesion`.").is_bug
    assert read_report("Docs: the tutorial example fails with an error").about_docs


def test_a_report_about_the_test_suite_only_says_so_in_its_title() -> None:
    body = "Sorting breaks\n\nThe unit tests for the parser pass but sorting crashes:\n" + "x " * 300
    assert not Query.parse(body).about_tests
    assert Query.parse("Test suite fails on Windows\n\n" + "x " * 300).about_tests


def test_message_fragments_are_the_fixed_words_of_a_format_string() -> None:
    assert fragments("Unrecognized QDP line: read serr 1 2") == ["Unrecognized QDP line"]
    assert fragments("Config file not found: app.yaml") == ["Config file not found"]
    assert fragments("unsupported operand type(s) for |: 'int' and 'NoneType'") == [
        "unsupported operand type"]
    assert fragments("index 3 too big") == []  # too short to search
    assert fragments("can't open '/tmp/x/y.txt' (mode 'r')") == []
