"""Evidence from a pasted report: which chunks and files its traceback, messages and names
point at, how strongly, and why (the reason `ragqa locate` shows).

- **frames**: a traceback's frames mapped onto the project's files (a path from someone's
  machine, `site-packages/<pkg>/…`, a `src/` layout, a Java package), the deepest strongest;
- **messages**: an error or log message quoted in the report, found in the code that raises,
  warns or logs it (the message's fixed words — the parts a format string does not fill in);
- **definitions**: the chunks that define the names the report quotes, calls or imports;
- **files**: the files of the modules it imports or names (`[astropy.io.ascii.qdp]`) and the
  file names it mentions — evidence about a whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ragqa.chunking.languages import detect
from ragqa.languages import by_grammar
from ragqa.query import code_names
from ragqa.report import Frame, Report
from ragqa.retrieve.project import Filters, ProjectIndex

FRAME_DECAY = 0.75  # each frame above the deepest project frame counts this much less
ERROR_NAME = 1.0  # a name in the error message itself (`RST.__init__() got an unexpected …`)
MAX_MESSAGES = 10  # error, log and quoted messages searched for
MIN_FRAGMENT_CHARS = 12  # shorter fixed parts of a message match too much code
_RAISES = re.compile(r"\b(raise|throw|panic|errors?\.New|fmt\.Errorf|Error\(|Exception\(|warn|warning|"
                     r"log(ger)?\.\w+|logging\.\w+|console\.(error|warn)|fail)\b")
_VARIABLE = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\{[^}]*\}|<[^>]*>|\b0x[0-9a-f]+\b|\b\d[\w.]*\b|"
                       r"[:;,()\[\]=|]|\s[-–]\s|(?:/[\w.-]+){2,}")


@dataclass
class Evidence:
    """Per chunk, how strongly the report points at it and why; per file, the same for
    evidence about whole files."""

    chunks: dict[str, float] = field(default_factory=dict)
    files: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # chunk id or path → reasons
    lines: dict[str, int] = field(default_factory=dict)  # chunk id → the line the strongest clue is on

    def add(self, key: str, strength: float, reason: str, *, whole_file: bool = False,
            line: int | None = None) -> None:
        target = self.files if whole_file else self.chunks
        if line is not None and strength > target.get(key, 0.0):
            self.lines[key] = line
        target[key] = max(target.get(key, 0.0), strength)
        reasons = self.reasons.setdefault(key, [])
        if reason not in reasons:
            reasons.append(reason)

    def ranking(self) -> list[tuple[str, float]]:
        """Chunk ids with their strength, strongest first."""
        return sorted(self.chunks.items(), key=lambda item: -item[1])


def gather(project: ProjectIndex, report: Report, filters: Filters) -> Evidence:
    """Everything `report` says about where in `project` to look."""
    evidence = Evidence()
    _frames(project, report, filters, evidence)
    _messages(project, report, filters, evidence)
    _definitions(project, report, filters, evidence)
    _files(project, report, filters, evidence)
    return evidence


def _frames(project: ProjectIndex, report: Report, filters: Filters, evidence: Evidence) -> None:
    for trace_number, trace in enumerate(report.tracebacks, 1):
        mapped = [(number, frame, project.resolve_path(frame.path))
                  for number, frame in enumerate(trace.frames, 1)]
        ours = [(number, frame, path) for number, frame, path in mapped if path]
        for depth, (number, frame, path) in enumerate(reversed(ours)):
            found = _frame_chunk(project, frame, path, filters)
            if found is None:
                continue
            chunk_id, line = found
            where = f"`{frame.function}`, line {frame.line}" if frame.function else f"line {frame.line}"
            trace_name = "the traceback" if len(report.tracebacks) == 1 else f"traceback {trace_number}"
            which = f"{trace_name}'s deepest frame in the project" if depth == 0 else \
                f"frame {number} of {trace_name}"
            evidence.add(chunk_id, max(FRAME_DECAY ** depth, 0.3), f"{which} ({where})", line=line)


def _frame_chunk(project: ProjectIndex, frame: Frame, path: str, filters: Filters
                 ) -> tuple[str, int] | None:
    """The chunk of `path` a frame points at, and the line: the definition of its function
    there (the reporter's version may differ from the indexed one), else the frame's line."""
    if frame.function:
        for symbol in project.symbols.find(frame.function):
            if symbol.path == path and project.allowed(symbol.chunk_id, filters):
                inside = frame.line is not None and symbol.start_line <= frame.line <= symbol.end_line
                return symbol.chunk_id, frame.line if inside and frame.line else symbol.start_line
    if frame.line is not None:
        chunk_id = project.chunk_at(path, frame.line)
        if chunk_id is not None and project.allowed(chunk_id, filters):
            return chunk_id, frame.line
    return None


def _messages(project: ProjectIndex, report: Report, filters: Filters, evidence: Evidence) -> None:
    messages = [error.message for error in report.errors if error.message]
    messages += list(report.log_lines)
    messages += [quote for quote in report.quoted if len(quote.split()) >= 3]
    for message in list(dict.fromkeys(messages))[:MAX_MESSAGES]:
        for fragment in fragments(message)[:3]:
            for chunk_id, line, number in project.find_phrase(fragment, filters):
                if project.file_kinds.get(project.chunk_paths.get(chunk_id, "")) != "code":
                    continue
                raises = bool(_RAISES.search(line))
                strength = (1.0 if raises else 0.6) * (1.0 if len(fragment) >= 25 else 0.8)
                verb = _verb(line) if raises else "contains"
                evidence.add(chunk_id, strength, f"{verb} '{_short(fragment)}', quoted in the issue",
                             line=number)


def fragments(message: str) -> list[str]:
    """The fixed parts of a message (what a format string does not fill in), longest first:
    `Unrecognized QDP line: read serr 1 2` → `Unrecognized QDP line`."""
    parts = (" ".join(part.split()) for part in _VARIABLE.split(message))
    kept = [part.strip(" .!?") for part in parts if part]
    kept = [part for part in kept if len(part) >= MIN_FRAGMENT_CHARS and " " in part]
    return sorted(dict.fromkeys(kept), key=len, reverse=True)


def raises(path: str, line: str) -> bool:
    """Whether `line` of `path` throws, defines or logs a message: the common verbs, or one of
    the error patterns of the file's language (`ragqa.languages`)."""
    if _RAISES.search(line):
        return True
    language = by_grammar(detect(path)[0])
    return language is not None and any(
        re.search(pattern, line) for pattern in language.error_definitions + language.error_raises)


def _verb(line: str) -> str:
    lowered = line.lower()
    if "warn" in lowered:
        return "warns"
    if re.search(r"\blog|console\.", lowered):
        return "logs"
    return "raises"


def _definitions(project: ProjectIndex, report: Report, filters: Filters, evidence: Evidence) -> None:
    """Definitions of the names the report uses: those of its prose and title count more than
    those called in its code blocks (user code calls the public API, the bug may lie deeper)."""
    prose_names = code_names(f"{report.title}\n{report.prose}")
    error_names = {name for error in report.errors for name in code_names(error.message)}
    frame_functions = {frame.function for frame, _ in report.frames if frame.function}
    for name in dict.fromkeys([*error_names, *prose_names, *report.names]):
        if name in frame_functions and name not in prose_names and name not in error_names:
            continue  # frames were placed by their file already
        strength = ERROR_NAME if name in error_names else 0.8 if name in prose_names else 0.5
        for symbol in project.symbols.find(name)[:3]:
            if project.allowed(symbol.chunk_id, filters):
                where = "the error" if name in error_names else "the issue"
                evidence.add(symbol.chunk_id, strength * (1.0 if "." in name else 0.8),
                             f"defines `{symbol.name}`, named in {where}", line=symbol.start_line)


def _files(project: ProjectIndex, report: Report, filters: Filters, evidence: Evidence) -> None:
    dotted = [name for name in (*code_names(f"{report.title}\n{report.prose}"), *report.names)
              if "." in name and name.replace(".", "").replace("_", "").islower()]
    for module in dict.fromkeys([*report.modules, *dotted]):
        path = project.module_path(module)
        if path and filters.allows(path, project.file_kinds[path]):
            package = path.endswith("__init__.py")
            evidence.add(path, 0.4 if package else 0.8, f"is the module `{module}`, named in the issue",
                         whole_file=True)
    for name in report.file_names:
        path = project.resolve_path(name)
        if path and filters.allows(path, project.file_kinds[path]):
            evidence.add(path, 1.0 if "/" in name else 0.7, f"is `{name}`, named in the issue",
                         whole_file=True)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
