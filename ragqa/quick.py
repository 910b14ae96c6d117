"""The `ragqa` command's entry point, with a fast path for `ask` and `locate` through a running
server, and the printing both paths share (so their output is the same by construction).

`ragqa ask` through a server spends most of its time starting Python and importing the CLI's
machinery (typer, rich, pydantic-settings) rather than waiting for the answer. So `main` first
reads the command line of `ask` and `locate` itself (the same options, parsed strictly), the
few settings it needs (RAGQA_STORAGE_DIR, RAGQA_SERVER, the tokens, RAGQA_MAX_QUESTION_CHARS,
from the environment or `.env`, as `Settings` reads them) and the storage's `server.json`. When a
server is found it asks it and prints the answer; anything else — another command, `--help`, an
option it does not know or a value out of range, no server, a server that fails — goes to the
full CLI (`ragqa.cli`), which answers, or says what is wrong, as before. Other settings are the
server's business: it answers with its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ragqa.errors import RagqaError

if TYPE_CHECKING:
    from ragqa.answer import Answerer
    from ragqa.contract import Answer, AnswerEvent, Location
    from ragqa.remote import RemoteAnswerer
    from ragqa.settings import Settings

REMOTE_TIMEOUT_S = 120.0
_VALUE_OPTIONS = {"ask": ("--project", "--top-k", "--path", "--only"),
                  "locate": ("--project", "--top-k", "--path")}


def main() -> None:
    """Entry point of `ragqa` and `python -m ragqa`."""
    if not _fast(sys.argv[1:]):
        from ragqa.cli import main as full

        full()


# --- printing, shared with ragqa.cli ---------------------------------------------------------

def is_terminal(stream: Any) -> bool:
    """Whether `stream` takes a terminal's escape codes, as rich decides it (TTY_COMPATIBLE,
    FORCE_COLOR, else the stream itself), without importing rich."""
    if os.environ.get("TTY_COMPATIBLE", "") in ("0", "1"):
        return os.environ["TTY_COMPATIBLE"] == "1"
    if os.environ.get("FORCE_COLOR") is not None:
        return os.environ["FORCE_COLOR"] != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


def say(message: str) -> None:
    """A dim note on stderr (plain text when stderr is not a terminal)."""
    if is_terminal(sys.stderr):
        from rich.console import Console

        Console(stderr=True, soft_wrap=True).print(message, style="dim", markup=False, highlight=False)
    else:
        print(message, file=sys.stderr, flush=True)


def said(verbose: bool, message: str) -> None:
    if verbose:
        say(message)


def print_answer(answer: Answer, as_json: bool) -> None:
    print(answer.model_dump_json() if as_json else answer.answer + closest(answer) + late(answer))


def late(answer: Answer) -> str:
    """One line when a newer commit of the project's branch is known and not indexed yet."""
    from ragqa.contract import behind_line

    return f"\n\n_{behind_line(answer.commit, answer.behind)}_" if answer.behind else ""


def closest(answer: Answer) -> str:
    """After "Hmm, I'm not sure.": where ragqa looked, so the reader can check for themselves."""
    if answer.answered or not answer.sources:
        return ""
    lines = "\n".join(f"- {s.path}#L{s.start_line}-L{s.end_line} ({s.url})" for s in answer.sources[:5])
    return f"\n\nThe closest passages it found:\n{lines}"


def stream_to_terminal(events: Iterator[AnswerEvent]) -> None:
    """Render the answer as Markdown while it arrives, then a one-line footer."""
    from rich.console import Console
    from rich.live import Live
    from rich.markdown import Markdown

    text = ""
    with Live(Markdown(text), console=Console(), refresh_per_second=8, vertical_overflow="visible") as live:
        for event in events:
            if event.kind == "delta":
                text += event.text
                live.update(Markdown(text))
            elif event.answer is not None:
                live.update(Markdown(event.answer.answer + closest(event.answer) + late(event.answer)))
                footer(event.answer)


