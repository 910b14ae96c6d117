"""The `ragqa` command: translates arguments to service calls and results to text or JSON."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBars
from rich.table import Table

from ragqa import quick
from ragqa.errors import RagqaError
from ragqa.logs import configure as configure_logging
from ragqa.quick import fail, guarded
from ragqa.settings import Settings

if TYPE_CHECKING:
    from ragqa.answer import Answerer
    from ragqa.checks import CheckResult
    from ragqa.contract import Answer
    from ragqa.drift import Drift
    from ragqa.evaluation import Report
    from ragqa.remote import RemoteAnswerer
    from ragqa.tune import TuneReport

PROJECT_HELP = "Project to ask (default: the only one); repeat it to ask several, '*' asks every one."
TOP_K_DEFAULT = "5 or RAGQA_TOP_K"  # shown in --help: None means "the configured default"

app = typer.Typer(help="Ask a codebase: answers with links to the exact lines.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
err = Console(stderr=True, soft_wrap=True)  # one line per message: the terminal wraps, not rich
out = Console()


VERBOSE_HELP = "Say whether a running server or this process answered, and why."
REMOTE_TIMEOUT_S = 120.0


def _version(shown: bool) -> None:
    if shown:
        from ragqa import __version__

        print(f"ragqa {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    """Ask a codebase: answers with links to the exact lines."""


class BarsProgress:
    """Rich progress bars on stderr (only on a terminal), plus notes for the user."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.bars = RichBars(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err,
                             transient=True, disable=not err.is_terminal)
        self.task: TaskID | None = None

    def stage(self, name: str, total: int | None) -> None:
        """Show the previous stage as done and start a bar for this one."""
        if self.task is not None:
            self.bars.update(self.task, total=1, completed=1)
        self.task = self.bars.add_task(name, total=total)

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.bars.advance(self.task, amount)

    def note(self, message: str, *, verbose: bool = False) -> None:
        if self.verbose or not verbose:
            err.print(message, markup=False, highlight=False)


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(
        help="Git URL (https, ssh, git@host:o/r, file://), local repo, folder, or a project "
             "name to refresh.")],
    name: Annotated[str | None, typer.Option(help="Project key (default: the repo name).")] = None,
    ref: Annotated[str | None, typer.Option(help="Branch, tag or commit SHA.")] = None,
    web_url: Annotated[str | None, typer.Option(
        help="Base of links, e.g. https://github.com/psf/requests.")] = None,
    include: Annotated[list[str] | None, typer.Option(help="Only paths matching (gitignore glob).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Skip paths matching (gitignore glob).")] = None,
    audience: Annotated[str | None, typer.Option(help="Who answers are written for.")] = None,
    instructions: Annotated[str | None, typer.Option(help="Extra instructions for answers.")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Index this source under a name another source (or a damaged record) holds.")
    ] = False,
    reembed: Annotated[bool, typer.Option(
        "--reembed", help="Embed the project again in the vector space the settings select "
                          "(a project otherwise keeps the one it was first indexed in).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more.")] = False,
) -> None:
    """Index a repository or folder (again: only what changed is re-embedded)."""
    from ragqa.ingest import Ingester, IngestRequest, nothing_left_on_failure

    progress = BarsProgress(verbose)
    settings = Settings()
    with progress.bars, nothing_left_on_failure(settings):
        ingester = Ingester(settings, progress)
        summary = ingester.ingest(IngestRequest(
            source=source, name=name, ref=ref, web_url=web_url, include=include or None,
            exclude=exclude or None, audience=audience, instructions=instructions, replace=replace,
            reembed=reembed))
    if as_json:
        print(summary.model_dump_json())
        return
    rate = summary.embedded / summary.seconds if summary.seconds else 0.0
    print(
        f"{summary.project} @ {summary.commit[:12]}: {summary.files} files, "
        f"{summary.chunks} chunks (+{summary.added} ~{summary.updated} -{summary.deleted} files"
        f"{f', {summary.renamed} renamed' if summary.renamed else ''}; "
        f"{summary.skipped} skipped), {summary.embedded} embedded"
        f"{f' ({summary.reused} reused from other projects of this source)' if summary.reused else ''}"
        f" in {summary.seconds:.1f} s ({rate:.1f} chunks/s){_redactions(summary.redacted, verbose)}")
    if verbose:
        for path, count in sorted(summary.redacted.items()):
            err.print(f"  {count} secret{'s' * (count > 1)} redacted in {path}",
                      markup=False, highlight=False)


