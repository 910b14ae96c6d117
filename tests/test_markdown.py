"""Markdown read as CommonMark reads it: code lines, code spans, safe fences, plain titles."""

from __future__ import annotations

from markdown_it import MarkdownIt

from ragqa.markdown import code_spans, fence_for, inline_code, line_kinds, plain_text

NESTED = """Intro https://example.com/a
````markdown
Example:
```python
demo.stream("GET", "https://www.example.com/big.bin")
```
````
after
- item

  ```
  in a list
  ```
> ```
> quoted
> ```

    indented code https://in.code/
~~~
unclosed"""


def test_fences_close_only_with_a_fence_at_least_as_long() -> None:
    kinds = line_kinds(NESTED)
    lines = NESTED.split("\n")
    code = [line for line, kind in zip(lines, kinds, strict=True) if kind == "code"]
    assert '```python' in code and 'demo.stream("GET", "https://www.example.com/big.bin")' in code
    assert kinds[lines.index("after")] == "text" and kinds[0] == "text"
    assert kinds[lines.index("  in a list")] == "code" and kinds[lines.index("> quoted")] == "code"
    assert kinds[lines.index("    indented code https://in.code/")] == "code"
    assert kinds[-1] == "code", "an unclosed fence runs to the end"


def test_line_kinds_agree_with_markdown_it_rendering() -> None:
    rendered = MarkdownIt("commonmark").render(NESTED)
    for line, kind in zip(NESTED.split("\n"), line_kinds(NESTED), strict=True):
        if kind == "code" and "://" in line:
            assert f'href="{line.split()[-1]}"' not in rendered
    assert rendered.count("<pre>") == 5


def test_a_line_kind_depends_only_on_the_lines_before_it() -> None:
    lines = NESTED.split("\n")
    whole = line_kinds(NESTED)
    for end in range(1, len(lines) + 1):
        assert line_kinds("\n".join(lines[:end])) == whole[:end]


def test_code_spans_pair_backtick_runs_of_equal_length() -> None:
    assert code_spans("a ``x` y`` b `c` ```d") == [
        ("a ", False), ("``x` y``", True), (" b ", False), ("`c`", True), (" ```d", False)]
    assert code_spans("no code here") == [("no code here", False)]


def test_a_quote_fence_is_longer_than_any_fence_inside() -> None:
    assert fence_for("plain") == "```"
    assert fence_for("x\n```python\ny\n```") == "````"
    assert fence_for("  `````\n") == "``````"
    text = "Example:\n```\nhttps://example.com\n```"
    quoted = f"{fence_for(text)}markdown\n{text}\n{fence_for(text)}"
    assert all(kind != "text" for kind in line_kinds(quoted))


def test_titles_from_repo_content_can_never_become_links() -> None:
    hostile = ("Escalation [open the portal](https://evil.example/a) <https://evil.example/b> "
               '<a href="https://evil.example/c">here</a> www.evil.example/d ![i](https://evil.example/e)')
    shown = plain_text(hostile)
    assert "evil.example" not in shown
    assert "Escalation open the portal here" in shown.replace("\\", "")
    html = MarkdownIt("commonmark").render(f"- title: {shown}")
    assert "<a " not in html and "<img" not in html
    assert plain_text("*bold* _x_ `code`") == "\\*bold\\* \\_x\\_ \\`code\\`"


def test_inline_code_holds_any_backticks() -> None:
    for text in ("plain", "a`b", "`edge`", "``double``"):
        html = MarkdownIt("commonmark").renderInline(inline_code(text))
        assert html.startswith("<code>") and html.endswith("</code>")
