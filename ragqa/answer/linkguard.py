"""The link guarantee: an answer keeps only links to its own sources, and ends with their list.

A link is allowed when it points at one of the answer's sources: the source's permalink, the same
file at the same commit without a line anchor, or a line range inside the source's range (the
extractive answer links the few lines it quotes). Anything else is removed — a Markdown link
keeps its text — and reported. `[S2]` labels become links to source 2. URLs inside code (fenced
blocks and inline code) are code, not links, and are left alone. The model's own closing list of
references is replaced by one the server builds from the sources the answer cited.

The guard works on a stream: it passes text on as soon as no link, label or code span can still
be open in it, so a streamed answer never shows a link that the final answer would not have.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragqa.answer import render
from ragqa.markdown import FENCE, MD_LINK, LineKind, code_spans, line_kinds, walk

_MD_LINK = MD_LINK
_AUTOLINK = r"<(?P<auto>(?:https?|ftp)://[^>\s]+)>"
_BARE = r"(?P<bare>\b(?:https?|ftp)://[^\s<>\[\]`]+|\bwww\.[^\s<>\[\]`]+)"
_LABELS = r"\[(?P<labels>S\d+(?:\s*[,;]\s*S\d+)*)\](?!\()"
_PATTERN = re.compile("|".join((_MD_LINK, _AUTOLINK, _BARE, _LABELS)))
_ANCHOR = re.compile(r"^(?:L|lines-)(\d+)(?:(?:-L?|:)(\d+))?$")
_REFERENCES = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*(?:references?|sources?|reference links|links|"
    r"related links|further reading)\s*:?\s*(?:\*\*|__)?\s*:?\s*$", re.IGNORECASE)
# Complete constructs, or a lone character that may open one (where a partial line must stop).
_OPENERS = re.compile("|".join((r"`+[^`\n]*`+", _MD_LINK, _AUTOLINK, r"\[[^\]\n]*\](?!\()", r"[\[`<]")))
_MIN_PARTIAL = 40  # shorter unfinished lines wait: they may still become a heading or a fence
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*(?P<url><[^>\n]*>|\S+)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
ABSTAIN = render.ABSTAIN


@dataclass(frozen=True)
class LinkTarget:
    """A source an answer may link to."""

    label: str
    url: str
    path: str
    start_line: int
    end_line: int
    title: str = ""

    @property
    def file_url(self) -> str:
        return self.url.split("#", 1)[0]


@dataclass
class LinkGuard:
    """Feed the answer in pieces; get back text that is safe to show, then the closing list."""

    targets: Sequence[LinkTarget]
    removed: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)
    _pending: str = ""
    _lines: list[str] = field(default_factory=list)  # complete lines seen, as received
    _held: list[str] = field(default_factory=list)
    _done: int = 0  # characters of the unfinished line already passed on

    def feed(self, text: str) -> str:
        """Checked text for what has arrived, up to the last point no link can still span."""
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        kinds = self._kinds(lines)
        out: list[str] = []
        for line, kind in zip(lines, kinds, strict=True):
            done, self._done = self._done, 0
            if done:
                out.append(self._checked(line[done:], kind) + "\n")
            elif not self._hold(line, kind):
                out.append(self._line(line, kind) + "\n")
        out.append(self._partial())
        return "".join(out)

    def _kinds(self, lines: list[str]) -> list[LineKind]:
        """The kinds of newly completed lines, read with all lines before them (one parse)."""
        if not lines:
            return []
        self._lines.extend(lines)
        return line_kinds("\n".join(self._lines))[-len(lines):]

    def _partial(self) -> str:
        """The safe front of an unfinished line: long enough not to be a heading, a fence or an
        indented code line, and cut at a space outside any link, label or code span that might
        still be open."""
        line = self._pending
        if (self._held or len(line) < _MIN_PARTIAL or FENCE.match(line) or _REFERENCES.match(line)
                or line.startswith(("    ", "\t")) or _REFERENCE_DEFINITION.match(line)):
            return ""
        kind = line_kinds("\n".join([*self._lines, line]))[-1]
        cut = max(line.rfind(" "), line.rfind("\t"))
        if kind == "text":
            for token in _OPENERS.finditer(line, self._done, max(cut, self._done)):
                if len(token.group()) == 1:
                    cut = token.start()
                    break
        if cut <= self._done:
            return ""
        piece, self._done = self._checked(line[self._done:cut], kind), cut
        return piece

    def finish(self) -> str:
        """The rest of the answer, then the server's list of references."""
        done, self._done = self._done, 0
        tail = ""
        if self._pending:
            kind = self._kinds([self._pending])[0]
            if done:
                tail = self._checked(self._pending[done:], kind)
            elif not self._hold(self._pending, kind):
                tail = self._line(self._pending, kind)
        self._pending = ""
        if self._held and not all(_is_reference_line(line) for line in self._held[1:]):
            tail += "\n".join(self._line(line, "text") for line in self._held)  # prose, not a list
        else:
            for line in self._held:  # a list of the model's own: note what it cited, then drop it
                self._line(line, "text")
        self._held = []
        references = self.references()
        if not references:
            return tail
        # Lines from `feed` end in a newline, so an empty tail still leaves a blank line before.
        return (tail.rstrip("\n") + "\n\n" if tail.strip() else "\n") + references

    def used(self) -> list[LinkTarget]:
        """The sources the answer cited, in source order; all of them if it cited none."""
        cited = [target for target in self.targets if target.label in self.cited]
        return cited or list(self.targets)

    def references(self) -> str:
        """The server's closing list of the cited sources (see `ragqa.answer.render`)."""
        return render.references(self.used())

    def _hold(self, line: str, kind: LineKind) -> bool:
        """From a 'References' heading on, lines wait for `finish` to decide what they are."""
        if self._held or (kind == "text" and _REFERENCES.match(line)):
            self._held.append(line)
            return True
        return False

    def _line(self, line: str, kind: LineKind) -> str:
        if kind == "text" and _REFERENCE_DEFINITION.match(line):
            return self._definition(line)
        return self._checked(line, kind)

    def _checked(self, text: str, kind: LineKind) -> str:
        """Code is passed on as it is; links in text are checked, inline code left alone."""
        if kind != "text":
            return text
        return "".join(part if is_code else _PATTERN.sub(self._replace, part)
                       for part, is_code in code_spans(text))

    def _definition(self, line: str) -> str:
        """A link reference definition (`[x]: url`) makes `[x]` a link: kept only if allowed."""
        url = _REFERENCE_DEFINITION.match(line).group("url").strip("<>")  # type: ignore[union-attr]
        if self._allowed(url):
            return line
        self.removed.append(url)
        return ""
    def _replace(self, match: re.Match[str]) -> str:
        if match.group("labels"):
            return self._labels(match.group("labels"))
        if match.group("target") is not None:
            target = match.group("target").strip("<>")
            if self._allowed(target):
                return match.group(0)
            self.removed.append(target)
            return match.group("text")
        url = match.group("auto") or match.group("bare")
        url, trailing = _split_trailing(url)
        if self._allowed(url):
            return match.group(0)
        self.removed.append(url)
        return trailing

    def _labels(self, labels: str) -> str:
        links = []
        for label in re.split(r"\s*[,;]\s*", labels):
            target = next((t for t in self.targets if t.label == label), None)
            if target is not None:
                self._cite(target)
                links.append(f"[{label}]({target.url})")
        return ", ".join(links)

    def _allowed(self, url: str) -> bool:
        target = match_target(url, self.targets)
        if target is not None:
            self._cite(target)
        return target is not None

    def _cite(self, target: LinkTarget) -> None:
        if target.label not in self.cited:
            self.cited.append(target.label)


