"""The first sentence of an offline answer, shaped by the question's form (`ragqa.query.Form`).

Its wording lives in `prompts/lead.md.j2`; this module only decides what goes into it:
- `summary`: what the quoted lines say the thing does, in their own words — the first sentence
  of the docstring or doc comment of the definition quoted (or of the option's trailing comment
  or `help=` text), or of the first paragraph or list item that names it in a docs page. It is
  taken from the quoted lines only, so the lead never says more than the quote shows.
- `verdict` of a yes/no question. **Yes** only when the answer is not an abstention (the
  confidence threshold was passed) *and* every content word of the question other than the
  project's own name occurs in the first quote (so "Does it support cookies?" is a yes only when
  the quoted lines talk about cookies); **No** only when a quoted line holding one of those words
  says it is not supported ("not supported", "does not support", "cannot", …). Anything
  short of that gets a neutral lead that points at the closest lines without claiming either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from ragqa.index.lexical import tokenize
from ragqa.markdown import code_spans, inline_code, plain_text
from ragqa.query import Form, Query

if TYPE_CHECKING:
    from ragqa.answer.extractive import Excerpt

MAX_SUMMARY_CHARS = 220
_USAGE_VERBS = {"callers": "is called by", "callees": "calls", "references": "is used by"}
_DOCSTRING = re.compile(r"^\s*[rubRUB]{0,2}(\"\"\"|''')(.*)$")
_DOC_COMMENT = re.compile(r"^\s*(///?|#(?!!)|--|/\*\*?|\*(?!/))\s?(.*)$")
_HELP = re.compile(r"\b(help|description|doc)\s*=\s*[\"'](.+?)[\"']")
_TRAILING = re.compile(r"\S.*?\s(#|//)\s+(?!(type|noqa|pragma|pylint|nosec|fmt|mypy|eslint|ts-|prettier|"
                       r"istanbul|nolint|lint)\b)(.+)$")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s|^([=\-~^\"'`#*+])\1{2,}\s*$")
_DEFINITION = re.compile(r"^\s*(@|async\s+def\b|def\b|class\b|func\b|fn\b|pub\b|function\b|export\b|"
                         r"public\b|private\b|protected\b|static\b|interface\b|type\b|struct\b|const\b)")
_NEGATION = re.compile(r"\b(not (supported|possible|available)|(does|do|can|will) ?n[o']t (support|work|"
                       r"handle|provide)|no (support|way)\b|unsupported|cannot)\b", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_RST_REFERENCE = re.compile(r"`([^`<\n]+?)\s*<[^>\n]*>`_{1,2}")
_RST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<\n]+?)(?:\s*<[^>\n]*>)?`")
_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)")


def lead(project: str, query: Query, excerpts: Sequence[Excerpt], definition_names: Sequence[str] = (),
         reasons: Sequence[str] = ()) -> str:
    """The lead sentence (safe Markdown) for the quotes, the best first (see the module
    docstring); a "what does X do" takes its summary from a later quote that names X when the
    first gives none."""
    first = excerpts[0]
    form = query.form
    names = [*query.names, *definition_names]
    said, said_in = "", first
    subject = list(query.names[:1]) or list(definition_names[:1])
    if form is Form.YES_NO:
        said = summary(first, names)
    for other in excerpts if form is Form.WHAT else ():
        if said := summary(other, subject):
            said_in = other
            break
    named = first.title if first.title.startswith("`") else f"**{first.title}**" if first.title else ""
    defined = _defined_subject(query, definition_names)
    if defined and named == inline_code(defined):
        named = ""  # "`X` is defined in `X` in path" says it twice
    return _render(
        form=form.value, project=plain_text(project), path=inline_code(first.path), named=named,
        start=first.start_line, end=first.end_line, summary=_with_code(said) if said else "",
        said_in=inline_code(said_in.path),
        defined=inline_code(defined) if defined else "",
        subject=inline_code(query.names[0]) if query.names else "",
        verdict=verdict(project, query, first) if form is Form.YES_NO else "",
        reasons="; ".join(_with_code(reason) for reason in reasons[:2]),
        usage=_USAGE_VERBS[query.usage[0]] if query.usage is not None and reasons else "",
        used=inline_code(query.usage[1]) if query.usage is not None else "",
        usage_named=first.title if first.title.startswith("`") else "code",
        start_at=f"{first.title} in {inline_code(first.path)}" if first.title.startswith("`")
        else inline_code(first.path)).strip()


def _defined_subject(query: Query, definition_names: Sequence[str]) -> str:
    """The defined name the question asks about: its first code name's definition when the first
    quote holds it, else (a question naming no code) the first definition quoted."""
    if not query.names:
        return definition_names[0] if definition_names else ""
    wanted = query.names[0].rsplit(".", 1)[-1].lower()
    return next((name for name in definition_names if name.rsplit(".", 1)[-1].lower() == wanted), "")


def verdict(project: str, query: Query, first: Excerpt) -> str:
    """"yes", "no" or "" (neutral) for a yes/no question answered by `first`."""
    own = set(tokenize(project)) | set(tokenize(project.replace("-", " ").replace("_", " ")))
    wanted = query.content_terms - own - set(query.identifier_terms)
    if not wanted:
        return ""
    lines = first.text.split("\n")
    for line in lines:
        if _NEGATION.search(line) and wanted & set(tokenize(line)):
            return "no"
    return "yes" if wanted <= set(tokenize(first.text)) else ""


def summary(quoted: Excerpt, names: Sequence[str] = ()) -> str:
    """The first sentence the quoted lines give about what they define or describe ("" if none)."""
    lines = quoted.text.split("\n")
    row = _first_mention(lines, names, default=-1) if names else 0
    if row < 0:
        return ""  # the quote never names what the question asks about
    found = _code_summary(lines, row, names) if not _is_docs(quoted) else _docs_summary(lines, row, names)
    return _sentence(found)


def _is_docs(quoted: Excerpt) -> bool:
    return quoted.language in ("markdown", "rst", "asciidoc", "mdx", "text", "")


def _first_mention(lines: list[str], names: Sequence[str], default: int = 0) -> int:
    """The first row naming one of `names` (dashes and underscores alike), else `default`."""
    for name in names:
        last = name.rsplit(".", 1)[-1].strip("-`()").lower().replace("-", "_")
        if len(last) < 3:
            continue
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(last)}(?![A-Za-z0-9_])")
        for row, line in enumerate(lines):
            if pattern.search(line.lower().replace("-", "_")):
                return row
    return default


def _code_summary(lines: list[str], row: int, names: Sequence[str] = ()) -> str:
    """An option's help text or trailing comment, a parameter's line in a docstring, or the
    docstring or doc comment of the definition at `row`. With `names` (the question names its
    subject) the definition must be the subject's own, not the function around a mention."""
    line = lines[row] if lines else ""
    if found := _HELP.search(line):
        return found.group(2)
    if found := _TRAILING.match(line):
        return found.group(3)
    for name in names:
        last = re.escape(name.rsplit(".", 1)[-1].strip("-`()"))
        parameter = re.compile(rf"^\s*(?::param\s+(?:\w+\s+)?{last}:|@param\s+(?:\{{[^}}]*\}}\s+)?{last}\b|"
                               rf"{last}\s*(?:\([^)]*\))?\s*:\s+(?=[A-Z]))\s*(.+)$")
        for text in lines:
            if found := parameter.match(text):
                return found.group(1)
    if names:
        at = row
        while at + 1 < len(lines) and (_DOC_COMMENT.match(lines[at]) or lines[at].lstrip().startswith("@")):
            at += 1  # a mention in the doc comment or decorator of a definition: that definition
        if not _DEFINITION.match(lines[at]) or lines[at].lstrip().startswith("@"):
            return ""
        return _docstring_after(lines, at) or _comment_above(lines, at)
    definition = next((r for r in range(row, min(len(lines), row + 4)) if _DEFINITION.match(lines[r])), None)
    if definition is None:
        definition = next((r for r in range(row, -1, -1) if _DEFINITION.match(lines[r])), None)
    if definition is None:
        return _comment_above(lines, row)
    return _docstring_after(lines, definition) or _comment_above(lines, definition)