def footer(answer: Answer) -> None:
    removed = f" · {len(answer.links_removed)} invented links removed" if answer.links_removed else ""
    where = ", ".join(f"{name} @ {commit[:12]}" for name, commit in answer.projects.items()) or \
        f"{answer.project} @ {answer.commit[:12]}"
    say(f"{where} · {answer.model} · {answer.timings_ms.get('total', 0)} ms{removed}")


def print_locations(locations: Sequence[Location], as_json: bool, functions: bool) -> None:
    if as_json:  # one object for one project, as before; a list for several
        print(locations[0].model_dump_json() if len(locations) == 1 else
              "[" + ",".join(location.model_dump_json() for location in locations) + "]")
        return
    for location in locations:
        if len(locations) > 1:
            print(f"## {location.project}")
        print_location(location, functions)


def print_location(location: Location, functions: bool = False) -> None:
    read = location.read
    if read.tracebacks or read.errors:
        traces = f"{read.tracebacks} traceback{'s' * (read.tracebacks != 1)}"
        seen = [f"{traces} ({read.frames_in_project} of {read.frames} frames in the project)"] \
            if read.tracebacks else []
        seen += [f"error {error!r}" for error in read.errors[:2]]
        say("read: " + "; ".join(seen))
    if functions:
        _print_functions(location)
        return
    if not location.files:
        print("No file matches.")
    for rank, found in enumerate(location.files, 1):
        print(f"{rank}. {found.path} — {'; '.join(found.reasons[:2])}")
        for symbol in found.symbols:
            why = f" — {'; '.join(symbol.reasons[:2])}" if symbol.reasons else ""
            print(f"   {symbol.name} ({symbol.kind}, lines {symbol.start_line}–{symbol.end_line}){why}")
            print(f"     {symbol.url}")
    say(f"{location.project} @ {location.commit[:12]} · {location.timings_ms.get('total', 0)} ms")


def _print_functions(location: Location) -> None:
    if not location.functions:
        print("No function matches.")
    for rank, hit in enumerate(location.functions, 1):
        why = f" — {'; '.join(hit.reasons[:2])}" if hit.reasons else ""
        print(f"{rank}. {hit.name} ({hit.kind}, {hit.path}:{hit.start_line}–{hit.end_line}){why}")
        print(f"   {hit.url}")
    say(f"{location.project} @ {location.commit[:12]} · {location.timings_ms.get('total', 0)} ms")


def text_argument(value: str, limit: int) -> str:
    """The argument, or stdin's text for `-` (see `ragqa.inputs.read_stdin`)."""
    if value != "-":
        return value
    if sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty():
        say("Paste the text, then press Ctrl-D.")
    from ragqa.inputs import read_stdin

    return read_stdin(limit)


# --- asking a server, shared with ragqa.cli ---------------------------------------------------

class Place:
    """What `ask` and `locate` need to find and use a server: the storage folder, RAGQA_SERVER
    and the bearer token."""

    def __init__(self, storage_dir: Path, server: str | None, token: str | None) -> None:
        self.storage_dir = storage_dir
        self.server = server
        self.token = token


def remote_for(place: Place, verbose: bool) -> RemoteAnswerer | None:
    """The server `ask` and `locate` use (RAGQA_SERVER, else the one advertised in the storage
    folder), or None to answer in this process; `-v` says which and why."""
    from ragqa.remote import RemoteAnswerer, discover

    found = discover(place.storage_dir, place.server)
    if found.url is None:
        said(verbose, f"answering in this process: {found.why}")
        return None
    said(verbose, f"asking {found.url} ({found.why})")
    return RemoteAnswerer(found.url, place.token, timeout=REMOTE_TIMEOUT_S)


