"""Passages: runs of lines of one file — one chunk, or neighbouring chunks merged — with scores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ragqa.index import StoredChunk

MAX_MERGED_LINES = 120


@dataclass(frozen=True)
class Part:
    """The lines of one chunk inside a passage, with the symbol or heading path they belong to."""

    start_line: int
    end_line: int
    symbol: str
    heading: str


@dataclass
class Passage:
    """A run of lines of one file and its score; `parts` say which chunk each stretch came from,
    the best-scored first (its symbol and heading name the passage)."""

    path: str
    start_line: int
    end_line: int
    text: str
    language: str
    kind: str
    score: float
    chunk_ids: list[str] = field(default_factory=list)
    positions: tuple[int, int] = (-10, -10)
    parts: list[Part] = field(default_factory=list)
    project: str = ""  # set when an answer draws on several projects

    @property
    def symbol(self) -> str:
        return self.parts[0].symbol if self.parts else ""

    @property
    def heading(self) -> str:
        return self.parts[0].heading if self.parts else ""

    def part_at(self, start: int, end: int) -> Part | None:
        """The part that holds most of lines `start`–`end` (for labelling a quote)."""
        def overlap(part: Part) -> int:
            return min(end, part.end_line) - max(start, part.start_line)
        best = max(self.parts, key=overlap, default=None)
        return best if best is not None and overlap(best) >= 0 else None

    def lines(self, start: int, end: int) -> str:
        """Lines `start`–`end` of the passage's file (they must lie inside the passage)."""
        rows = self.text.split("\n")
        return "\n".join(rows[start - self.start_line:end - self.start_line + 1])


def merge_neighbours(chunks: Sequence[StoredChunk], scores: dict[str, float],
                     positions: dict[str, int]) -> list[Passage]:
    """Passages from chunks, best first; chunks that follow each other in a file become one.

    Chunks are consecutive when they are next to each other in the file's chunk list; the
    chunker leaves only empty lines between consecutive chunks, so the merged text is exact.
    """
    passages: list[Passage] = []
    for chunk in sorted(chunks, key=lambda c: -scores.get(c.id, 0.0)):
        passage = _passage(chunk, scores.get(chunk.id, 0.0), positions.get(chunk.id, -10))
        for kept in passages:
            if _consecutive(kept, passage):
                _absorb(kept, passage)
                break
        else:
            passages.append(passage)
    return passages


def diversify(passages: list[Passage], top_k: int, per_file: int) -> list[Passage]:
    """The first `top_k` passages with at most `per_file` from one file while other files have
    candidates left (0: no limit); the passages held back fill any places still free. The
    order of `passages` is kept."""
    if per_file <= 0:
        return passages[:top_k]
    chosen: list[Passage] = []
    held: list[Passage] = []
    counts: dict[str, int] = {}
    for passage in passages:
        if counts.get(passage.path, 0) < per_file:
            chosen.append(passage)
            counts[passage.path] = counts.get(passage.path, 0) + 1
        else:
            held.append(passage)
        if len(chosen) == top_k:
            break
    return chosen + held[: top_k - len(chosen)]


def _passage(chunk: StoredChunk, score: float, position: int) -> Passage:
    meta = chunk.metadata
    start, end = int(meta["start_line"]), int(meta["end_line"])
    return Passage(
        path=str(meta["path"]), start_line=start, end_line=end, text=chunk.text,
        language=str(meta.get("language", "")), kind=str(meta.get("kind", "")), score=score,
        chunk_ids=[chunk.id], positions=(position, position),
        parts=[Part(start, end, str(meta.get("symbol", "")), str(meta.get("heading", "")))])


def _consecutive(kept: Passage, new: Passage) -> bool:
    first, last = kept.positions
    span = max(kept.end_line, new.end_line) - min(kept.start_line, new.start_line) + 1
    return (kept.path == new.path and new.positions[0] in (first - 1, last + 1)
            and span <= MAX_MERGED_LINES)


def _absorb(kept: Passage, new: Passage) -> None:
    """Grow `kept` to cover `new` too; the lines between them (empty) are filled in."""
    before = new.start_line < kept.start_line
    first, second = (new, kept) if before else (kept, new)
    gap = max(0, second.start_line - first.end_line - 1)
    kept.text = first.text + "\n" * (gap + 1) + second.text
    kept.start_line, kept.end_line = first.start_line, second.end_line
    kept.positions = (first.positions[0], second.positions[1])
    kept.chunk_ids.extend(new.chunk_ids)
    kept.parts.extend(new.parts)  # parts[0] stays the best-scored chunk's
