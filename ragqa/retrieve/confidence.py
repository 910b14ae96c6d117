"""How sure retrieval is that its passages answer the question — the abstention decision.

Signals, each in [0, 1]:
- `similarity`: the best cosine similarity between the question and a chunk;
- `coverage`: the share of the question's terms (weighted by rarity) found in the top passages —
  a generic word ("make", "use", "work") that occurs nowhere in the project is left out: on a
  project whose code says `MarkFlagRequired`, "How do I make a flag required?" lost a third of
  its coverage to "make" alone;
- `unknown_names`: code names in the question that occur nowhere in the project (`torch.compile`
  asked of an HTTP library): 0 for none, 0.5 for one, 1 for two or more — counted only when the
  question names no more of the project's own names (compound names it has, names it defines)
  than others: users' questions carry their own variables, files and URLs (`c.Request.Body`
  beside `reqBody`, `train.py`), and beside more of the project's names, the others are the
  asker's; file, host and URL names never count. `requests.Session(http2=True)` (one of the
  project's, one not) is still a gap;
- `unknown_terms`: 1 when a plain word that says what the question is about ("QUIC", "SMTP",
  "limiter") occurs nowhere in the project: a capability the project never mentions is one it
  does not have. It weighs more in a yes/no question ("Does it support HTTP/3?"), where that
  word is the whole point, than in a how-to, where it is often an incidental word;
- `unknown_product`: 1 when the question names a product or standard (a capitalised word of
  prose or an acronym: "Salesforce", "Kubernetes", "SMS") that occurs nowhere in the project.
  An incidental lowercase word may be missing from a project that answers the question (users
  say "shut down" where the docs say "shutdown"), a product's name hardly ever: a question about
  one the project never mentions is about something else. CamelCase words are left out (they
  are code names, often the asker's own).

`confidence = (similarity + coverage) / 2 − unknown_names / 2 − unknown_terms × (0.15 for a
yes/no question, else 0.05) − unknown_product × 0.1`; below `RAGQA_MIN_CONFIDENCE` the answer is
"Hmm, I'm not sure."
A pasted report (`ragqa.report`) is judged otherwise: `(similarity + max(coverage, evidence)) / 2`,
where `evidence` is the strongest clue (a traceback frame, a raised message, a named
definition) among the top passages — its many unknown names are the reporter's, not gaps — and
its coverage is the better of its whole text's and its head's (title and first paragraph: what
it asks; the pasted code and logs dilute the whole).

The weights and the threshold come from the question sets in `bench/questions` and the dev set
(docs/quality.md), the anchoring rule and the report's head from the tune half of the real users'
sets (`bench/questions/real`): every unanswerable question there scores below it, and all but a
few of the answerable ones above.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragqa.index.lexical import LexicalIndex, tokenize
from ragqa.query import GENERIC_TERMS, Query
from ragqa.retrieve.evidence import Evidence
from ragqa.retrieve.passages import Passage
from ragqa.retrieve.project import ProjectIndex

COVERAGE_SOURCES = 3
# a file, host or URL a question names is the asker's (`train.py`, `server.log`, `example.com`)
_ASKERS_OWN = re.compile(r"\.(py|js|ts|go|rs|java|log|txt|json|ya?ml|toml|xml|html?|tmpl|tpl|png|jpe?g|"
                         r"gif|svg|md|rst|cfg|ini|sh|env|csv)$|^www\.|\.(com|org|net|io|dev)$")
YES_NO_UNKNOWN_TERM, UNKNOWN_TERM, UNKNOWN_PRODUCT = 0.15, 0.05, 0.1


@dataclass(frozen=True)
class Confidence:
    """One confidence in [0, 1], the signals behind it, and whether the question was too vague
    to search for at all."""

    value: float
    signals: dict[str, float]
    vague: bool = False


def assess(project: ProjectIndex, query: Query, passages: Sequence[Passage],
           best_similarity: float, evidence: Evidence | None = None) -> Confidence:
    """The confidence that `passages` answer `query` (see the module docstring)."""
    if query.report is not None and evidence is not None:
        return _assess_report(project, query, passages, best_similarity, evidence)
    lexical = project.lexical
    # a generic word the project never uses ("make" asked of Go code that says "Mark") says nothing
    terms = {term for term in query.terms if term not in GENERIC_TERMS or lexical.has_term(term)}
    found = lexical.chunk_terms(chunk_id for passage in passages[:COVERAGE_SOURCES]
                                for chunk_id in passage.chunk_ids)
    names = [term for term in query.identifier_terms if not _ASKERS_OWN.search(term)]
    unknown_names = [term for term in names if not lexical.has_term(term)]
    if len(unknown_names) < len(_anchors(project, names)):
        unknown_names = []  # more of the project's own names than others: the others are the asker's
    content = query.content_terms - set(query.identifier_terms)
    signals = {
        "similarity": round(best_similarity, 4),
        "coverage": round(_coverage(lexical, terms, found), 4),
        "unknown_names": min(len(unknown_names), 2) / 2,
        "unknown_terms": 1.0 if any(not lexical.has_term(term) for term in content) else 0.0,
        "yes_no": 1.0 if query.yes_no else 0.0,
        "unknown_product": 1.0 if any(_unknown(project, noun) for noun in query.proper_nouns) else 0.0,
    }
    return Confidence(combine(signals), signals, vague=query.vague)


def _assess_report(project: ProjectIndex, query: Query, passages: Sequence[Passage],
                   best_similarity: float, evidence: Evidence) -> Confidence:
    """A pasted report names many things the project never heard of (the reporter's variables,
    other libraries): what counts is whether its evidence — a frame, a message the code
    raises, a name it defines — lands in the top passages."""
    top_ids = [chunk_id for passage in passages[:COVERAGE_SOURCES] for chunk_id in passage.chunk_ids]
    strongest = max((evidence.chunks.get(chunk_id, 0.0) for chunk_id in top_ids), default=0.0)
    files = {passage.path for passage in passages[:COVERAGE_SOURCES]}
    strongest = max([strongest, *(evidence.files.get(path, 0.0) for path in files)])
    lexical = project.lexical
    found = lexical.chunk_terms(top_ids)
    head = query.report.parts(1)[0] if query.report is not None else query.text
    signals = {"similarity": round(best_similarity, 4), "evidence": round(strongest, 4),
               "coverage": round(max(_coverage(lexical, set(query.terms), found),
                                     _coverage(lexical, set(tokenize(head)), found)), 4)}
    raw = 0.5 * signals["similarity"] + 0.5 * max(signals["coverage"], signals["evidence"])
    return Confidence(round(min(1.0, max(0.0, raw)), 4), signals)


def _unknown(project: ProjectIndex, word: str) -> bool:
    """Whether no token of `word` occurs in the project."""
    tokens = tokenize(word)
    return bool(tokens) and not any(project.lexical.has_term(token) for token in tokens)


def _anchors(project: ProjectIndex, names: Sequence[str]) -> list[str]:
    """The names that are the project's own: compound names it has (`c.request`, `connect_only`)
    or names it defines — not a word of code such as `True` that any project has."""
    return [name for name in names if project.lexical.has_term(name)
            and ("." in name or "_" in name or project.symbols.find(name))]


def _coverage(lexical: LexicalIndex, terms: set[str], found: set[str]) -> float:
    """The share of `terms`, weighted by rarity, that `found` holds."""
    total = sum(lexical.term_idf(term) for term in terms)
    return sum(lexical.term_idf(term) for term in terms & found) / total if total else 0.0


def combine(signals: dict[str, float]) -> float:
    """One confidence in [0, 1] from the signals (see the module docstring)."""
    unknown_term_weight = YES_NO_UNKNOWN_TERM if signals["yes_no"] else UNKNOWN_TERM
    raw = (0.5 * signals["similarity"] + 0.5 * signals["coverage"] - 0.5 * signals["unknown_names"]
           - unknown_term_weight * signals["unknown_terms"]
           - UNKNOWN_PRODUCT * signals.get("unknown_product", 0.0))
    return round(min(1.0, max(0.0, raw)), 4) if not math.isnan(raw) else 0.0