def ask_remotely(remote: RemoteAnswerer, place: Place, question: str, chosen: str | list[str] | None,
                 top_k: int | None, path: str | None, only: str | None, as_json: bool,
                 verbose: bool) -> bool:
    """Ask the server and print its answer; False when it failed (said with `-v`), to answer in
    this process instead."""
    streamed = not as_json and is_terminal(sys.stdout)
    try:  # a refused request raises before any output, so the fallback prints alone
        events = remote.stream(question, chosen, top_k, path, only) if streamed else None
        answer = None if streamed else remote.ask(question, chosen, top_k, path, only)
    except RagqaError as error:
        fell_back(place, remote.server, error, verbose)
        return False
    said(verbose, f"answered by {remote.server}")
    if events is not None:
        stream_to_terminal(events)
    elif answer is not None:
        print_answer(answer, as_json)
    return True


def locate_remotely(remote: RemoteAnswerer, place: Place, text: str, chosen: str | None, top_k: int,
                    path: str | None, verbose: bool) -> list[Location] | None:
    """One project's location from the server, or None (said with `-v`) to search in this process."""
    try:
        location = remote.locate(text, chosen, top_k, path)
    except RagqaError as error:
        fell_back(place, remote.server, error, verbose)
        return None
    said(verbose, f"answered by {remote.server}")
    return [location]


def fell_back(place: Place, server: str, error: RagqaError, verbose: bool) -> None:
    """A server that fails or refuses: answer in this process instead (a refused connection to
    an advertised server also removes its stale server.json)."""
    from ragqa.remote import ServerUnreachableError, forget

    if isinstance(error, ServerUnreachableError) and not place.server:
        forget(place.storage_dir, server)
    said(verbose, f"answering in this process: {error}")


def first_token(*lists: str | None) -> str | None:
    """RAGQA_TOKEN, else the first of the ask tokens, else of the admin tokens."""
    if os.environ.get("RAGQA_TOKEN"):
        return os.environ["RAGQA_TOKEN"]
    for tokens in lists:
        first = next((t.strip() for t in (tokens or "").split(",") if t.strip()), None)
        if first:
            return first
    return None


# --- answering in this process, shared with ragqa.cli --------------------------------------

def ask_in_process(question: str, chosen: str | list[str] | None, top_k: int | None, path: str | None,
                   only: str | None, as_json: bool, settings: Settings | None = None) -> None:
    """Answer in this process and print the answer (streamed on a terminal, unless `as_json`)."""
    from ragqa.answer import Answerer
    from ragqa.retrieve import Filters
    from ragqa.settings import Settings

    answerer = Answerer(settings or Settings(), catalogue=True)
    filters = Filters(path_prefix=path, kind=only)  # type: ignore[arg-type]
    if as_json or not is_terminal(sys.stdout):
        print_answer(answerer.ask(question, chosen, top_k, filters), as_json)
        return
    stream_to_terminal(answerer.stream(question, chosen, top_k, filters))


def locate_in_process(text: str, chosen: str | list[str] | None, top_k: int, path: str | None,
                      settings: Settings | None = None) -> list[Location]:
    """Each chosen project's location, searched in this process."""
    from ragqa.answer import Answerer
    from ragqa.retrieve import Filters
    from ragqa.settings import Settings

    answerer = Answerer(settings or Settings(), llm=None, catalogue=True)
    names = project_names(answerer, chosen)
    return [answerer.locate(text, name, top_k, Filters(path_prefix=path)) for name in names]


def project_names(answerer: Answerer, chosen: str | list[str] | None) -> list[str | None]:
    """One project name per search, for commands that search projects one at a time."""
    if chosen is None or (isinstance(chosen, str) and chosen != "*"):
        return [chosen]
    return [index.record.name for index in answerer.projects_for(chosen)]


# --- the fast path ------------------------------------------------------------------------------

