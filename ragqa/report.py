"""A pasted bug report, issue or log, read like an engineer reads it.

`read_report` splits the text into its title, prose, code blocks, tracebacks (Python, JS/Node,
Java, Go and Rust panics), error messages and log lines, and collects what points into the code: the names
it quotes, the modules it imports, the files and frames it mentions, quoted strings, flags and
config keys. Retrieval (`ragqa.retrieve.evidence`) turns these into evidence: the chunk that
defines a named symbol, the line that raises a quoted message, a traceback's frames.

Nothing here knows about a project: mapping a frame's path onto the project's files happens in
retrieval, against the file list of the indexed commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from ragqa.languages import by_grammar
from ragqa.markdown import code_spans, line_kinds

REPORT_MIN_CHARS = 600  # a question longer than this is read as a report even without a traceback


@dataclass(frozen=True)
class Frame:
    """One frame of a traceback as printed: `path` as written on the reporter's machine."""

    path: str
    line: int | None
    function: str | None


@dataclass(frozen=True)
class Traceback:
    """A stack trace; `frames` outermost first, so the deepest frame is the last."""

    language: str  # python, javascript, java, go, rust
    frames: tuple[Frame, ...]
    error: str | None  # "TypeError: …", "panic: …", "java.lang.IllegalStateException: …"


@dataclass(frozen=True)
class ErrorMessage:
    """An error or warning as printed: `kind` is the exception type when there is one."""

    kind: str | None
    message: str


@dataclass(frozen=True)
class Report:
    """What a pasted issue, traceback or log says, part by part."""

    text: str
    title: str
    prose: str
    code_blocks: tuple[str, ...]
    tracebacks: tuple[Traceback, ...]
    errors: tuple[ErrorMessage, ...]
    log_lines: tuple[str, ...]
    names: tuple[str, ...]  # code names: from inline code, code blocks and frames, as written
    modules: tuple[str, ...]  # dotted modules imported or named: astropy.io.ascii.qdp
    file_names: tuple[str, ...]  # file paths or names mentioned outside tracebacks
    quoted: tuple[str, ...]  # quoted strings of prose and messages
    flags: tuple[str, ...]  # --options and key=value settings

    @cached_property
    def frames(self) -> list[tuple[Frame, int]]:
        """Every frame with its depth from the bottom (0 = the deepest frame of its trace)."""
        return [(frame, len(trace.frames) - 1 - index)
                for trace in self.tracebacks for index, frame in enumerate(trace.frames)]

    @property
    def is_bug(self) -> bool:
        """Reports a failure (a traceback, an error, or words of one) rather than asking how-to."""
        return bool(self.tracebacks or self.errors) or bool(_BUG_WORDS.search(self.text))

    @property
    def about_docs(self) -> bool:
        """The report is about documentation itself (then docs are not demoted)."""
        return bool(_DOCS_WORDS.search(self.title))

    def parts(self, limit: int) -> list[str]:
        """The texts worth embedding apart, most telling first: the title with the first
        paragraph, then error messages, then code blocks; at most `limit`."""
        first_paragraph = next((p for p in self.prose.split("\n\n") if p.strip()), "")
        head = f"{self.title}\n{first_paragraph}".strip() if first_paragraph != self.title else self.title
        parts = [head[:2000]]
        parts += [f"{e.kind}: {e.message}" if e.kind else e.message for e in self.errors[:2]]
        parts += [block[:2000] for block in self.code_blocks if block.strip()]
        return [part for part in dict.fromkeys(parts) if part.strip()][:max(limit, 1)]


def looks_like_report(text: str) -> bool:
    """Whether a question should be read as a report: long, or carrying a trace, an error line
    or a code block."""
    return (len(text) >= REPORT_MIN_CHARS or "```" in text or bool(_PY_FRAME.search(text))
            or bool(_JS_FRAME.search(text)) or bool(_JAVA_FRAME.search(text))
            or bool(_GO_FILE.search(text)) or bool(_ERROR_LINE.search(text))
            or bool(_RUST_PANIC.search(text)))


