"""A question, read once: its search terms, the code names it mentions and what kind of answer
it wants.

Every later stage — retrieval, confidence, the choice of lines to quote — reads this `Query`
instead of the raw string, so the question is tokenised in one place only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from ragqa.index.lexical import identifiers, tokenize
from ragqa.report import Report, looks_like_report, quoted_messages, read_report


class Intent(StrEnum):
    """What a question asks for, read from its form.

    - `usage`: how to do something with the project ("How do I set a timeout?") — docs first;
    - `locate`: where something is ("Where are redirects followed?") — the defining code first;
    - `behaviour`: what some code does ("What does `raise_for_status` raise?") — code first;
    - `explain`: why something is so ("Why is my POST turned into a GET?");
    - `other`: none of these.
    """

    USAGE = "usage"
    LOCATE = "locate"
    BEHAVIOUR = "behaviour"
    EXPLAIN = "explain"
    OTHER = "other"


_LOCATE = re.compile(
    r"^\W*(where\b|which (file|module|class|function|method|part|code|tests?|package|crate|struct|"
    r"interface|trait)\b|in which\b|what file\b)"
    r"|\b(is|are) (it |they )?(implemented|defined|declared|located|handled)\b"
    r"|\b(implementation|source code) of\b", re.IGNORECASE)
_USAGE = re.compile(
    r"^\W*(how (do|can|should|would|could|to|might) (i|we|you|one)?\b|how to\b|can i\b|could i\b|"
    r"is (it|there a way) (possible )?to\b|what'?s the (best|right|recommended|easiest) way\b|"
    r"what is the (best|right|recommended|easiest) way\b|show me\b|i (want|need|would like) to\b|"
    r"is there an? (example|way)\b|give me an example\b)"
    r"|\bexample of\b", re.IGNORECASE)
_EXPLAIN = re.compile(r"^\W*(why\b|what('?s| is) the difference\b|explain\b|what('?s| is) the "
                      r"(point|purpose|reason)\b)", re.IGNORECASE)
_BEHAVIOUR = re.compile(
    r"^\W*(what (does|do|did|happens|exception|error|errors|exceptions)\b|how (does|do|is|are) "
    r"(?!i\b|we\b|you\b)|when (does|do|is)\b|does\b|do\b|is\b|are\b|if\b|which (exception|error)s?\b)",
    re.IGNORECASE)


class Form(StrEnum):
    """The form of answer a question asks for, which sets the answer's lead sentence.

    - `what`: what something does or is ("What does `timeout_keep_alive` do?") — from its definition;
    - `yes_no`: "Does/can/is …?" — yes or no first, when the evidence says so;
    - `how`: how to do something ("How do I enable HTTPS?") — the steps;
    - `where`: where something is ("Where are redirects followed?") — the place;
    - `other`: none of these.
    """

    WHAT = "what"
    YES_NO = "yes_no"
    HOW = "how"
    WHERE = "where"
    OTHER = "other"


_WHAT = re.compile(r"^\W*(what('?s| is| are| does| do)\b(?!.*\b(difference|way)\b)|what\W*$)", re.IGNORECASE)
_YES_NO = re.compile(r"^\W*(does|do|can|could|is|are|will|would|has|have|should)\b", re.IGNORECASE)
_LEADING_CLAUSE = re.compile(r"^\W*(after|when|if|once|while|before|in|for|with|on|using)\b[^,?.;]{0,80},\s*",
                             re.IGNORECASE)
# Asking about the project's own tests, not about testing one's code with the project.
_OWN_TESTS = re.compile(
    r"\b(test suite|unit tests? (for|of|that)|tests? (for|of|that|which) (the |this )?"
    r"(?!my\b|our\b|your\b|an?\b|it\b|them\b)\w+|test cases?|is (it|this|that) tested|which tests?|"
    r"where are the tests|tests? cover)",
    re.IGNORECASE)
# Asking how to test one's own code with the project ("How do I test my routes?").
_TESTING = re.compile(r"\b(test|tests|testing|tested|unit[- ]?tests?|mock|mocks|mocking|stub)\b",
                      re.IGNORECASE)
_CHANGES = re.compile(r"\bchangelog|\bhistory\b|\brelease notes?\b|\bchanged in\b|\bchanges? in "
                      r"(version|v?\d)|\bwhat('?s| is) new\b|\bdeprecat|\bupgrad|\bmigrat", re.IGNORECASE)
_PROPER_NOUN = re.compile(r"(?<![\w./-])([A-Z][a-z]{2,}|[A-Z]{2,6})s?(?![\w/.(-]|\.\w)")
_CAP_WORD = re.compile(r"\b[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*\b")
_CODE_NAME = re.compile(r"`([^`]+)`|\b[A-Za-z_]\w*(?:(?:::|#)[A-Za-z_]\w*)+"
                        r"|\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b"
                        r"|\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b[a-z]+[A-Z][A-Za-z0-9]*\b"
                        r"|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b"
                        r"|(?<![\w-])--?[a-z][a-z0-9-]+\b")
_USAGE_NAME = r"`?(?P<name>[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*)(?:\(\))?`?"
_LIST = r"^\W*(?:(?:list|show|find)\s+(?:me\s+)?)?(?:all\s+)?(?:the\s+)?"
_WHO = r"(?:what|who|which (?:functions?|methods?|code|places?|classes?|files?))"
# "where is X used", "what calls Y", "what does X call": answered from the code graph.
USAGE_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (relation, re.compile(pattern, re.IGNORECASE)) for relation, pattern in (
        ("callers", rf"^\W*{_WHO}\s+(?:calls?|invokes?)\s+{_USAGE_NAME}\W*$"),
        ("callers", rf"{_LIST}callers\s+of\s+{_USAGE_NAME}\W*$"),
        ("callees", rf"^\W*what\s+(?:functions?\s+|methods?\s+)?(?:does|do)\s+{_USAGE_NAME}\s+call\W*$"),
        ("callees", rf"{_LIST}callees\s+of\s+{_USAGE_NAME}\W*$"),
        ("references", rf"^\W*where\s+(?:is|are)\s+{_USAGE_NAME}\s+(?:used|called|referenced|invoked)\W*$"),
        ("references", rf"^\W*{_WHO}\s+uses?\s+{_USAGE_NAME}\W*$"),
        ("references", rf"{_LIST}(?:usages?|uses|references)\s+(?:of|to)\s+{_USAGE_NAME}\W*$"),
    ))
# Words that say nothing about what a question is about ("how does it work?").
GENERIC_TERMS = frozenset(tokenize(
    "work works working help thing things stuff project code library package tool app module "
    "anything something everything tell know show explain question questions info information "
    "started start begin overview intro introduction good best way need want doc docs "
    "documentation hello thanks please feature features support supported make makes made making "
    "use uses used using get gets getting got create creates add adds run runs running vs versus "
    "like via whose"))


@dataclass(frozen=True)
class Query:
    """A parsed question."""

    text: str
    terms: Counter[str]  # BM25 tokens with their counts
    names: tuple[str, ...]  # code names as written: `Session.request`, connect_timeout, --verbose
    capitalised: tuple[str, ...]  # words that may name a class: Timeout, HTTPAdapter
    identifier_terms: tuple[str, ...]  # the index tokens that stand for those names whole
    intent: Intent
    about_tests: bool  # asks about the project's own test suite
    about_testing: bool  # asks how to test one's code (the project's own tests are not the answer)
    about_changes: bool  # asks about changelogs, release notes, deprecations
    yes_no: bool  # "Does it support …?", "Is there a built-in …?", "Can it …?"
    report: Report | None = None  # a pasted issue, traceback or log, read part by part
    messages: tuple[str, ...] = ()  # error or log messages a short question quotes
    locating: bool = False  # asks where to change the code (`locate`), not for an answer
    usage: tuple[str, str] | None = None  # ("callers" | "callees" | "references", name) from the graph

    @classmethod
    def parse(cls, text: str, read_reports: bool = True, always_report: bool = False) -> Query:
        """Read `text`; a pasted issue, traceback or log (`looks_like_report`, or any text when
        `always_report`) is also read as a `Report`, and then only its title decides whether it
        is about tests or changes. Text that is not Unicode (a lone surrogate such as `\ud800`,
        which JSON can carry) has it replaced by `?`: tokenizers and embedders refuse it."""
        text = text.encode("utf-8", "replace").decode("utf-8")
        as_report = read_reports and (always_report or looks_like_report(text))
        report = read_report(text) if as_report else None
        about = report.title if report is not None else text
        terms = Counter(tokenize(text))
        return cls(text=text, terms=terms, names=code_names(text), capitalised=_capitalised(text),
                   identifier_terms=tuple(identifiers(text)),
                   intent=_intent(text), about_tests=bool(_OWN_TESTS.search(about)),
                   about_testing=bool(_TESTING.search(about)) and not _OWN_TESTS.search(about),
                   about_changes=bool(_CHANGES.search(about)), yes_no=bool(_YES_NO.match(text)),
                   report=report, messages=quoted_messages(text) if report is None else (),
                   locating=always_report, usage=usage_question(text) if report is None else None)

    @property
    def content_terms(self) -> set[str]:
        """Terms that say what the question is about (generic words like "work" left out)."""
        return {term for term in self.terms if term not in GENERIC_TERMS and not term.isdigit()}

    @property
    def form(self) -> Form:
        """The form of answer asked for (see `Form`): "where" first, then "what does X do", then
        yes/no (a "Can I …?" is answered yes or no first too), then how-to."""
        if self.intent is Intent.LOCATE:
            return Form.WHERE
        if _WHAT.match(_LEADING_CLAUSE.sub("", self.text, count=1)):
            return Form.WHAT
        if self.yes_no:
            return Form.YES_NO
        return Form.HOW if self.intent is Intent.USAGE else Form.OTHER

    @property
    def proper_nouns(self) -> tuple[str, ...]:
        """Words that name a product or a standard: capitalised words of prose (`Salesforce`,
        `Kubernetes`, not a sentence's first word, not a CamelCase code name) and acronyms
        (`SMS`, `QUIC`)."""
        return _proper_nouns(self.text)

    @property
    def words(self) -> frozenset[str]:
        """The question's content words as written, lowercased and unstemmed (`https` stays
        apart from `http`): what a heading must hold to match the question exactly."""
        return _words(self.text)

    @property
    def vague(self) -> bool:
        """Too vague to search for: no code name and no word with a subject ("help", "how does
        it work?")."""
        return not self.names and not self.content_terms


def usage_question(text: str) -> tuple[str, str] | None:
    """("callers", "Session.send") for "What calls `Session.send`?", likewise "callees" for
    "What does X call?" and "references" for "Where is X used?"; None for other questions."""
    if len(text) > 200:
        return None
    for relation, pattern in USAGE_QUESTIONS:
        found = pattern.match(text.strip())
        if found:
            return relation, found.group("name")
    return None


def _intent(text: str) -> Intent:
    """The intent of the question's main clause (a leading "After a redirect," is skipped)."""
    clause = _LEADING_CLAUSE.sub("", text, count=1)
    for intent, pattern in ((Intent.LOCATE, _LOCATE), (Intent.USAGE, _USAGE),
                            (Intent.EXPLAIN, _EXPLAIN), (Intent.BEHAVIOUR, _BEHAVIOUR)):
        if pattern.search(text) or (clause != text and pattern.search(clause)):
            return intent
    return Intent.OTHER


@lru_cache(maxsize=256)
def _proper_nouns(text: str) -> tuple[str, ...]:
    prose = re.sub(r"`[^`]*`", " ", text)
    sentence_starts = {found.end() for found in re.finditer(r"(^|[.?!:]\s+)\W*", prose)}
    found = [match.group(1) for match in _PROPER_NOUN.finditer(prose)
             if match.start() not in sentence_starts or match.group(1).isupper()]
    return tuple(dict.fromkeys(found))


@lru_cache(maxsize=256)
def _words(text: str) -> frozenset[str]:
    return frozenset(word for word in re.findall(r"[a-z0-9]+", text.lower())
                     if (stems := tokenize(word)) and stems[0] not in GENERIC_TERMS and not word.isdigit())


def code_names(text: str) -> tuple[str, ...]:
    """Code names in the question as written: backticked, dotted, snake_case, camelCase,
    UPPER_CASE (constants and error codes: `FST_ERR_ROUTE_MISSING_CONTENT_TYPE`), Rust and
    Javadoc paths (`Walker::new`, `Gson#toJson`) and --options (the first name inside
    backticks: `Session(http2=True)` → Session)."""
    found: list[str] = []
    for match in _CODE_NAME.finditer(text):
        quoted = match.group(1)
        if quoted is None:
            found.append(match.group())
            continue
        if len(quoted.split()) >= 3 and "(" not in quoted:
            continue  # words in backticks: a message or a command, not a name
        found.extend(re.findall(r"--?[A-Za-z][\w-]*|[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::|#)[A-Za-z_][A-Za-z0-9_]*)*",
                                quoted)[:1])
    return tuple(dict.fromkeys(name for name in found if len(name) > 1))


def _capitalised(text: str) -> tuple[str, ...]:
    """Capitalised words that may name a class (`Timeout`, `HTTPAdapter`), not counting a
    sentence's first word unless it has inner capitals."""
    sentence_starts = {found.end() for found in re.finditer(r"(^|[.?!]\s+)", text)}
    words = [found.group() for found in _CAP_WORD.finditer(text)
             if found.start() not in sentence_starts or sum(c.isupper() for c in found.group()) > 1]
    return tuple(dict.fromkeys(words))