class _Unsure(Exception):
    """The fast path does not handle this command line: the full CLI does."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never print usage: the full CLI says what is wrong
        raise _Unsure(message)


def _parser(command: str) -> _Parser:
    parser = _Parser(prog=f"ragqa {command}", add_help=False, allow_abbrev=False)
    parser.add_argument("text")
    parser.add_argument("--project", action="append")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--path")
    if command == "ask":
        parser.add_argument("--only")
    else:
        parser.add_argument("--functions", action="store_true")
    parser.add_argument("--json", action="store_true", dest="as_json")
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser


def _fast(argv: list[str]) -> bool:
    """Answer `ask`/`locate` through a running server without loading the full CLI (or in this
    process, through the full CLI's functions); False when this command line is for the full CLI
    (see the module docstring)."""
    if not argv or argv[0] not in _VALUE_OPTIONS or any(arg in ("--help", "-h") for arg in argv):
        return False
    try:
        args = _parser(argv[0]).parse_args(argv[1:])
        chosen = _checked(argv[0], args)
        env = _settings_env()
        limit = int(env.get("RAGQA_MAX_QUESTION_CHARS") or _default_limit())
    except (_Unsure, RagqaError, ValueError):
        return False
    place = Place(Path(env["RAGQA_STORAGE_DIR"]) if env.get("RAGQA_STORAGE_DIR") else _found_storage(),
                  env.get("RAGQA_SERVER") or None,
                  first_token(env.get("RAGQA_ASK_TOKENS"), env.get("RAGQA_ADMIN_TOKENS")))
    guarded(lambda: _run(argv[0], args, chosen, place, limit))
    return True


def _checked(command: str, args: argparse.Namespace) -> str | list[str] | None:
    """The command line's values as the full CLI would accept them (else `_Unsure`)."""
    from ragqa.names import check_name

    if args.top_k is not None and not 1 <= args.top_k <= 50:
        raise _Unsure("--top-k")
    if command == "ask" and args.only not in (None, "code", "docs"):
        raise _Unsure("--only")
    for name in args.project or []:
        if name != "*":
            check_name(name)
    project = args.project
    chosen = project[0] if project and len(project) == 1 else project or None
    if command == "locate" and not (chosen is None or (isinstance(chosen, str) and chosen != "*")):
        raise _Unsure("several projects are searched in this process")
    return chosen


def _run(command: str, args: argparse.Namespace, chosen: str | list[str] | None, place: Place,
                    limit: int) -> None:
    text = text_argument(args.text, limit)
    remote = remote_for(place, args.verbose)
    if command == "ask":
        if remote is None or not ask_remotely(remote, place, text, chosen, args.top_k, args.path,
                                              args.only, args.as_json, args.verbose):
            ask_in_process(text, chosen, args.top_k, args.path, args.only, args.as_json)
        return
    assert chosen is None or isinstance(chosen, str)
    top_k = 10 if args.top_k is None else args.top_k
    locations = locate_remotely(remote, place, text, chosen, top_k, args.path, args.verbose) \
        if remote is not None else None
    if locations is None:
        locations = locate_in_process(text, chosen, top_k, args.path)
    print_locations(locations, args.as_json, args.functions)


def guarded(call: Callable[[], Any]) -> None:
    """Run `call`; user errors become one line on stderr and exit code 1, never a traceback."""
    try:
        call()
    except RagqaError as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except Exception as error:  # a bug: still one line, the traceback only on request
        if os.environ.get("RAGQA_DEBUG"):
            raise
        fail(f"internal error ({type(error).__name__}): {error} (RAGQA_DEBUG=1 shows details)")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` on stderr (one line) and exit with `code`."""
    if is_terminal(sys.stderr):
        from rich.console import Console

        Console(stderr=True, soft_wrap=True).print(f"error: {message}", markup=False, highlight=False)
    else:
        print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _settings_env() -> dict[str, str]:
    """RAGQA_* values as `Settings` reads them: the environment over `.env`, names in any case."""
    values: dict[str, str] = {}
    if Path(".env").is_file():
        from dotenv import dotenv_values

        values.update({key.upper(): value for key, value in dotenv_values(".env").items()
                       if key.upper().startswith("RAGQA_") and value is not None})
    values.update({key.upper(): value for key, value in os.environ.items()
                   if key.upper().startswith("RAGQA_")})
    return values


def _found_storage() -> Path:
    from ragqa.places import find_storage

    return find_storage(Path.cwd())


def _default_limit() -> int:
    from ragqa.places import MAX_QUESTION_CHARS

    return MAX_QUESTION_CHARS