def _redactions(redacted: dict[str, int], verbose: bool) -> str:
    if not redacted:
        return ""
    total = sum(redacted.values())
    return (f"; {total} secret{'s' * (total > 1)} redacted in {len(redacted)} "
            f"file{'s' * (len(redacted) > 1)}{'' if verbose else ' (-v names them)'}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(
        help="The question, in quotes; - reads it from stdin (a pasted issue, traceback or log).")],
    project: Annotated[list[str] | None, typer.Option(metavar="NAME", help=PROJECT_HELP)] = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=50, show_default=TOP_K_DEFAULT,
                                              help="Sources to build on.")] = None,
    path: Annotated[str | None, typer.Option(help="Only files under this path prefix.")] = None,
    only: Annotated[str | None, typer.Option(help="Only 'code' or only 'docs'.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer contract as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)] = False,
) -> None:
    """Answer a question about indexed projects, with links to the exact lines."""
    if only not in (None, "code", "docs"):
        raise typer.BadParameter("must be 'code' or 'docs'", param_hint="--only")
    chosen = _chosen(project)
    settings = Settings()
    question = quick.text_argument(question, settings.max_question_chars)
    place = _place(settings)
    remote = quick.remote_for(place, verbose)
    if remote is None or not quick.ask_remotely(remote, place, question, chosen, top_k, path, only,
                                                as_json, verbose):
        quick.ask_in_process(question, chosen, top_k, path, only, as_json, settings)


def _place(settings: Settings) -> quick.Place:
    tokens = (settings.ask_tokens, settings.admin_tokens)
    return quick.Place(settings.storage_dir, settings.server,
                       quick.first_token(*(token.get_secret_value() if token else None for token in tokens)))


@app.command()
def locate(
    text: Annotated[str, typer.Argument(
        help="An issue, traceback, log or question, in quotes; - reads it from stdin.")],
    project: Annotated[list[str] | None, typer.Option(
        metavar="NAME", help="Project to search (default: the only one); repeat it to search several, "
                             "'*' searches every one.")] = None,
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Files to list.")] = 10,
    path: Annotated[str | None, typer.Option(help="Only files under this path prefix.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the location contract as JSON.")] = False,
    functions: Annotated[bool, typer.Option(
        "--functions", help="List functions, methods and classes ranked across files.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)] = False,
) -> None:
    """Where to change the code for an issue or a traceback: files, then functions, with reasons."""
    chosen = _chosen(project)
    settings = Settings()
    text = quick.text_argument(text, settings.max_question_chars)
    locations = None
    if chosen is None or (isinstance(chosen, str) and chosen != "*"):
        place = _place(settings)
        remote = quick.remote_for(place, verbose)
        if remote is not None:
            locations = quick.locate_remotely(remote, place, text, chosen, top_k, path, verbose)
    if locations is None:
        locations = quick.locate_in_process(text, chosen, top_k, path, settings)
    quick.print_locations(locations, as_json, functions)


def _chosen(project: list[str] | None) -> str | list[str] | None:
    """The `--project` options as the services take them: none, one name, or several (`*`: all)."""
    from ragqa.names import check_name

    for name in project or []:
        if name != "*":
            check_name(name)
    return project[0] if project and len(project) == 1 else project or None


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(
        help="A question set (.jsonl), e.g. examples/questions/psf__requests.jsonl.")],
    project: Annotated[list[str] | None, typer.Option(metavar="NAME", help=PROJECT_HELP)] = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=50, show_default=TOP_K_DEFAULT,
                                              help="Sources per answer.")] = None,
    server: Annotated[str | None, typer.Option(metavar="URL", help="Ask a ragqa server's /ask instead.")
                      ] = None,
    token: Annotated[str | None, typer.Option(envvar="RAGQA_TOKEN", help="Token for --server.")] = None,
    repo: Annotated[Path | None, typer.Option(
        help="With --server: a local git checkout to check links' line ranges against.")] = None,
    min_hit5: Annotated[float | None, typer.Option(help="Fail below this hit@5.")] = None,
    min_mrr: Annotated[float | None, typer.Option(help="Fail below this MRR@10.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure retrieval and answers on a question set; fails on invalid links or missed thresholds."""
    from ragqa import evaluation
    from ragqa.remote import RemoteAnswerer

    chosen = _chosen(project)
    question_set = evaluation.load(questions, Settings().max_input_file_bytes)
    answerer = _answerer(server, token)
    if isinstance(answerer, RemoteAnswerer):
        counter = evaluation.git_files(repo) if repo else None
    else:
        indexes = answerer.projects_for(chosen)
        chosen = indexes[0].record.name if len(indexes) == 1 else [index.record.name for index in indexes]
        counter = evaluation.any_files([evaluation.files_for(index.record, answerer.settings)
                                        for index in indexes])

    def ask(question: str) -> Answer:
        return answerer.ask(question, chosen, top_k)

    report = evaluation.evaluate(question_set, ask, counter, str(questions))
    if as_json:
        print(report.model_dump_json())
    else:
        _print_report(report)
    failures = evaluation.failures(report.overall, min_hit5, min_mrr)
    if failures:
        fail("; ".join(failures))


def _print_report(report: Report) -> None:
    from ragqa.evaluation import METRICS

    table = Table("", "n", *(SHORT_NAMES.get(m, m) for m in METRICS),
                  title=f"{report.project} @ {report.commit[:12]}", padding=(0, 1))
    # a generated set marks its unanswerable questions by kind and by style alike: one row for both
    styles = [(name, figures) for name, figures in report.by_style.items()
              if report.by_kind.get(name) != figures]
    groups = [("all", report.overall), *report.by_kind.items(), *styles]
    for name, figures in groups:
        table.add_row(name, f"{figures['questions']:g}", *(_figure(figures, m) for m in METRICS))
    console = out if out.is_terminal else Console(width=140)  # piped: don't squeeze to 80
    console.print(table)
    if not report.lines_checked:
        console.print("line ranges of links were not checked (give --repo with --server)")
    for result in report.questions:
        if result.invalid_links:
            console.print(f"{result.id}: invalid links {', '.join(result.invalid_links)}", markup=False)
        if result.altered_quotes:
            console.print(f"{result.id}: quotes that differ from the file {', '.join(result.altered_quotes)}",
                          markup=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address (default RAGQA_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RAGQA_PORT, 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each loads the projects).")
                       ] = 1,
) -> None:
    """Run the HTTP API (/ask, /locate, /v1/chat/completions, /projects, /jobs, /mcp, /metrics, /docs)."""
    settings = Settings()
    host = host or settings.host
    _one_thread_per_numeric_call()
    import uvicorn

    from ragqa.api import create_app
    from ragqa.api.deps import Auth

    if not Auth(settings).enabled and not _is_loopback(host):
        raise RagqaError(f"no API tokens are set (RAGQA_ASK_TOKENS, RAGQA_ADMIN_TOKENS), so the server "
                         f"only listens on loopback; refusing {host}")
    os.environ["RAGQA_HOST"] = host  # the app's Host checks follow the address it listens on
    configure_logging(settings.log_format)  # uvicorn's own records too (log_config=None below)
    if workers > 1:  # each worker process builds its own app from the same environment
        uvicorn.run("ragqa.api:create_app", factory=True, workers=workers, host=host,
                    port=port or settings.port, log_level="info", log_config=None,
                    timeout_graceful_shutdown=5)
        return
    config = uvicorn.Config(create_app(settings.model_copy(update={"host": host})), host=host,
                            port=port or settings.port, log_level="info", log_config=None,
                            timeout_graceful_shutdown=5)
    _advertised_server(config, settings.storage_dir).run()


def _advertised_server(config: Any, storage_dir: Path) -> Any:
    """A uvicorn server that writes `<storage>/server.json` once it listens and removes it on a
    clean shutdown, so `ragqa ask` and `ragqa locate` of the same storage use it. (With
    `--workers N` nothing is advertised: uvicorn's supervisor owns the sockets.)"""
    import uvicorn

    from ragqa.remote import advertise, withdraw

    class Advertised(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started and self.servers and self.servers[0].sockets:
                bound = self.servers[0].sockets[0].getsockname()
                advertise(storage_dir, f"http://{_reachable(config.host)}:{bound[1]}")

        async def shutdown(self, sockets: Any = None) -> None:
            withdraw(storage_dir)
            await super().shutdown(sockets)

    return Advertised(config)


def _reachable(host: str) -> str:
    """The address a local client dials for a server listening on `host`."""
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@app.command()
def mcp() -> None:
    """Serve the indexed projects to coding agents over MCP on stdio (what desktop agents launch).
    The same tools are at /mcp of `ragqa serve`."""
    from ragqa.answer import Answerer
    from ragqa.mcp_server import build_server, run_stdio

    settings = Settings()
    answerers: list[Answerer] = []

    def answerer() -> Answerer:  # loaded on the first tool call, so the agent's handshake is quick
        if not answerers:
            answerers.append(Answerer(settings))
        return answerers[0]

    server = build_server(answerer)
    configure_logging(settings.log_format)  # stderr: stdout carries the protocol
    run_stdio(server)


def _one_thread_per_numeric_call() -> None:
    """A server runs many requests at once: BLAS and OpenMP pools of their own in every request
    would only fight over the cores (set before numpy loads; a value you set is kept)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def check(
    target: Annotated[str | None, typer.Argument(
        help="A YAML file of checks (see examples/checks.yaml); with --drift, the project (optional).")
    ] = None,
    drift: Annotated[bool, typer.Option("--drift", help="Check the project's docs for code that is gone.")
                     ] = False,
    server: Annotated[str | None, typer.Option(help="Ask a ragqa server's /ask instead.")] = None,
    token: Annotated[str | None, typer.Option(envvar="RAGQA_TOKEN", help="Token for --server.")] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write JUnit XML here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Run docs checks (CI): exit 1 when any expectation is not met."""
    from ragqa import checks
    from ragqa.names import check_name

    settings = Settings()
    if drift:
        loaded = [checks.Check(drift=True, project=check_name(target) if target else None)]
    elif target is None:
        raise typer.BadParameter("a checks file is needed (or --drift)", param_hint="CHECKS_FILE")
    else:
        loaded = checks.load(Path(target), settings.max_input_file_bytes)
    answerer = _answerer(server, token)

    def ask(question: str, project: str | None) -> Answer:
        return answerer.ask(question, project)

    def find(project: str | None) -> list[Drift]:
        from ragqa.answer import Answerer as Local
        from ragqa.drift import find_drift

        assert isinstance(answerer, Local)
        return find_drift(answerer.project(project), settings)

    results = checks.run(loaded, ask, None if server else find)
    if junit:
        suite = "drift" if drift else Path(str(target)).stem
        junit.write_text(checks.junit_xml(results, suite), encoding="utf-8")
    if as_json:
        print(json.dumps(checks.summary(results)))
    else:
        _print_checks(results)
    failed = sum(not result.passed for result in results)
    if failed:
        fail(f"{failed} of {len(results)} checks failed")


def _answerer(server: str | None, token: str | None) -> Answerer | RemoteAnswerer:
    """The in-process `Answerer`, or a server's `/ask` behind the same `ask` call."""
    from ragqa.remote import RemoteAnswerer

    if server:
        return RemoteAnswerer(server, token)
    from ragqa.answer import Answerer

    return Answerer(Settings())


def _print_checks(results: list[CheckResult]) -> None:
    table = Table("", "check", "why", padding=(0, 1))
    for result in results:
        table.add_row("[green]pass[/]" if result.passed else "[red]FAIL[/]",
                      result.check.title, "\n".join(result.reasons))
    (out if out.is_terminal else Console(width=160)).print(table)


@app.command()
def slack() -> None:
    """Run the Slack bot in Socket Mode (SLACK_BOT_TOKEN and SLACK_APP_TOKEN)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackClientError

    from ragqa.answer import Answerer
    from ragqa.feedback import FeedbackStore
    from ragqa.index import chroma_client
    from ragqa.slack import SlackBot, build_app

    settings = Settings()
    if not settings.slack_app_token or not settings.slack_app_token.get_secret_value():
        raise RagqaError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write); "
                         "or mount the bot in `ragqa serve` with SLACK_SIGNING_SECRET")
    answerer = functools.cache(lambda: Answerer(settings))  # made on the first question, not before
    feedback = functools.cache(lambda: FeedbackStore(chroma_client(settings)))
    bolt = build_app(settings.model_copy(update={"slack_signing_secret": None}),
                     SlackBot(settings, answerer, feedback))
    err.print("ragqa Slack bot: connecting in Socket Mode (Ctrl-C stops it)", highlight=False)
    logging.getLogger("slack_bolt").setLevel(logging.CRITICAL)  # its failure is said below, once
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)
    handler = SocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
    try:
        handler.start()  # type: ignore[no-untyped-call]
    except (OSError, SlackClientError) as error:
        raise RagqaError(f"cannot reach Slack ({_reason(error)}): check the network, SLACK_BOT_TOKEN and "
                         "SLACK_APP_TOKEN (an xapp- token with connections:write)") from error


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or getattr(error, "response", None) or error
    return " ".join(str(reason).split())[:160] or type(error).__name__


@app.command()
def feedback(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Show the 👍/👎 votes on answers given in Slack."""
    from ragqa.feedback import FeedbackStore
    from ragqa.index import chroma_client

    settings = Settings()
    if not settings.chroma_url and not settings.chroma_dir.exists():  # reading creates no store
        if as_json:
            print("[]")
        else:
            out.print(f"no votes yet in {settings.storage_origin()}", highlight=False, markup=False,
                      soft_wrap=True)
        return
    records = FeedbackStore(chroma_client(settings)).voted()
    if as_json:
        print(json.dumps([record.model_dump(mode="json") for record in records]))
        return
    if not records:
        out.print("no votes yet")
        return
    table = Table("vote", "project", "question", "sources", "when", padding=(0, 1))
    for record in records:
        table.add_row("👍" if record.vote == "up" else "👎", record.project, record.question,
                      str(len(record.sources)), (record.voted_at or record.created_at).isoformat()[:19])
    out.print(table)


SHORT_NAMES = {"line_overlap@5": "lines@5", "answer_rate": "answer", "abstention": "abstain",
               "invalid_links": "bad links", "altered_quotes": "bad quotes", "mrr@10": "mrr@10",
               "p50_ms": "p50 ms", "p95_ms": "p95 ms"}


def _figure(figures: dict[str, float], metric: str) -> str:
    if metric not in figures:
        return "-"
    value = figures[metric]
    counted = metric.endswith("_ms") or metric in ("invalid_links", "altered_quotes")
    return f"{value:.0f}" if counted else f"{value:.2f}"


@app.command()
def questions(
    project: Annotated[str, typer.Argument(help="The project to write questions about.")],
    count: Annotated[int, typer.Option(min=1, max=2_000, help="Questions to write.")] = 50,
    out: Annotated[Path | None, typer.Option(help="Write the set here (default: stdout).")] = None,
    form: Annotated[str, typer.Option("--format", help="'eval' (a question set) or 'check' (YAML).")
                    ] = "eval",
    generator: Annotated[str, typer.Option(help="'auto' (llm when a model is set), 'offline' or 'llm'.")
                         ] = "auto",
    seed: Annotated[Path | None, typer.Option(help="Seed questions for llm: a set (.jsonl) or one per line.")
                    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary (with the set if no --out).")
                       ] = False,
) -> None:
    """Write a question set from the repo itself, to check or calibrate ragqa on it."""
    from ragqa.answer import Answerer
    from ragqa.names import check_name
    from ragqa.questions import QuestionWriter, read_seeds

    if form not in ("eval", "check"):
        raise typer.BadParameter("must be 'eval' or 'check'", param_hint="--format")
    if generator not in ("auto", "offline", "llm"):
        raise typer.BadParameter("must be 'auto', 'offline' or 'llm'", param_hint="--generator")
    check_name(project)
    settings = Settings()
    seeds = read_seeds(seed, settings.max_input_file_bytes) if seed else []
    answerer = Answerer(settings)
    index = answerer.project(project)
    progress = BarsProgress(verbose=False)
    with progress.bars:
        progress.stage("questions", count)
        written = QuestionWriter(settings, answerer.llm).write(index, count, generator, seeds,  # type: ignore[arg-type]
                                                               progress.advance)
    text = written.eval_jsonl(index.record.name) if form == "eval" else written.checks_yaml(index.record.name)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    answerable = sum(bool(item.gold) for item in written.questions)
    summary = {"project": index.record.name, "generator": written.generator,
               "questions": len(written.questions), "answerable": answerable,
               "unanswerable": len(written.questions) - answerable,
               "duplicates_removed": written.duplicates_removed, "filtered": written.filtered,
               "notes": written.notes, "out": str(out) if out else None}
    if as_json:
        print(json.dumps({**summary, **({} if out else {"set": text})}))
        return
    if out is None:
        print(text, end="")
    for note in written.notes:
        err.print(f"note: {note}", markup=False, highlight=False)
    err.print(f"{len(written.questions)} questions ({answerable} answerable) by the {written.generator} "
              f"generator; {written.duplicates_removed} near-duplicates and {written.filtered} filtered out"
              f"{f' → {out}' if out else ''}", markup=False, highlight=False)


@app.command()
def tune(
    project: Annotated[str, typer.Argument(help="The project to tune.")],
    questions_file: Annotated[Path | None, typer.Option("--questions", help="A question set (.jsonl).")
                              ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Go back to the default settings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Fit the project's ranking weights and abstention threshold on a question set."""
    from ragqa.answer import Answerer
    from ragqa.errors import ProjectNotFoundError
    from ragqa.evaluation import load
    from ragqa.ingest import Ingester
    from ragqa.names import check_name
    from ragqa.tune import reset_project, tune_project

    check_name(project)
    settings = Settings()
    if project not in {record["name"] for record in projects_in(settings)}:  # before opening a store
        raise ProjectNotFoundError(f"no project named {project!r} in {settings.storage_origin()} "
                                   "(see `ragqa projects`)")
    if reset:
        reset_project(Ingester(settings), project)
        print(f"{project}: back to the default settings")
        return
    if questions_file is None:
        raise typer.BadParameter("a question set is needed (or --reset)", param_hint="--questions")
    question_set = load(questions_file, settings.max_input_file_bytes)
    report = tune_project(Answerer(settings, llm=None), Ingester(settings), project, question_set)
    if as_json:
        print(report.model_dump_json())
        return
    _print_tuning(report)


def _print_tuning(report: TuneReport) -> None:
    print(f"{report.project}: fitted on {report.fit_questions} questions, "
          f"checked on {report.check_questions}")
    for name, value in report.settings.items():
        print(f"  {name} = {json.dumps(value)}")
    if not report.settings:
        print("  (no setting changed)")
    print("             hit@1    MRR  answer rate  abstention")
    for label, figures in (("before", report.before), ("after", report.after)):
        abstention = f"{figures.abstention:.3f}" if figures.abstention is not None else "–"
        print(f"  {label:<9} {figures.hit_at_1:6.3f} {figures.mrr:6.3f} {figures.answer_rate:12.3f} "
              f"{abstention:>11}")
    for note in report.notes:
        err.print(f"note: {note}", markup=False, highlight=False)


@app.command()
def projects(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List the indexed projects, and say which storage they are in."""
    settings = Settings()
    records = projects_in(settings)
    if as_json:
        print(json.dumps(records))
        return
    err.print(f"storage: {settings.storage_dir}", style="dim", highlight=False)
    if not records:
        out.print(f"no projects yet in {settings.storage_origin()}: run `ragqa ingest <git URL or path>`",
                  highlight=False, markup=False, soft_wrap=True)
        return
    if not out.is_terminal:  # piped: whole rows, tab-separated, never cut to a width
        for record in records:
            cells = ([record["name"], "damaged", record["error"]] if record["state"] == "damaged" else
                     [record["name"], record["commit"], str(record["files"]), str(record["chunks"]),
                      record["source"], record["indexed_at"], _behind(record)])
            print("\t".join(cells))
        return
    table = Table("project", "commit", "files", "chunks", "source", "indexed at", "fresh")
    for record in records:
        if record["state"] == "damaged":
            table.add_row(record["name"], "[red]damaged[/]", "", "", record["error"], "")
            continue
        table.add_row(record["name"], record["commit"][:12], str(record["files"]),
                      str(record["chunks"]), record["source"], record["indexed_at"][:19], _behind(record))
    out.print(table)


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="The project to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a project and everything stored for it (asks first, unless --yes)."""
    from ragqa.errors import ProjectNotFoundError
    from ragqa.ingest import Ingester
    from ragqa.names import check_name

    check_name(name)
    settings = Settings()
    if name not in {record["name"] for record in projects_in(settings)}:
        raise ProjectNotFoundError(f"no project named {name!r} in {settings.storage_origin()} "
                                   "(see `ragqa projects`)")
    if not yes:
        if not sys.stdin.isatty():
            raise RagqaError(f"`ragqa remove {name}` deletes the project and its index: add --yes to "
                             "confirm (there is no terminal to ask on)")
        if not typer.confirm(f"Delete {name} and everything stored for it?", default=False, err=True):
            fail("nothing removed")
    Ingester(settings).remove(name)
    out.print(f"removed {name}", highlight=False, markup=False)


def _behind(record: dict[str, Any]) -> str:
    late = record.get("behind")
    if not late:
        return "yes"
    count = f"{late['commits']} commits " if late.get("commits") else ""
    return f"{count}behind {late['ref']} ({late['commit'][:7]})"


def projects_in(settings: Settings) -> list[dict[str, Any]]:
    """The projects of the storage `settings` name; an embedded store that does not exist yet
    has none (and is not created just to say so)."""
    from ragqa.ingest import Ingester

    if not settings.chroma_url and not settings.chroma_dir.exists():
        return []
    return Ingester(settings).listing()


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 1, never a traceback."""
    guarded(app)


