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

from ragqa.markdown import FENCE, walk

_MD_LINK = r"(?P<image>!?)\[(?P<text>[^\]\n]*)\]\((?P<target><[^>\n]*>|[^)\s]+)(?:\s+\"[^\"\n]*\")?\)"
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
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
ABSTAIN = "Hmm, I'm not sure."


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
    _in_fence: str = ""
    _held: list[str] = field(default_factory=list)
    _done: int = 0  # characters of the unfinished line already passed on

    def feed(self, text: str) -> str:
        """Checked text for what has arrived, up to the last point no link can still span."""
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        out: list[str] = []
        for line in lines:
            done, self._done = self._done, 0
            if done:
                out.append(self._continue(line[done:]) + "\n")
            elif not self._hold(line):
                out.append(self._line(line) + "\n")
        out.append(self._partial())
        return "".join(out)

    def _partial(self) -> str:
        """The safe front of an unfinished line: long enough not to be a heading or a fence, and
        cut at a space outside any link, label or code span that might still be open."""
        line = self._pending
        if self._held or len(line) < _MIN_PARTIAL or FENCE.match(line) or _REFERENCES.match(line):
            return ""
        cut = max(line.rfind(" "), line.rfind("\t"))
        if not self._in_fence:
            for token in _OPENERS.finditer(line, self._done, max(cut, self._done)):
                if len(token.group()) == 1:
                    cut = token.start()
                    break
        if cut <= self._done:
            return ""
        piece, self._done = self._continue(line[self._done:cut]), cut
        return piece

    def _continue(self, text: str) -> str:
        return text if self._in_fence else self._check(text)

    def finish(self) -> str:
        """The rest of the answer, then the server's list of references."""
        done, self._done = self._done, 0
        if done:
            tail = self._continue(self._pending[done:])
        else:
            tail = self._line(self._pending) if self._pending and not self._hold(self._pending) else ""
        self._pending = ""
        if self._held and not all(_is_reference_line(line) for line in self._held[1:]):
            tail += "\n".join(self._line(line) for line in self._held)  # prose, not a list
        else:
            for line in self._held:  # a list of the model's own: note what it cited, then drop it
                self._line(line)
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
        if not self.targets:
            return ""
        items = "\n".join(
            f"- [{target.path}#L{target.start_line}-L{target.end_line}]({target.url})"
            + (f" — {target.title}" if target.title else "")
            for target in self.used())
        return f"**References**\n{items}\n"

    def _hold(self, line: str) -> bool:
        """From a 'References' heading on, lines wait for `finish` to decide what they are."""
        if self._held or (not self._in_fence and _REFERENCES.match(line)):
            self._held.append(line)
            return True
        return False

    def _line(self, line: str) -> str:
        fence = FENCE.match(line)
        if fence:
            marker = fence.group(1)[0] * 3
            if not self._in_fence:
                self._in_fence = marker
            elif marker == self._in_fence:
                self._in_fence = ""
            checked = line
        elif self._in_fence:
            checked = line
        else:
            checked = self._check(line)
        return checked

    def _check(self, text: str) -> str:
        """Check the links in text outside a fence; inline code is left as it is."""
        parts = re.split(r"(`+[^`\n]*`+)", text)
        return "".join(part if index % 2 else _PATTERN.sub(self._replace, part)
                       for index, part in enumerate(parts))

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
        for index, part in enumerate(re.split(r"(`+[^`\n]*`+)", line)):
            if index % 2:
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