def read_report(text: str) -> Report:
    """Read `text` (Markdown or plain) into a `Report`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title, prose, blocks = _split(text)
    tracebacks = tuple(_tracebacks(text))
    errors = _errors(text, tracebacks)
    logs = tuple(dict.fromkeys(m.group("message").strip() for m in _LOG_LINE.finditer(text)))
    names = _names(prose, blocks, tracebacks)
    return Report(
        text=text, title=title, prose=prose, code_blocks=blocks, tracebacks=tracebacks,
        errors=errors, log_lines=logs, names=names, modules=_modules(text),
        file_names=_file_names(prose), quoted=_quoted(prose, errors),
        flags=tuple(dict.fromkeys(m.group() for m in _FLAG.finditer(prose))))


# --- parts -------------------------------------------------------------------------------------

def _split(text: str) -> tuple[str, str, tuple[str, ...]]:
    """The title (first non-empty line), the prose and the code blocks (fenced or indented)."""
    lines = text.split("\n")
    kinds = line_kinds(text)
    prose: list[str] = []
    blocks: list[str] = []
    current: list[str] | None = None
    for line, kind in zip(lines, kinds, strict=True):
        if kind == "text":
            if current is not None:
                blocks.append("\n".join(current))
                current = None
            prose.append(line)
        elif kind == "fence":
            if current is not None:
                blocks.append("\n".join(current))
            current = [] if current is None else None
        else:
            current = [] if current is None else current
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    title = next((line.strip().lstrip("#").strip() for line in lines if line.strip()), "")
    return title, "\n".join(prose).strip(), tuple(block for block in blocks if block.strip())


# --- tracebacks --------------------------------------------------------------------------------



def _frame(language: str) -> re.Pattern[str]:
    """How a frame of `language`'s traces reads, from its entry in `ragqa.languages`."""
    entry = by_grammar(language)
    if entry is None or not entry.frame_patterns:
        raise LookupError(f"no frame pattern for {language} in ragqa.languages")
    return re.compile(entry.frame_patterns[0], re.MULTILINE)


_PY_FRAME = _frame("python")
_JS_FRAME = _frame("javascript")
_JAVA_FRAME = _frame("java")
_GO_FILE = _frame("go")
_RUST_FRAME = _frame("rust")  # `      at ./src/walk.rs:42:9` under `  12: walker::walk::run`
_RUST_FUNCTION = re.compile(r"^\s*\d+: (?P<function>[\w:<>{}$ ]+?)(?:::h[0-9a-f]{16})?\s*$")
# `panicked at src/main.rs:10:5:` with the message on the next line (Rust ≥ 1.73), or
# `panicked at 'message', src/main.rs:10:5` before.
_RUST_PANIC = re.compile(r"panicked at (?:'(?P<quoted>[^'\n]*)', )?(?P<path>[^\s:']+\.rs):(?P<line>\d+)"
                         r"(?::\d+)?:?(?P<message>.*)$(?:\n(?P<next>.+))?", re.MULTILINE)
_GO_FUNCTION = re.compile(r"^(?P<function>[\w./*()\[\]-]+)\(.*\)\s*$")
_PY_ERROR = re.compile(r"^(?:E\s+)?(?P<kind>[A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt|"
                       r"Failure|Fault)|[A-Za-z_][\w.]*\.[A-Z]\w+)(?::\s*(?P<message>.*))?$")
_ERROR_LINE = re.compile(
    r"^\s*(?:E\s+|Caused by: |Exception in thread \"[^\"]*\" |Uncaught |panic: |fatal error: )?"
    r"(?P<kind>(?:[a-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Warning|Failure|Fault))(?::\s*(?P<message>.+))?$",
    re.MULTILINE)
