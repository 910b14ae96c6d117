"""The lexical half of hybrid retrieval: BM25 over identifier-aware tokens, persisted per project.

Tokens: every identifier is kept whole (lower-cased) *and* split into its words, so
`should_bypass_proxies`, `getAdapter` and `requests.Session` match both the exact name and the
words a person would type ("bypass proxies", "get adapter"). Plain words are lightly stemmed
("retries", "retry" → "retri") and English stop words are dropped.

Storage: one `.npz` file per project and manifest under `storage/lexical/<collection>/`, named by
a hash of the live chunk ids, so a reader holding an older project record still finds the index
that matches it. An incremental ingest keeps the rows of unchanged chunks and tokenises only new
ones. The file is a cache of what the vector store holds: a process that lacks it (another API
replica, a wiped `storage/`) rebuilds it from the stored chunk texts.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger("ragqa.index")
TOKENIZER_VERSION = "lex-3"  # 3: the file holds the key of its chunk set
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+")
_VERSIONED = re.compile(r"\b([A-Za-z]{2,})/(\d)\b")
_WORD_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being below
between both but by can could did do does doing don done down during each either else etc even
ever every few for from further get gets got had has have having he her here hers him his how i
if in into is isn it its itself just let like may me might more most must my no nor not now of
off on once one only or other our ours out over own per same say says she should so some such
than that the their theirs them then there these they this those though through thus to too
under until up upon us use used uses using very via was we were what when where whether which
while who whom why will with within without would yes yet you your yours
""".split())  # noqa: SIM905 - a word list reads better as text
K1, B = 1.2, 0.75