def _docstring_after(lines: list[str], definition: int) -> str:
    for row in range(definition + 1, min(len(lines), definition + 8)):
        found = _DOCSTRING.match(lines[row])
        if found:
            quote = found.group(1)
            text = [found.group(2).split(quote, 1)[0]]
            if quote not in found.group(2):
                for more in lines[row + 1:row + 8]:
                    text.append(more.split(quote, 1)[0])
                    if quote in more or not more.strip():
                        break
            return " ".join(part.strip() for part in text)
        if _DEFINITION.match(lines[row]) and not lines[row].rstrip().endswith((",", "(")):
            return ""
    return ""


def _comment_above(lines: list[str], row: int) -> str:
    """The doc comment (`///`, `//`, `#`, `/** … */`) ending just above `row` (or at it)."""
    above = row - 1
    while above >= 0 and lines[above].lstrip().startswith("@"):
        above -= 1
    text: list[str] = []
    while above >= 0 and (found := _DOC_COMMENT.match(lines[above])) and found.group(1) != "*/":
        text.insert(0, found.group(2).strip().rstrip("*/").strip())
        above -= 1
    return " ".join(part for part in text if part)


def _docs_summary(lines: list[str], row: int, names: Sequence[str] = ()) -> str:
    """The first paragraph or list item from `row` on whose first sentence is whole (ends with
    `.`, `!` or `?`: "… we get::" introduces an example, it says nothing on its own); when the
    question names something, the first whole sentence that names it."""
    start = row
    while start < len(lines):
        line = lines[start]
        titled = start + 1 < len(lines) and bool(_HEADING.match(lines[start + 1])) \
            and not _LIST_ITEM.match(line)
        if not line.strip() or _HEADING.match(line) or titled or \
                line.startswith(("    ", "\t", "```", "~~~", ">>>", "..")):
            start += 1
            continue
        end = start + 1
        while end < len(lines) and lines[end].strip() and not _LIST_ITEM.match(lines[end]) \
                and not _HEADING.match(lines[end]) and not lines[end].startswith("```"):
            end += 1
        paragraph = _LIST_ITEM.sub("", " ".join(part.strip() for part in lines[start:end]), count=1)
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph) if names else [paragraph]:
            if re.search(r"[.!?]\W?$", _sentence(sentence)) and (not names or _mentions(sentence, names)):
                return sentence
        start = end
    return ""


