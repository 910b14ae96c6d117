"""Question sets written from the repo itself (`ragqa questions`), to check and calibrate ragqa
per project.

Two generators:
- **offline** (no model): questions from the repo's structure — a how-to from each docs section
  heading ("Setting a default timeout" → "How do I set a default timeout?"), "what does … do?"
  and "where is … implemented?" for public functions and classes with docstrings, command-line
  options and environment variables the code reads; gold is the file and lines they came from.
  Plus plausible **unanswerable** questions (`gold: []`): features and names that occur nowhere
  in the project, to calibrate abstention.
- **llm** (a model configured): the self-instruct loop — seed questions and one passage of the
  project go to the model (`prompts/questions.md.j2`), which writes a numbered list of questions
  the passage answers; each is filtered (length, a blacklist of what text cannot answer, no
  leading punctuation or non-ASCII) and de-duplicated; gold is the passage's file and lines.

Both never keep two questions whose ROUGE-L F exceeds 0.7 (`rouge-score`; the pairwise scores of
a large pool run in a process pool, as the self-instruct code did).
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

from ragqa.answer.llm import LLM, LLMError, Usage
from ragqa.errors import RagqaError
from ragqa.index import StoredChunk
from ragqa.index.lexical import tokenize
from ragqa.markdown import line_kinds
from ragqa.prompting import render_questions
from ragqa.retrieve import ProjectIndex
from ragqa.settings import Settings

Generator = Literal["auto", "offline", "llm"]
DUPLICATE_ROUGE_L = 0.7
UNANSWERABLE_SHARE = 0.15
POOL_MIN = 64  # a kept pool at least this big is compared in a process pool
MAX_GOLD_LINES = 60
_NOT_SECTIONS = ("change", "history", "release", "license", "licence", "contribut", "code of conduct",
                 "authors", "security", "support", "sponsor", "funding", "thank", "credit",
                 "table of contents", "contents", "index", "indices", "api reference", "toc")
_OPTION = re.compile(r"""(?:add_argument|option|Option|flag)\(\s*(?:[^()]*?,\s*)?["'](--[a-z][\w-]+)["']""")
_ENV_VAR = re.compile(r"""(?:environ(?:\.get)?[\[(]|getenv\(|env\(|process\.env\.)\s*["']?"""
                      r"""([A-Z][A-Z0-9_]{3,})""")
# Features a project is asked about and may well not have, each with the word that makes it what
# it is: kept only when the project never uses that word (then the question is unanswerable there).
FEATURES = (
    ("HTTP/3 over QUIC", "quic"), ("GraphQL subscriptions", "graphql"), ("Kafka consumers", "kafka"),
    ("gRPC streaming", "grpc"), ("SAML single sign-on", "saml"), ("CUDA acceleration", "cuda"),
    ("Bluetooth devices", "bluetooth"), ("Excel spreadsheet export", "excel"),
    ("WebAssembly targets", "webassembly"), ("a plugin marketplace", "marketplace"),
    ("Kubernetes operators", "kubernetes"), ("blockchain ledgers", "blockchain"), ("SNMP traps", "snmp"),
    ("LDAP directory sync", "ldap"), ("OCR of scanned documents", "ocr"),
    ("speech recognition", "speech"), ("MQTT brokers", "mqtt"), ("COBOL copybooks", "cobol"),
    ("Terraform providers", "terraform"), ("FPGA bitstreams", "fpga"), ("a GUI form designer", "gui"),
    ("a built-in rate limiter", "limiter"), ("Redis clustering", "redis"), ("Excel macros", "macro"),
    ("voice calls", "voice"), ("PDF rendering", "pdf"), ("SMS delivery", "sms"),
    ("Arduino boards", "arduino"), ("Salesforce objects", "salesforce"), ("Fortran bindings", "fortran"),
)
_NOUNS = ("Pool", "Broker", "Scheduler", "Registry", "Sharder", "Orchestrator", "Federator", "Mirror")


@dataclass
class Generated:
    """One generated question and where its answer is (`gold` empty: unanswerable)."""

    question: str
    gold: list[str]
    lines: dict[str, tuple[int, int]]
    kind: str
    style: str


@dataclass
class GeneratedSet:
    """A generated question set and what was dropped on the way."""

    repo: str
    commit: str
    url: str
    generator: str
    questions: list[Generated] = field(default_factory=list)
    duplicates_removed: int = 0
    filtered: int = 0
    notes: list[str] = field(default_factory=list)

    def eval_jsonl(self, project: str) -> str:
        """The question-set format of `ragqa eval` (examples/questions/): a header line, then one
        question per line."""
        rows = [json.dumps({"repo": self.repo, "commit": self.commit, "url": self.url})]
        for number, item in enumerate(self.questions, 1):
            rows.append(json.dumps({
                "id": f"{project}-gen-{number:03d}", "question": item.question, "gold": item.gold,
                "lines": {path: list(span) for path, span in item.lines.items()}, "kind": item.kind,
                "style": item.style}))
        return "\n".join(rows) + "\n"

    def checks_yaml(self, project: str) -> str:
        """A `ragqa check` file: each answerable question must cite its gold file, each
        unanswerable one must not be answered."""
        import yaml

        checks: list[dict[str, Any]] = []
        for item in self.questions:
            check: dict[str, Any] = {"question": item.question}
            if item.gold:
                check["cites"] = list(item.gold)
            else:
                check["answered"] = False
            checks.append(check)
        document = {"project": project, "checks": checks}
        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


class Deduplicator:
    """Keeps a question only if its ROUGE-L F with every kept one is at most `threshold`."""

    def __init__(self, threshold: float = DUPLICATE_ROUGE_L) -> None:
        from rouge_score import rouge_scorer

        self.threshold = threshold
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        self._kept: list[list[str]] = []
        self._pool: ProcessPoolExecutor | None = None
        self.removed = 0

    def add(self, question: str) -> bool:
        """Keep `question` unless it nearly repeats a kept one; say whether it was kept."""
        tokens = self._scorer._tokenizer.tokenize(question)
        if not tokens or self._max_similarity(tokens) > self.threshold:
            self.removed += 1
            return False
        self._kept.append(tokens)
        return True

    def _max_similarity(self, tokens: list[str]) -> float:
        from rouge_score import rouge_scorer

        if not self._kept:
            return 0.0
        score = partial(rouge_scorer._score_lcs, tokens)
        if len(self._kept) < POOL_MIN:
            return float(max(score(kept).fmeasure for kept in self._kept))
        if self._pool is None:
            self._pool = ProcessPoolExecutor(mp_context=get_context("spawn"))
        return float(max(found.fmeasure for found in self._pool.map(score, self._kept, chunksize=256)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class QuestionWriter:
    """Writes question sets for an indexed project (`ragqa questions`)."""

    def __init__(self, settings: Settings, llm: LLM | None) -> None:
        self.settings = settings
        self.llm = llm

    def write(self, index: ProjectIndex, count: int, generator: Generator = "auto",
              seeds: Sequence[str] = (), progress: Callable[[int], None] | None = None) -> GeneratedSet:
        """Up to `count` questions about the project `index` holds."""
        record = index.record
        chosen = ("llm" if self.llm is not None else "offline") if generator == "auto" else generator
        if chosen == "llm" and self.llm is None:
            raise RagqaError("the llm generator needs a model: set RAGQA_LLM_BASE_URL or OPENAI_API_KEY, "
                             "or use --generator offline")
        result = GeneratedSet(repo=record.name, commit=record.commit, url=record.web_url or "",
                              generator=chosen)
        dedup = Deduplicator()
        try:
            if chosen == "llm":
                assert self.llm is not None
                self._self_instruct(index, count, seeds, dedup, result, progress)
            else:
                self._offline(index, count, dedup, result, progress)
        finally:
            dedup.close()
        result.duplicates_removed = dedup.removed
        return result

    def _offline(self, index: ProjectIndex, count: int, dedup: Deduplicator, result: GeneratedSet,
                 progress: Callable[[int], None] | None) -> None:
        unanswerable = _unanswerable_share(index, count)
        answerable = count - len(unanswerable)
        for item in _interleave(list(offline_questions(index, self.settings))):
            if len(result.questions) >= answerable:
                break
            if dedup.add(item.question):
                result.questions.append(item)
                if progress:
                    progress(1)
        _add_unanswerable(result, unanswerable, count, dedup, progress)
        if len(result.questions) < count:
            result.notes.append(f"the repository's structure gave {len(result.questions)} distinct "
                                f"questions, not {count}")

    def _self_instruct(self, index: ProjectIndex, count: int, seeds: Sequence[str], dedup: Deduplicator,
                       result: GeneratedSet, progress: Callable[[int], None] | None) -> None:
        assert self.llm is not None
        unanswerable = _unanswerable_share(index, count)  # as offline: a set that can calibrate abstention
        try:
            self._ask_model(index, count - len(unanswerable), seeds, dedup, result, progress)
        finally:
            _add_unanswerable(result, unanswerable, count, dedup, progress)
        if len(result.questions) < count:
            result.notes.append(f"the project's passages gave {len(result.questions)} questions, not {count}")

    def _ask_model(self, index: ProjectIndex, count: int, seeds: Sequence[str], dedup: Deduplicator,
                   result: GeneratedSet, progress: Callable[[int], None] | None) -> None:
        """Up to `count` answerable questions from the model, passage by passage."""
        assert self.llm is not None
        offline = _interleave(list(offline_questions(index, self.settings)))
        pool = list(seeds) or [item.question for item in offline[:8]] or ["What does this project do?"]
        rng = random.Random(0)
        for chunk in _passages(index, self.settings, rng):
            if len(result.questions) >= count:
                return
            examples = rng.sample(pool, min(3, len(pool)))
            prompt = render_questions(self.settings.prompts_dir, index.record, examples, chunk,
                                      QUESTIONS_PER_PASSAGE)
            try:
                reply = "".join(self.llm.stream(prompt, Usage()))
            except LLMError as error:
                result.notes.append(f"the model failed after {len(result.questions)} questions ({error}); "
                                    "the set holds what was made")
                return
            for question in numbered_items(reply):
                if not acceptable(question, self.settings.question_blacklist):
                    result.filtered += 1
                    continue
                if len(result.questions) < count and dedup.add(question):
                    result.questions.append(_gold(index, chunk, question, "generated"))
                    if progress:
                        progress(1)


def _unanswerable_share(index: ProjectIndex, count: int) -> list[Generated]:
    """About `UNANSWERABLE_SHARE` of a set of `count`: questions the project cannot answer."""
    return unanswerable_questions(index, max(1, round(count * UNANSWERABLE_SHARE)) if count >= 4 else 0)


def _add_unanswerable(result: GeneratedSet, unanswerable: list[Generated], count: int, dedup: Deduplicator,
                      progress: Callable[[int], None] | None) -> None:
    for item in unanswerable:
        if len(result.questions) < count and dedup.add(item.question):
            result.questions.append(item)
            if progress:
                progress(1)


QUESTIONS_PER_PASSAGE = 5
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_NUMBERED = re.compile(r"^\s*(?:\d{1,3}|[-*•])[.)\]:]?\s+(?P<text>\S.*?)\s*$")


def numbered_items(reply: str) -> list[str]:
    """The questions of a model's numbered (or bulleted) list; chatter around it is ignored."""
    found = []
    for line in reply.splitlines():
        match = _NUMBERED.match(line)
        if match:
            text = match.group("text").strip().strip('"').strip()
            text = re.sub(r"^\*\*(.*)\*\*$", r"\1", text)
            if text:
                found.append(text)
    return found


def acceptable(question: str, blacklist: Sequence[str]) -> bool:
    """The self-instruct filters: more than 3 and at most 150 words, none of the blacklisted
    words (things a text answer cannot do), no leading punctuation, an ASCII first character."""
    words = question.split()
    if not 3 < len(words) <= 150:
        return False
    lowered = f" {question.lower()} "
    if any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in blacklist):
        return False
    return question[0] not in string.punctuation and question[0].isascii()


def offline_questions(index: ProjectIndex, settings: Settings) -> Iterator[Generated]:
    """Answerable questions from the repo's structure (tests and changelogs aside): docs
    headings, documented public definitions, command-line options and environment variables."""
    skipped = index.matching(settings.test_paths) | index.matching(settings.changelog_paths)
    yield from _heading_questions(index, skipped)
    yield from _symbol_questions(index, skipped)
    yield from _option_questions(index, skipped)


def unanswerable_questions(index: ProjectIndex, count: int) -> list[Generated]:
    """Plausible questions the project cannot answer: features none of whose words it holds,
    and class-like names made from its own that it does not define."""
    name = index.record.name.rsplit("/", 1)[-1]
    rng = random.Random(1)
    found = []
    for feature, word in FEATURES:
        if not any(index.lexical.has_term(term) for term in tokenize(word)):
            template = rng.choice(("Does {name} support {feature}?", "How do I use {name} with {feature}?",
                                   "Is there a way to configure {feature} in {name}?"))
            found.append(Generated(template.format(name=name, feature=feature), [], {}, "unanswerable",
                                   "unanswerable"))
    classes = sorted({symbol.short_name for symbol in index.symbols.symbols
                      if symbol.kind == "class" and not symbol.short_name.startswith("_")})
    for base in rng.sample(classes, min(len(classes), 8)):
        for noun in _NOUNS:
            made = f"{base}{noun}"
            if not index.lexical.has_term(made.lower()) and not index.symbols.find(made):
                found.append(Generated(f"How do I configure the `{made}` class?", [], {}, "unanswerable",
                                       "unanswerable"))
                break
    rng.shuffle(found)
    return found[:count]


def _heading_questions(index: ProjectIndex, skipped: set[str]) -> Iterator[Generated]:
    seen: set[tuple[str, str]] = set()
    docs = [chunk_id for chunk_id, path in index.chunk_paths.items()
            if index.file_kinds.get(path) == "docs" and path not in skipped]
    for chunk in index.chunks(docs):
        path = str(chunk.metadata.get("path", ""))
        for heading, start, end in _sections(chunk):
            if not _usable_heading(heading) or (path, heading) in seen:
                continue
            seen.add((path, heading))
            question, style = how_to(heading, index.record.name.rsplit("/", 1)[-1])
            yield Generated(question, [path], {path: (start, min(end, start + MAX_GOLD_LINES - 1))}, "docs",
                            style)


def _sections(chunk: StoredChunk) -> list[tuple[str, int, int]]:
    """The sections that start in a docs chunk: (heading, first line, last line in the chunk),
    Markdown `#` headings and reStructuredText underlined ones."""
    rows = chunk.text.split("\n")
    first = int(chunk.metadata.get("start_line", 1))
    kinds = line_kinds(chunk.text)
    starts: list[tuple[str, int]] = []
    for at, row in enumerate(rows):
        if kinds[at] != "text":
            continue
        marked = _MD_HEADING.match(row)
        if marked:
            starts.append((marked.group(1).strip(" #*`"), at))
        elif at + 1 < len(rows) and row.strip() and _RST_UNDERLINE.match(rows[at + 1]) and \
                len(rows[at + 1].strip()) >= len(row.strip()):
            starts.append((row.strip(" *`"), at))
    return [(heading, first + at, first + (starts[n + 1][1] - 1 if n + 1 < len(starts) else len(rows) - 1))
            for n, (heading, at) in enumerate(starts)]


def _usable_heading(heading: str) -> bool:
    lowered = heading.lower()
    return (4 <= len(heading) <= 80 and not re.match(r"^v?\d", lowered) and len(heading.split()) <= 10
            and not any(word in lowered for word in _NOT_SECTIONS) and any(c.isalpha() for c in heading))


def how_to(heading: str, project: str) -> tuple[str, str]:
    """A question a docs section answers, from its heading: a how-to for an action heading
    ("Setting a default timeout", "How to retry"), the heading itself when it is a question,
    else a what-is for a topic ("Timeouts")."""
    words = heading.rstrip(".:!").split()
    first = words[0].lower()
    rest = " ".join(_lower_word(word) for word in words[1:])
    if first == "how" and len(words) > 2 and words[1].lower() == "to":
        return f"How do I {' '.join(_lower_word(word) for word in words[2:])}?", "how-to"
    if first in _GERUNDS and rest:
        return f"How do I {_GERUNDS[first]} {rest}?", "how-to"
    if heading.endswith("?") and first in _QUESTION_WORDS:
        return heading, "how-to"
    topic = " ".join(_lower_word(word) for word in words).rstrip("?")
    return f"What should I know about {topic} in {project}?", "conceptual"


def _lower_word(word: str) -> str:
    """A heading's Title-Case word in running text (`Parameters` → `parameters`; `URLs`, `API` kept)."""
    return word.lower() if word[:1].isupper() and word[1:].islower() else word


def _gerund(verb: str) -> str:
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb in _DOUBLED:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def _words(text: str) -> list[str]:
    return text.split()


_DOUBLED = frozenset(_words("set get run stop plug log map ship drop wrap skip shut begin"))
_VERBS = _words("""add apply authenticate build cache call catch change check clone close commit compose
    configure
    connect create customize debug declare define delete deploy disable download embed enable
    extend filter format get handle import index install integrate load log make manage map mark
    migrate mock mount open override parse pass patch plug post profile raise read record redirect
    register remove render replace request reset retry return run save schedule search send serialize
    serve set ship skip sort start stop store stream subclass test track translate update upgrade
    upload use validate verify wrap write""")
_GERUNDS = {_gerund(verb): verb for verb in _VERBS}
_VERB_SET = frozenset(_VERBS) | frozenset(_words(
    "return returns compute convert build construct decode encode ensure find generate give iterate "
    "look merge prepare produce resolve select send split strip take tell turn yield apply"))
_QUESTION_WORDS = frozenset(_words("how what why when where which who can does do is are should"))


def _symbol_questions(index: ProjectIndex, skipped: set[str]) -> Iterator[Generated]:
    public = [symbol for symbol in index.symbols.symbols
              if symbol.kind in ("class", "function", "method") and symbol.path not in skipped
              and not (symbol.kind == "function" and "." in symbol.name)  # a function inside another
              and index.file_kinds.get(symbol.path) == "code"
              and not any(part.startswith("_") for part in symbol.name.split("."))]
    texts = {chunk.id: chunk for chunk in index.chunks(list(dict.fromkeys(s.chunk_id for s in public)))}
    for number, symbol in enumerate(public):
        chunk = texts.get(symbol.chunk_id)
        if chunk is None or not _documented(chunk, symbol.start_line):
            continue
        name = f"`{symbol.name}`"
        summary = _summary_question(chunk, symbol.start_line, symbol.kind) if number % 2 else None
        if summary:
            question, style = summary, "locate"
        elif number % 4 == 1:
            question, style = f"Where is {name} implemented?", "locate"
        elif symbol.kind == "class":
            question, style = f"What is the {name} class for?", "behaviour"
        else:
            question, style = f"What does {name} do?", "behaviour"
        end = min(symbol.end_line, symbol.start_line + MAX_GOLD_LINES - 1)
        yield Generated(question, [symbol.path], {symbol.path: (symbol.start_line, end)}, "code", style)


def _summary_question(chunk: StoredChunk, line: int, kind: str) -> str | None:
    """"Which function returns a timeout for the connect phase?" from a docstring that starts
    with a verb ("Return a timeout for the connect phase."); None for any other docstring."""
    rows = chunk.text.split("\n")
    at = line - int(chunk.metadata.get("start_line", 1))
    below = " ".join(row.strip() for row in rows[at + 1:at + 4])
    found = re.match(r'^[rRuU]?(?:"""|\'\'\')\s*(?P<verb>[A-Z][a-z]+)\s+(?P<rest>[^.!?"]{8,120})', below)
    if found is None or found.group("verb").lower() not in _VERB_SET:
        return None
    third = _third_person(found.group("verb").lower())
    what = "class" if kind == "class" else "method" if kind == "method" else "function"
    return f"Which {what} {third} {found.group('rest').strip().rstrip(',;:')}?"


def _third_person(verb: str) -> str:
    """return → returns, match → matches, apply → applies; "returns" stays."""
    if verb.endswith("s") and verb[:-1] in _VERB_SET:
        return verb
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _documented(chunk: StoredChunk, line: int) -> bool:
    """Whether the definition at `line` carries a docstring or a doc comment just above it."""
    rows = chunk.text.split("\n")
    at = line - int(chunk.metadata.get("start_line", 1))
    if not 0 <= at < len(rows):
        return False
    below = " ".join(row.strip() for row in rows[at + 1:at + 4])
    above = rows[at - 1].strip() if at > 0 else ""
    return below.startswith(('"""', "'''", 'r"""')) or '"""' in below[:80] or above.endswith(("*/", "///")) \
        or above.startswith(("///", "#", "//"))


def _option_questions(index: ProjectIndex, skipped: set[str]) -> Iterator[Generated]:
    code = [chunk_id for chunk_id, path in index.chunk_paths.items()
            if index.file_kinds.get(path) == "code" and path not in skipped]
    seen: set[str] = set()
    for chunk in index.chunks(code):
        start = int(chunk.metadata.get("start_line", 1))
        path = str(chunk.metadata.get("path", ""))
        for pattern, template, style in ((_OPTION, "What does the `{}` command-line option do?", "option"),
                                         (_ENV_VAR, "What is the `{}` environment variable used for?",
                                          "config")):
            for match in pattern.finditer(chunk.text):
                name = match.group(1)
                if name in seen:
                    continue
                seen.add(name)
                line = start + chunk.text.count("\n", 0, match.start())
                yield Generated(template.format(name), [path], {path: (line, line)}, "code", style)


def _interleave(items: list[Generated]) -> list[Generated]:
    """The items taken in turn from each style, each style in a fixed shuffled order, so that
    the first few of them already hold every kind of question."""
    rng = random.Random(0)
    by_style: dict[str, list[Generated]] = {}
    for item in items:
        by_style.setdefault(item.style, []).append(item)
    for group in by_style.values():
        rng.shuffle(group)
    taken: list[Generated] = []
    while any(by_style.values()):
        for group in by_style.values():
            if group:
                taken.append(group.pop())
    return taken


def _passages(index: ProjectIndex, settings: Settings, rng: random.Random) -> Iterator[StoredChunk]:
    """The project's passages (tests and changelogs aside) in a fixed shuffled order."""
    skipped = index.matching(settings.test_paths) | index.matching(settings.changelog_paths)
    ids = [chunk_id for chunk_id, path in index.chunk_paths.items() if path not in skipped]
    rng.shuffle(ids)
    for start in range(0, len(ids), 32):
        yield from index.chunks(ids[start:start + 32])


def _gold(index: ProjectIndex, chunk: StoredChunk, question: str, style: str) -> Generated:
    path = str(chunk.metadata.get("path", ""))
    start = int(chunk.metadata.get("start_line", 1))
    end = min(int(chunk.metadata.get("end_line", start)), start + MAX_GOLD_LINES - 1)
    return Generated(question, [path], {path: (start, end)}, index.file_kinds.get(path, "code"), style)


def read_seeds(path: Path, max_bytes: int) -> list[str]:
    """Seed questions from a question set (.jsonl) or a text file with one question per line."""
    from ragqa.evaluation import load
    from ragqa.inputs import read_text

    if path.suffix == ".jsonl":
        return [question.question for question in load(path, max_bytes).questions]
    return [line.strip() for line in read_text(path, max_bytes).splitlines() if line.strip()]