def stem(word: str) -> str:
    """A light suffix stripper: plurals, -ing, -ed and a final e or y, nothing cleverer."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (("ies", "i"), ("ied", "i"), ("sses", "ss")):
        if word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if word.endswith("y") and len(word) > 3:
        word = word[:-1] + "i"
    return word


def tokenize(text: str) -> list[str]:
    """Identifier-aware BM25 tokens of `text` (used for chunks and questions alike); protocol
    versions such as HTTP/2 also give one joined token (`http2`)."""
    tokens: list[str] = []
    for match in _IDENTIFIER.finditer(text):
        tokens.extend(_identifier_tokens(match.group()))
    tokens.extend(found.group(1).lower() + found.group(2) for found in _VERSIONED.finditer(text))
    return tokens


@lru_cache(maxsize=100_000)
def _identifier_tokens(identifier: str) -> tuple[str, ...]:
    return tuple(_split_identifier(identifier))


def _split_identifier(identifier: str) -> Iterator[str]:
    parts = identifier.split(".")
    if len(parts) > 1:
        yield identifier.lower()
    for part in parts:
        words = _WORD_PART.findall(part)
        if len(words) > 1:
            yield part.lower().strip("_")
        for word in words:
            lowered = word.lower()
            if lowered not in STOP_WORDS and (len(lowered) > 1 or lowered.isdigit()):
                yield stem(lowered)


def identifiers(text: str) -> list[str]:
    """Names in `text` that look like code (dotted, snake_case, camelCase or in backticks), each as
    the index token that stands for the whole name."""
    names: list[str] = []
    quoted = set(_IDENTIFIER.findall(" ".join(re.findall(r"`([^`]+)`", text))))
    for match in _IDENTIFIER.finditer(text):
        word = match.group()
        code_shaped = "." in word or "_" in word.strip("_") or re.search(r"[a-z][A-Z]|[A-Z]{2}[a-z]{2}", word)
        tokens = tokenize(word)
        if tokens and (code_shaped or (word in quoted and not word.isdigit() and len(word) > 2)):
            names.append(tokens[0])  # the identifier whole, as the index holds it
    return list(dict.fromkeys(names))


FIELDS = ("body", "path", "symbol", "heading")
FieldWeights = dict[str, float]
DEFAULT_FIELD_WEIGHTS: FieldWeights = {"body": 1.0, "path": 1.0, "symbol": 1.0, "heading": 1.0}


@dataclass(frozen=True)
class LexicalDoc:
    """What BM25 reads of one chunk: its id, where it lives and its text."""

    id: str
    text: str
    path: str = ""
    symbol: str = ""
    heading: str = ""

    def fields(self) -> dict[str, list[str]]:
        """Tokens per field. The body holds the location too, so that a term's document
        frequency (its idf) counts every field; the other fields add weight where they match."""
        label = " ".join(part for part in (self.path, self.symbol, self.heading) if part)
        return {"body": tokenize(f"{label}\n{self.text}"), "path": tokenize(self.path),
                "symbol": tokenize(self.symbol), "heading": tokenize(self.heading)}


@dataclass
class _Field:
    """One field of every row as sparse term counts (CSR), with its postings for queries."""

    indptr: npt.NDArray[np.int64]
    terms: npt.NDArray[np.int32]
    counts: npt.NDArray[np.float32]

    PREPARED = ("norm", "posting_rows", "posting_counts", "posting_ptr")

    def prepare(self, vocabulary_size: int) -> None:
        if all(hasattr(self, name) for name in self.PREPARED):  # read from the saved file
            return
        rows = len(self.indptr) - 1
        row_of = np.repeat(np.arange(rows, dtype=np.int32), np.diff(self.indptr))
        length = np.bincount(row_of, weights=self.counts, minlength=rows)
        average = float(length.mean()) if rows and length.any() else 1.0
        self.norm = (1 - B + B * length / max(average, 1e-9)).astype(np.float64)
        order = np.argsort(self.terms, kind="stable")
        self.posting_rows = row_of[order]
        self.posting_counts = self.counts[order].astype(np.float64)
        self.posting_ptr = np.searchsorted(self.terms[order], np.arange(vocabulary_size + 1))

    def postings(self, column: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
        """Rows holding the term, and its length-normalised count in each."""
        if column + 1 >= len(self.posting_ptr):
            return np.zeros(0, np.int32), np.zeros(0, np.float64)
        start, end = self.posting_ptr[column], self.posting_ptr[column + 1]
        rows = self.posting_rows[start:end]
        return rows, self.posting_counts[start:end] / self.norm[rows]

    def row(self, row: int) -> npt.NDArray[np.int32]:
        return self.terms[self.indptr[row]:self.indptr[row + 1]]

    def rows(self) -> list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]]:
        bounds = zip(self.indptr[:-1], self.indptr[1:], strict=True)
        return [(self.terms[start:end], self.counts[start:end]) for start, end in bounds]

    @classmethod
    def of(cls, rows: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]]) -> _Field:
        lengths = np.array([len(terms) for terms, _ in rows], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        terms = np.concatenate([t for t, _ in rows]) if rows else np.zeros(0, np.int32)
        counts = np.concatenate([c for _, c in rows]) if rows else np.zeros(0, np.float32)
        return cls(indptr, terms.astype(np.int32), counts.astype(np.float32))


class LexicalIndex:
    """BM25F over a fixed set of chunks: rows are chunks, each with a body (location and text)
    and the fields path, symbol and heading, whose matches can be weighted apart."""

    def __init__(self, ids: Sequence[str], vocabulary: Sequence[str], fields: dict[str, _Field]) -> None:
        self.ids = list(ids)
        self.rows = {chunk_id: row for row, chunk_id in enumerate(self.ids)}
        self.vocabulary = list(vocabulary)
        self.term_ids = {term: column for column, term in enumerate(self.vocabulary)}
        self.fields = fields
        for field in fields.values():
            field.prepare(len(self.vocabulary))
        body = fields["body"]
        document_frequency = np.diff(body.posting_ptr).astype(np.float64)
        rows = len(self.ids)
        self.idf = np.log(1 + (rows - document_frequency + 0.5) / (document_frequency + 0.5))
        self.unseen_idf = float(np.log(1 + (rows + 0.5) / 0.5))
        self.postings_saved = False  # whether its file holds the postings (else saved again)

    @classmethod
    def build(cls, docs: Iterable[LexicalDoc], base: LexicalIndex | None = None,
              keep: set[str] | None = None) -> LexicalIndex:
        """An index of `base`'s rows whose ids are in `keep`, plus `docs` (tokenised here)."""
        term_ids = dict(base.term_ids) if base else {}
        ids: list[str] = []
        rows: dict[str, list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]]] = {
            name: [] for name in FIELDS}
        if base is not None:
            old_rows = {name: base.fields[name].rows() for name in FIELDS}
            for row, chunk_id in enumerate(base.ids):
                if keep is None or chunk_id in keep:
                    ids.append(chunk_id)
                    for name in FIELDS:
                        rows[name].append(old_rows[name][row])
        for doc in docs:
            ids.append(doc.id)
            for name, tokens in doc.fields().items():
                counted = Counter(tokens)
                columns = [term_ids.setdefault(term, len(term_ids)) for term in counted]
                rows[name].append((np.array(columns, dtype=np.int32),
                                   np.array(list(counted.values()), dtype=np.float32)))
        return cls(ids, list(term_ids), {name: _Field.of(rows[name]) for name in FIELDS})

    def __len__(self) -> int:
        return len(self.ids)

    def term_idf(self, term: str) -> float:
        """How rare `term` is; a term no chunk holds is as rare as can be."""
        column = self.term_ids.get(term)
        return self.unseen_idf if column is None else float(self.idf[column])

    def has_term(self, term: str) -> bool:
        column = self.term_ids.get(term)
        return column is not None and self.idf[column] < self.unseen_idf - 1e-9

    def document_frequency(self, term: str) -> int:
        """How many chunks hold `term`."""
        column = self.term_ids.get(term)
        if column is None:
            return 0
        ptr = self.fields["body"].posting_ptr
        return int(ptr[column + 1] - ptr[column])

    def scores(self, query: str | Counter[str],
               weights: FieldWeights | None = None) -> npt.NDArray[np.float64]:
        """The BM25F score of every row for `query` (text, or its tokens counted); zero where no
        query term occurs. `weights` weigh a match in each field (body 1 by default)."""
        terms = Counter(tokenize(query)) if isinstance(query, str) else query
        weights = weights or DEFAULT_FIELD_WEIGHTS
        scores = np.zeros(len(self.ids), dtype=np.float64)
        for term, count in terms.items():
            column = self.term_ids.get(term)
            if column is None:
                continue
            found = [self.fields[name].postings(column) for name in FIELDS if weights.get(name)]
            factors = [weights[name] for name in FIELDS if weights.get(name)]
            rows = np.concatenate([r for r, _ in found])
            if not len(rows):
                continue
            values = np.concatenate([f * v for f, (_, v) in zip(factors, found, strict=True)])
            touched, inverse = np.unique(rows, return_inverse=True)
            weighted = np.bincount(inverse, weights=values)
            scores[touched] += count * self.idf[column] * weighted * (K1 + 1) / (weighted + K1)
        return scores

    def holding_all(self, terms: Iterable[str], limit: int) -> list[str]:
        """Up to `limit` chunk ids whose body holds every one of `terms` (none when a term is
        unknown); the rarest terms narrow the set first."""
        columns = []
        for term in set(terms):
            column = self.term_ids.get(term)
            if column is None:
                return []
            columns.append(column)
        if not columns:
            return []
        body = self.fields["body"]
        columns.sort(key=lambda column: body.posting_ptr[column + 1] - body.posting_ptr[column])
        rows = body.postings(columns[0])[0]
        for column in columns[1:]:
            rows = np.intersect1d(rows, body.postings(column)[0], assume_unique=True)
            if not len(rows):
                return []
        return [self.ids[row] for row in rows[:limit]]

    def chunk_terms(self, chunk_ids: Iterable[str]) -> set[str]:
        """Every term of these chunks (their location labels included)."""
        terms: set[str] = set()
        body = self.fields["body"]
        for chunk_id in chunk_ids:
            row = self.rows.get(chunk_id)
            if row is not None:
                terms.update(self.vocabulary[column] for column in body.row(row))
        return terms

    def save(self, path: Path) -> None:
        """Write atomically: readers see the old file or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        arrays = {f"{name}_{part}": getattr(field, part) for name, field in self.fields.items()
                  for part in ("indptr", "terms", "counts", *_Field.PREPARED)}
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, ids=np.array(self.ids, dtype=str), key=np.array(manifest_key(self.ids)),
                         vocabulary=np.array(self.vocabulary, dtype=str), **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, key: str) -> LexicalIndex:
        """Read an index file, checking that it is whole (zip CRCs) and is the index of the
        chunks `key` names (a file copied from elsewhere is not)."""
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as data:
            if str(data["key"]) != key:
                raise ValueError("it indexes another set of chunks")
            fields = {name: _Field(data[f"{name}_indptr"], data[f"{name}_terms"], data[f"{name}_counts"])
                      for name in FIELDS}
            vocabulary = data["vocabulary"].tolist()
            for name, field in fields.items():  # the postings as saved (older files: computed here)
                if all(f"{name}_{part}" in data.files for part in _Field.PREPARED):
                    for part in _Field.PREPARED:
                        setattr(field, part, data[f"{name}_{part}"])
                    if len(field.posting_ptr) != len(vocabulary) + 1 or \
                            len(field.norm) != len(field.indptr) - 1:
                        raise ValueError("its postings do not fit its vocabulary")
            index = cls(data["ids"].tolist(), vocabulary, fields)
            index.postings_saved = all(f"{name}_{part}" in data.files for name in FIELDS
                                       for part in _Field.PREPARED)
            return index


class CollectionFiles:
    """A derived cache kept as one file per manifest in one folder per collection (the keyword
    index, the code graph): its files are named by the manifest they were built for (`path`),
    and those of manifests no reader holds any more are pruned."""

    suffix = ""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, collection: str, live_ids: Iterable[str]) -> Path:
        return self.root / collection / f"{manifest_key(live_ids)}{self.suffix}"

    def prune(self, collection: str, keep: Sequence[set[str]]) -> None:
        """Delete this collection's files except those of the manifests in `keep`."""
        wanted = {self.path(collection, ids).name for ids in keep}
        folder = self.root / collection
        for path in folder.glob("*") if folder.exists() else []:
            if path.name not in wanted:
                path.unlink(missing_ok=True)

    def drop(self, collection: str) -> None:
        """Delete every file of a collection."""
        shutil.rmtree(self.root / collection, ignore_errors=True)


