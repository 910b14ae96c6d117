"""Which projects a question to many of them (`*`, a list) is searched in: the likely ones only.

Full hybrid retrieval costs a few milliseconds per project, so a question to an organisation's
200 projects would cost a second. Each project is first asked three cheap things: its best
vector similarity to the question (`VectorIndex.best`, on the projected vectors), how much of
the question's words it holds (their idf summed), and whether it defines a code name the
question gives. Only the `all_projects_fanout` best by similarity, as many by words, and as
many of those defining a named symbol (the most similar first) are then searched in full and
merged (`ragqa.answer.answerer.merge_projects`). Projects not held in memory (above
`memory_search_max_chunks`) cannot be asked cheaply and are always searched. A fan-out of 0,
or no more projects than it, searches every project as before.

What it costs is measured against searching every project (docs/scale.md, "An organisation's
scale"): the share of the full fan-out's top passages the routed one keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ragqa.index.vectors import unit
from ragqa.query import Query
from ragqa.retrieve.project import ProjectIndex
from ragqa.settings import Settings

VectorFor = Callable[[ProjectIndex], Sequence[float]]  # the question's vector in a project's space


def route(indexes: Sequence[ProjectIndex], query: Query, vector_for: VectorFor,
          settings: Settings) -> list[ProjectIndex]:
    """The projects worth searching in full, in their given order."""
    fanout = settings.all_projects_fanout
    if fanout <= 0 or len(indexes) <= fanout:
        return list(indexes)
    dense = [_best_similarity(index, vector_for) for index in indexes]
    lexical = [_lexical_match(index, query) for index in indexes]
    definers = [dense[place] + 1 if _defines(index, query) else 0.0 for place, index in enumerate(indexes)]
    chosen = set(_top(dense, fanout)) | set(_top(lexical, fanout)) | set(_top(definers, fanout))
    chosen |= {place for place, index in enumerate(indexes) if index.memory is None}
    return [index for place, index in enumerate(indexes) if place in chosen]


def _best_similarity(index: ProjectIndex, vector_for: VectorFor) -> float:
    if index.memory is None or not index.memory.ids:
        return 0.0
    return index.memory.search.best(unit(vector_for(index)))


def _lexical_match(index: ProjectIndex, query: Query) -> float:
    """How much of the question the project's words hold: the idf of each question term it has,
    summed (dictionary look-ups only; scoring every chunk with BM25 cost as much as the search
    it is meant to save). A project holding the question's rare words ranks first."""
    lexical = index.lexical
    return sum(lexical.term_idf(term) for term in query.terms if lexical.has_term(term))


def _defines(index: ProjectIndex, query: Query) -> bool:
    return any(index.symbols.find(name, False) for name in query.names)


def _top(values: Sequence[float], count: int) -> list[int]:
    """Places of the `count` highest positive values."""
    order = np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")[:count]
    return [int(place) for place in order if values[place] > 0]