def line_range(url: str) -> tuple[int, int] | None:
    """The lines a link's anchor names (`#L3-L9`, `#L3-9`, `#lines-3:9`), if any."""
    lines = _ANCHOR.match(url.partition("#")[2])
    if lines is None:
        return None
    return int(lines.group(1)), int(lines.group(2) or lines.group(1))


def match_target(url: str, targets: Sequence[LinkTarget]) -> LinkTarget | None:
    """The source `url` points into, or None when it is not an allowed link."""
    base, _, anchor = url.partition("#")
    candidates = [target for target in targets if target.file_url == base]
    if not candidates:
        return None
    if not anchor:
        return candidates[0]
    lines = line_range(url)
    if lines is None:
        return None
    start, end = lines
    return next((target for target in candidates
                 if target.start_line <= start <= end <= target.end_line), None)


def find_links(markdown: str) -> list[str]:
    """Every link in `markdown` as a reader's renderer would make it (code is not searched)."""
    links: list[str] = []
    for line, kind in walk(markdown):
        if kind != "text":
            continue
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            links.append(definition.group("url").strip("<>"))
            continue
        for part, is_code in code_spans(line):
            if is_code:
                continue
            for match in _PATTERN.finditer(part):
                if match.group("target") is not None:
                    links.append(match.group("target").strip("<>"))
                elif match.group("auto") or match.group("bare"):
                    links.append(_split_trailing(match.group("auto") or match.group("bare"))[0])
    return links


def is_abstention(answer: str) -> bool:
    """Whether a model's answer is the agreed 'I don't know' (possibly with a few words more)."""
    stripped = answer.strip()
    return stripped.startswith(ABSTAIN) and len(stripped) < len(ABSTAIN) + 200


def _is_reference_line(line: str) -> bool:
    stripped = line.strip()
    return not stripped or bool(_LIST_ITEM.match(line)) or bool(_PATTERN.fullmatch(stripped))


def _split_trailing(url: str) -> tuple[str, str]:
    """A bare URL without the punctuation that ends the sentence around it."""
    trailing = ""
    while url and (url[-1] in ".,;:!?'\"" or (url[-1] == ")" and url.count("(") < url.count(")"))):
        trailing = url[-1] + trailing
        url = url[:-1]
    return url, trailing