class LexicalStore(CollectionFiles):
    """The persisted lexical indexes of all projects, one folder per collection."""

    suffix = ".npz"

    def load(self, collection: str, live_ids: set[str]) -> LexicalIndex | None:
        """The saved index of exactly these chunks; None when there is none. A damaged file
        (truncated, corrupt, foreign) is reported in one line and removed, to be rebuilt."""
        path = self.path(collection, live_ids)
        try:
            if not path.exists():
                if path.is_symlink():  # dangling, or a loop
                    raise FileNotFoundError("it is a link to nowhere")
                return None
            index = LexicalIndex.load(path, manifest_key(live_ids))
        except Exception as error:  # any damage: the file is a cache, rebuilt from the store
            log.warning("lexical index %s is damaged (%s); rebuilding it from the vector store",
                        path, _describe(error))
            _remove(path)
            return None
        if not index.postings_saved:  # written by an older ragqa: save the postings for next time
            with contextlib.suppress(OSError):
                index.save(path)
        return index

    def update(self, collection: str, live_ids: set[str], new_docs: dict[str, LexicalDoc],
               base_ids: set[str] | None,
               fetch: Callable[[list[str]], list[LexicalDoc]]) -> LexicalIndex:
        """Write the index for `live_ids`, reusing the index of `base_ids` (the previous manifest).

        Chunk texts come from `new_docs` (just chunked) or, for chunks neither there nor in the
        base index, from `fetch` (the vector store).
        """
        existing = self.load(collection, live_ids)
        if existing is not None:
            return existing
        base = self.load(collection, base_ids) if base_ids else None
        known = set(base.ids) & live_ids if base else set()
        missing = [chunk_id for chunk_id in sorted(live_ids - known) if chunk_id not in new_docs]
        docs = [new_docs[chunk_id] for chunk_id in sorted(live_ids - known) if chunk_id in new_docs]
        docs.extend(fetch(missing) if missing else [])
        index = LexicalIndex.build(docs, base, live_ids)
        try:
            self._make_room(collection)
            index.save(self.path(collection, live_ids))
        except OSError as error:  # a cache that cannot be written: answer from memory, say why once
            log.warning("lexical index %s cannot be written (%s); using it from memory",
                        self.path(collection, live_ids), _describe(error))
        return index

    def _make_room(self, collection: str) -> None:
        """Whatever is in the place of the index folders and is not a folder (a file, a broken
        link) is removed, saying so: the folders hold caches only."""
        for folder in (self.root, self.root / collection):
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                log.warning("lexical index folder %s is not a folder; replacing it", folder)
                _remove(folder)



def _remove(path: Path) -> None:
    """Delete a damaged cache entry, whatever it is (a file, a link, a folder in a file's place)."""
    with contextlib.suppress(OSError):  # what cannot be removed fails the write after, named there
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _describe(error: Exception) -> str:
    text = " ".join(str(error).split())[:120]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def manifest_key(live_ids: Iterable[str]) -> str:
    """Names the index of exactly these chunks (and this tokenizer)."""
    digest = hashlib.sha1(TOKENIZER_VERSION.encode(), usedforsecurity=False)
    for chunk_id in sorted(live_ids):
        digest.update(chunk_id.encode())
    return digest.hexdigest()[:20]