def _mentions(text: str, names: Sequence[str]) -> bool:
    return _first_mention([text], names, default=-1) == 0


def _sentence(text: str) -> str:
    """The first sentence of `text`, at most `MAX_SUMMARY_CHARS` (cut at a word, with "…");
    Markdown links and reST references become their text, reST roles inline code."""
    text = _MD_LINK.sub(r"\1", text)
    text = _RST_REFERENCE.sub(r"\1", text)
    text = _RST_ROLE.sub(r"`\1`", text).replace("``", "`")
    text = " ".join(text.split()).strip(" -–—:")
    if not text or not re.search(r"[A-Za-z]{3}", text):
        return ""
    found = _SENTENCE.match(text)
    text = found.group(1) if found else text
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[:MAX_SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return text


def _with_code(text: str) -> str:
    """`text` safe as Markdown, its inline code spans kept as code (and the spaces around them)."""
    return "".join(piece if is_code else _padded(piece) for piece, is_code in code_spans(text))


def _padded(text: str) -> str:
    """`plain_text` keeping one space where the piece met a code span with one ("called by
    `send`", not "called by`send`")."""
    safe = plain_text(text)
    if not safe:
        return " " if text else ""
    return (" " if text[:1].isspace() else "") + safe + (" " if text[-1:].isspace() else "")


def _render(**variables: Any) -> str:
    rendered: str = _lead_template().render(**variables)
    return " ".join(rendered.split())


@cache
def _lead_template() -> Any:
    """`lead.md.j2`, the packaged one (the lead is part of ragqa's offline answer, not a prompt
    a model reads, so `RAGQA_PROMPTS_DIR` does not replace it)."""
    import jinja2

    from ragqa.prompting import packaged_prompts

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(packaged_prompts())),
                                     undefined=jinja2.StrictUndefined, autoescape=False)
    return environment.get_template("lead.md.j2")
