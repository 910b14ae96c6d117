"""Chunkers: exact line spans, syntax-aware code cuts, heading-aware docs sections."""

from __future__ import annotations

from ragqa.chunking import Chunk, Limits, chunk_file, split_lines
from tests.conftest import SAMPLE_MD, SAMPLE_PY


def assert_exact(text: str, chunks: list[Chunk]) -> None:
    """Every chunk is exactly its lines of the file, in order and without overlap."""
    lines = split_lines(text)
    previous_end = 0
    for chunk in chunks:
        assert chunk.start_line > previous_end, "chunks overlap or are out of order"
        assert chunk.text == "\n".join(lines[chunk.start_line - 1:chunk.end_line])
        previous_end = chunk.end_line


def assert_covers(text: str, chunks: list[Chunk]) -> None:
    """No non-blank line is left out of every chunk."""
    covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
    for number, line in enumerate(split_lines(text), 1):
        assert not line.strip() or number in covered, f"line {number} not in any chunk"


def test_python_functions_and_classes_stay_whole() -> None:
    chunks = chunk_file("src/sample/http.py", SAMPLE_PY)
    assert_exact(SAMPLE_PY, chunks)
    assert_covers(SAMPLE_PY, chunks)
    by_symbol = {c.symbol: c for c in chunks}
    retry = by_symbol["retry_with_backoff"]
    assert retry.text.startswith("def retry_with_backoff") and retry.text.endswith('"gave up")')
    assert "class Session" in by_symbol["Session"].text
    assert all(c.language == "python" and c.kind == "code" for c in chunks)


def test_repeated_code_gets_its_own_line_numbers() -> None:
    body = "def twin():\n" + "".join(f"    x{i} = {i}\n" for i in range(8)) + "    return 1\n"
    text = body + "\n\n" + body + "\n\n" + body
    chunks = chunk_file("twins.py", text)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 10), (13, 22), (25, 34)]
    assert_exact(text, chunks)


def test_large_class_is_cut_along_its_methods_with_qualified_symbols() -> None:
    methods = "".join(
        f"    def method_{i}(self):\n" + "".join(f"        a{j} = {j}\n" for j in range(12))
        + "        return a0\n\n" for i in range(8))
    text = f'class Big:\n    """Doc."""\n\n{methods}'
    chunks = chunk_file("big.py", text, Limits(max_lines=40, max_chars=4000))
    assert_exact(text, chunks)
    assert_covers(text, chunks)
    assert all(c.end_line - c.start_line < 40 for c in chunks)
    assert "Big.method_3" in {c.symbol for c in chunks}

    decorated = "from dataclasses import dataclass\n\n\n@dataclass\n" + text
    symbols = {c.symbol for c in chunk_file("big.py", decorated, Limits(max_lines=40, max_chars=4000))}
    assert "Big.method_3" in symbols and not any(symbol.startswith("Big.Big") for symbol in symbols)


def test_leading_comment_goes_with_its_function() -> None:
    text = "import os\n\n# Explains f.\n# More.\ndef f():\n" + "    a = 1\n" * 6 + "    return a\n"
    chunks = chunk_file("c.py", text)
    func = next(c for c in chunks if c.symbol == "f")
    assert func.text.startswith("# Explains f.")
    assert_exact(text, chunks)


def test_other_languages_parse() -> None:
    go = "package main\n\nfunc Add(a int, b int) int {\n" + "\ta++\n" * 5 + "\treturn a + b\n}\n"
    chunks = chunk_file("main.go", go)
    assert "Add" in {c.symbol for c in chunks}
    assert_exact(go, chunks)
    js = "export function hello(name) {\n" + "  name += 1;\n" * 5 + "  return name;\n}\n"
    assert "hello" in {c.symbol for c in chunk_file("a.js", js)}


def test_markdown_sections_carry_heading_paths() -> None:
    chunks = chunk_file("docs/guide.md", SAMPLE_MD)
    assert_exact(SAMPLE_MD, chunks)
    assert_covers(SAMPLE_MD, chunks)
    headings = [c.heading for c in chunks]
    assert "Sample project > Timeouts" in headings
    assert "Sample project > Retries > Details" in headings
    assert all(c.kind == "docs" for c in chunks)


def test_markdown_headings_inside_code_fences_are_ignored() -> None:
    text = "# Top\n\nText here.\nMore text.\n\n```sh\n# not a heading\necho hi\n```\n\nTail.\n"
    chunks = chunk_file("x.md", text)
    assert {c.heading for c in chunks} == {"Top"}


def test_rst_titles_and_levels() -> None:
    text = ("=====\nGuide\n=====\n\nIntro line.\nSecond line.\n\nTimeouts\n--------\n\n"
            "Connect and read.\nMore.\n\nSub\n~~~\n\nDeep text.\nMore deep.\n")
    chunks = chunk_file("guide.rst", text)
    assert_exact(text, chunks)
    assert [c.heading for c in chunks] == ["Guide", "Guide > Timeouts", "Guide > Timeouts > Sub"]


def test_long_sections_and_text_are_cut_within_limits() -> None:
    text = "# Long\n\n" + "\n\n".join(f"Paragraph {i} line.\nSecond line." for i in range(60))
    limits = Limits(max_lines=20, max_chars=2000)
    chunks = chunk_file("long.md", text, limits)
    assert len(chunks) > 3
    assert all(c.end_line - c.start_line < 20 for c in chunks)
    assert_exact(text, chunks)
    assert_covers(text, chunks)
    plain = "\n".join(f"line {i}" for i in range(200))
    assert_exact(plain, chunk_file("notes.txt", plain, limits))


def test_line_numbers_follow_lf_only() -> None:
    text = "a = 1\r\nb = '\x0c'\r\nc = '\u2028'\r\n"
    chunks = chunk_file("weird.py", text)
    assert chunks[-1].end_line == 3
    assert "\r" not in "".join(c.text for c in chunks)


def test_chunk_ids_are_stable_and_distinct() -> None:
    first = chunk_file("src/sample/http.py", SAMPLE_PY)
    again = chunk_file("src/sample/http.py", SAMPLE_PY)
    moved = chunk_file("src/other.py", SAMPLE_PY)
    assert [c.id for c in first] == [c.id for c in again]
    assert not {c.id for c in first} & {c.id for c in moved}