_PREFIX = re.compile(r"^(?:[A-Z]+> ?|> ?)")  # INTERNALERROR> , a quote's >
_PANIC = re.compile(r"^(?:panic|fatal error): (?P<message>.+)$", re.MULTILINE)


def _tracebacks(text: str) -> list[Traceback]:
    traces: list[Traceback] = []
    for language, finder in (("python", _python_traces), ("javascript", _js_traces),
                             ("java", _java_traces), ("go", _go_traces), ("rust", _rust_traces)):
        traces.extend(Traceback(language, frames, error) for frames, error in finder(text))
    return traces


def _runs(text: str, pattern: re.Pattern[str], max_gap: int) -> list[list[re.Match[str]]]:
    """Matches of `pattern` grouped into runs: a run ends where more than `max_gap` lines pass
    without a match."""
    runs: list[list[re.Match[str]]] = []
    last_line = -10**9
    for match in pattern.finditer(text):
        line = text.count("\n", 0, match.start())
        if not runs or line - last_line > max_gap:
            runs.append([])
        runs[-1].append(match)
        last_line = line
    return runs


def _python_traces(text: str) -> list[tuple[tuple[Frame, ...], str | None]]:
    traces = []
    for run in _runs(text, _PY_FRAME, max_gap=4):
        frames = tuple(Frame(m.group("path"), int(m.group("line")), m.group("function")) for m in run)
        traces.append((frames, _error_after(text, run[-1].end())))
    return traces


def _error_after(text: str, position: int) -> str | None:
    """The exception line that ends a Python traceback: the first unindented line after the
    last frame that reads `Type: message` (the frame's source lines come first, indented)."""
    for line in text[position:].split("\n")[1:12]:
        line = _PREFIX.sub("", line)
        if line and not line[0].isspace():
            found = _PY_ERROR.match(line.strip())
            return line.strip() if found else None
    return None


def _js_traces(text: str) -> list[tuple[tuple[Frame, ...], str | None]]:
    traces = []
    for run in _runs(text, _JS_FRAME, max_gap=1):
        frames = tuple(Frame(m.group("path").removeprefix("file://"), int(m.group("line")),
                             m.group("function")) for m in run)
        traces.append((frames[::-1], _error_before(text, run[0].start())))  # printed deepest first
    return traces


def _java_traces(text: str) -> list[tuple[tuple[Frame, ...], str | None]]:
    traces = []
    for run in _runs(text, _JAVA_FRAME, max_gap=2):
        frames = tuple(Frame(_java_path(m.group("function"), m.group("file")), int(m.group("line")),
                             m.group("function").rsplit(".", 1)[-1]) for m in run)
        traces.append((frames[::-1], _error_before(text, run[0].start())))  # printed deepest first
    return traces


def _java_path(function: str, file_name: str) -> str:
    """`org.acme.Config.load` in `Config.java` → `org/acme/Config.java` (the package's folders)."""
    parts = function.split("/")[-1].split(".")[:-1]  # drop the method (and a module prefix)
    package = [part for part in parts[:-1] if part and part[0].islower()]
    return "/".join([*package, file_name])


def _go_traces(text: str) -> list[tuple[tuple[Frame, ...], str | None]]:
    traces = []
    lines = text.split("\n")
    for run in _runs(text, _GO_FILE, max_gap=2):
        frames = []
        for match in run:
            row = text.count("\n", 0, match.start())
            called = _GO_FUNCTION.match(lines[row - 1].strip()) if row > 0 else None
            function = called.group("function").rsplit(".", 1)[-1] if called else None
            frames.append(Frame(match.group("path"), int(match.group("line")), function))
        panic = _PANIC.search(text, 0, run[0].start())
        traces.append((tuple(frames[::-1]), panic.group() if panic else None))  # deepest first
    return traces


