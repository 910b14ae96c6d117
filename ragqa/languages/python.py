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
    bases=(Reference("class_definition", "superclasses"),),
    doc_comments=DocComments(item=("#",), docstrings=True),
    test_paths=("tests/", "test/", "testing/", "test_*.py", "*_test.py", "conftest.py"),
    example_paths=("examples/", "example/", "docs/"),
    code_paths=("src/",),
    # A frame may carry a prefix: pytest's `INTERNALERROR>`, a log's timestamp, a quote's `> `.
    frame_patterns=(r'^[^"\n]{0,40}?\bFile "(?P<path>[^"\n]+)", line (?P<line>\d+)'
                    r'(?:, in (?P<function>[^\s\n]+))?',),
)
