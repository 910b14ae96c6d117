"""Python: definitions come from the generic walker (`ragqa.chunking.code.definitions`), which
was written for it; this entry holds its layout, doc and trace forms."""

from __future__ import annotations

from ragqa.languages import DocComments, Language, Reference

PYTHON = Language(
    name="python",
    grammars=("python",),
    extensions=(".py", ".pyi"),
    definitions=None,
    references=(Reference("call", "function"), Reference("attribute", "attribute")),
    imports=("import_statement", "import_from_statement"),
    doc_comments=DocComments(item=("#",), docstrings=True),
    test_paths=("tests/", "test/", "testing/", "test_*.py", "*_test.py", "conftest.py"),
    example_paths=("examples/", "example/", "docs/"),
    code_paths=("src/",),
    frame_patterns=(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)',),
)