def _rust_traces(text: str) -> list[tuple[tuple[Frame, ...], str | None]]:
    """A Rust panic: where it panicked, then — with `RUST_BACKTRACE=1` — the backtrace's frames
    (printed deepest first, each `at path:line` under its function)."""
    traces: list[tuple[tuple[Frame, ...], str | None]] = []
    lines = text.split("\n")
    for panic in _RUST_PANIC.finditer(text):
        message = (panic.group("quoted") or panic.group("message").strip()
                   or (panic.group("next") or "").strip() or None)
        frames = [Frame(panic.group("path"), int(panic.group("line")), None)]
        for run in _runs(text[panic.end():], _RUST_FRAME, max_gap=2)[:1]:
            offset = text.count("\n", 0, panic.end())
            for match in run:
                row = offset + text[panic.end():].count("\n", 0, match.start())
                called = _RUST_FUNCTION.match(lines[row - 1]) if row > 0 else None
                function = called.group("function").rsplit("::", 1)[-1] if called else None
                path = match.group("path").removeprefix("./")
                frames.append(Frame(path, int(match.group("line")), function))
        unique = list(dict.fromkeys(frames[1:] or frames))
        traces.append((tuple(unique[::-1]), f"panicked: {message}" if message else "panicked"))
    return traces


def _error_before(text: str, position: int) -> str | None:
    """The error line printed just above a JS, Java or Go trace."""
    for line in reversed(text[:position].split("\n")[-4:]):
        found = _ERROR_LINE.match(line)
        if found:
            return line.strip()
    return None


# --- errors, logs ------------------------------------------------------------------------------

_LOG_LINE = re.compile(
    r"^\s*(?:\S+\s+){0,3}?\[?(?P<level>ERROR|CRITICAL|FATAL|WARNING|WARN)\]?[:\s]\s*(?:[\w.]+:\s*)?"
    r"(?P<message>\S.{8,})$", re.MULTILINE)


def _errors(text: str, tracebacks: tuple[Traceback, ...]) -> tuple[ErrorMessage, ...]:
    found: list[ErrorMessage] = []
    lines = [trace.error for trace in tracebacks if trace.error]
    lines += [match.group().strip() for match in _ERROR_LINE.finditer(text)]
    lines += [match.group().strip() for match in _PANIC.finditer(text)]
    for line in lines:
        error = _error_message(line)
        if error is not None and error not in found:
            found.append(error)
    return tuple(found)


def _error_message(line: str) -> ErrorMessage | None:
    line = re.sub(r"^(?:E\s+|Caused by: |Exception in thread \"[^\"]*\" |Uncaught )", "", line)
    panic = _PANIC.match(line)
    if panic:
        return ErrorMessage("panic", panic.group("message").strip())
    found = _PY_ERROR.match(line) or _ERROR_LINE.match(line)
    if not found:
        return None
    return ErrorMessage(found.group("kind"), (found.group("message") or "").strip())


# --- names, modules, files, quotes --------------------------------------------------------------

_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b")
_INLINE_NAME = re.compile(r"^(?:--?)?([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)(?:\(.*\))?$")
_CALLED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_IMPORT = re.compile(r"^\s*(?:>>>\s*|\.\.\.\s*)?(?:from\s+(?P<from>[\w.]+)\s+import\s+(?P<names>[\w, ()]+)"
                     r"|import\s+(?P<modules>[\w., ]+))", re.MULTILINE)
_BRACKET_MODULE = re.compile(r"\[(?P<module>[a-z_]\w*(?:\.[a-z_]\w*)+)\]")
_FILE_NAME = re.compile(r"(?<![\w/.-])(?:[\w.-]+/)*[\w-]+\.(?:py|pyi|js|jsx|ts|tsx|go|java|kt|rs|rb|c|h|"
                        r"cc|cpp|hpp|cs|php|swift|toml|cfg|ini|ya?ml|json|rst|md|txt)\b")
_QUOTED = re.compile(r"(?<![\w\\])(['\"])(?P<text>[^'\"\n]{3,80})\1(?!\w)")
_FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]+(?:=\S+)?|\b[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*\s*=\s*(?=\S)")
_NOT_NAMES = frozenset([
    "print", "len", "str", "int", "float", "list", "dict", "set", "tuple", "range", "type", "isinstance",
    "repr", "self", "cls", "super", "np", "pd", "plt", "os", "sys", "re", "json", "True", "False", "None",
    "assert", "return", "import", "from", "def", "class", "lambda", "array", "arange", "zeros", "ones",
    "open", "format", "append", "join", "split", "Traceback"])
_BUG_WORDS = re.compile(
    r"\b(bug|error|errors|exception|traceback|crash(es|ed)?|fails?|failing|failed|failure|broken|"
    r"regression|incorrect(ly)?|wrong|unexpected(ly)?|raises?|expected (behaviou?r|result|output)|"
    r"actual (behaviou?r|result|output)|doesn'?t work|does not work|not working|warning|what happened|"
    r"(steps|how) to reproduce|expected to happen)\b", re.IGNORECASE)
_DOCS_WORDS = re.compile(r"\b(docs?|documentation|docstring|typo|readme|tutorial|changelog)\b", re.IGNORECASE)


def _names(prose: str, blocks: tuple[str, ...], tracebacks: tuple[Traceback, ...]) -> tuple[str, ...]:
    """Code names in the order they matter: inline code of the prose, names called in code
    blocks (and the names they import), then the functions of traceback frames."""
    found: list[str] = []
    for line in prose.split("\n"):
        for piece, is_code in code_spans(line):
            name = _INLINE_NAME.match(piece.strip("` ")) if is_code else None
            if name:
                found.append(name.group(1))
    for block in blocks:
        found.extend(m.group(1) for m in _CALLED.finditer(block))
        for match in _IMPORT.finditer(block):
            if match.group("names"):
                found.extend(name.split(" as ")[0].strip("() ") for name in match.group("names").split(","))
    found.extend(frame.function for trace in tracebacks for frame in trace.frames if frame.function)
    cleaned = (name.strip(".") for name in found)
    return tuple(dict.fromkeys(name for name in cleaned if len(name) > 2 and name not in _NOT_NAMES
                               and not name.startswith("<") and not name.isdigit()))


def _modules(text: str) -> tuple[str, ...]:
    """Dotted modules the text imports or names in a log line's brackets (`[astropy.io.ascii.qdp]`)."""
    found: list[str] = []
    for match in _IMPORT.finditer(text):
        if match.group("from"):
            found.append(match.group("from"))
        elif match.group("modules"):
            found.extend(part.split(" as ")[0].strip() for part in match.group("modules").split(","))
    found.extend(match.group("module") for match in _BRACKET_MODULE.finditer(text))
    return tuple(dict.fromkeys(module for module in found if module and not module.startswith(".")))


def _file_names(prose: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(match.group() for match in _FILE_NAME.finditer(prose)
                               if not match.group().startswith(("http", "www."))))


def quoted_messages(text: str) -> tuple[str, ...]:
    """Messages a short question quotes (`Why do I get "subcommand is required"?`): quoted
    strings and inline code of at least three words."""
    return tuple(quote for quote in _quoted(text, ()) if len(quote.split()) >= 3)


def _quoted(prose: str, errors: tuple[ErrorMessage, ...]) -> tuple[str, ...]:
    """Quoted strings of the prose and the errors, and inline code that reads as words (a
    message pasted in backticks: `Config file not found: /etc/acme.toml`)."""
    texts = [prose, *(error.message for error in errors)]
    found = [match.group("text").strip() for text in texts for match in _QUOTED.finditer(text)]
    found += [piece.strip("` ") for line in prose.split("\n") for piece, is_code in code_spans(line)
              if is_code and len(piece.split()) >= 3]
    return tuple(dict.fromkeys(quote for quote in found if quote and not quote.isdigit()))
