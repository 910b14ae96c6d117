"""Nearest-neighbour search over one project's vectors held in memory: exact, or a projected scan.

- **exact**: the whole float32 matrix times the question's vector (one BLAS call): always right,
  and its cost grows with the project (about 15 ms for 60,000 chunks on the 2-core machine).
- **projected**: a first pass over the vectors projected on their leading principal directions
  (`PROJECTED_DIMS` of 384: a sixth of the bytes), then the best `RESCORED` candidates scored
  again exactly. The similarities returned are exact; only a chunk the first pass ranks below
  the candidates can be missed (recall against exact search is measured in docs/scale.md).

Why a projection rather than int8 codes: numpy has no fast integer matrix product (an int8 scan
of 1M × 384 took longer than the float32 one on this machine), while a float32 projection runs
on BLAS and reads as few bytes as int8 codes would. Projects above
`memory_search_max_chunks` are not held in memory at all: Chroma's HNSW index answers for them
(`ragqa.retrieve.retriever.Retriever._query_store`).

`choose` picks the strategy by size (`RAGQA_VECTOR_SEARCH`, `RAGQA_EXACT_SEARCH_MAX_CHUNKS`).
Every index also answers `best` — its best similarity, found on the projection — which is how a
question to every project (`*`) picks the projects worth searching in full
(`ragqa.retrieve.across`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

Strategy = Literal["exact", "projected"]
Matrix = npt.NDArray[np.float32]
PROJECTED_DIMS = 64
RESCORED = 200  # first-pass candidates scored again exactly (at least; 4 × the count asked for)
SAMPLE = 2_048  # rows the principal directions are fitted on
BEST_RESCORED = 8  # candidates rescored exactly for a project's best similarity


def choose(count: int, setting: str, exact_max: int) -> Strategy:
    """The strategy for a project of `count` chunks: `setting` itself, or by size when "auto"."""
    if setting in ("exact", "projected"):
        return setting  # type: ignore[return-value]
    return "exact" if count <= exact_max else "projected"


class VectorIndex:
    """A project's unit vectors (one row per chunk) and the search chosen for them."""

    def __init__(self, vectors: Matrix, strategy: Strategy = "exact") -> None:
        self.vectors = vectors
        self.strategy = strategy
        self._basis: Matrix | None = None
        self._projected: Matrix | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    def nearest(self, query: Matrix, count: int) -> tuple[npt.NDArray[np.intp], Matrix]:
        """Rows of the `count` most similar vectors, best first, and their exact similarities
        (`query` is a unit vector)."""
        count = min(count, len(self.vectors))
        if count <= 0:
            return np.zeros(0, np.intp), np.zeros(0, np.float32)
        if self.strategy == "exact" or len(self.vectors) <= max(RESCORED, 4 * count):
            return _top(self.vectors @ query, count)
        rows = self.candidates(query, max(RESCORED, 4 * count))
        found, similarities = _top(self.vectors[rows] @ query, count)
        return rows[found], similarities

    def nearest_ids(self, ids: Sequence[str], vector: Sequence[float], count: int) -> list[tuple[str, float]]:
        """The `count` ids (one per row) most similar to `vector`, with their cosine similarity."""
        if not ids:
            return []
        rows, similarities = self.nearest(unit(vector), count)
        return [(ids[row], float(similarity)) for row, similarity in zip(rows, similarities, strict=True)]

    def candidates(self, query: Matrix, count: int) -> npt.NDArray[np.intp]:
        """The `count` rows the projected scan ranks highest (unordered)."""
        basis, projected = self.projection()
        scores = projected @ (basis @ query)
        count = min(count, len(scores))
        return np.argpartition(-scores, count - 1)[:count]

    def best(self, query: Matrix) -> float:
        """The highest similarity of any vector to `query`, found with the projected scan (exact
        for the candidates it keeps): cheap enough to ask of every project."""
        if len(self.vectors) == 0:
            return 0.0
        if len(self.vectors) <= SAMPLE:
            return float(np.max(self.vectors @ query))
        rows = self.candidates(query, BEST_RESCORED)
        return float(np.max(self.vectors[rows] @ query))

    def projection(self) -> tuple[Matrix, Matrix]:
        """The principal directions and the vectors projected on them, made once. A project
        searched with the projected scan has directions fitted on its own vectors; the others
        (only asked for their `best` similarity) share the process's first fit for vectors of
        their width — one fit instead of hundreds, and the leading directions of one embedding
        model differ little between projects (what it costs is measured in docs/scale.md)."""
        with _lock:
            if self._basis is None or self._projected is None:
                width = self.vectors.shape[1]
                basis = None if self.strategy == "projected" else _shared.get(width)
                if basis is None:
                    basis = principal_directions(self.vectors, PROJECTED_DIMS)
                    if self.strategy != "projected" and len(self.vectors) >= SAMPLE:
                        _shared[width] = basis
                self._projected = np.ascontiguousarray(self.vectors @ basis.T)
                self._basis = basis
            return self._basis, self._projected


_shared: dict[int, Matrix] = {}  # vector width → the directions fitted first
_lock = threading.Lock()


def principal_directions(vectors: Matrix, dims: int) -> Matrix:
    """The `dims` directions along which a sample of `vectors` varies most (about the origin:
    similarities are dot products, so the mean direction is worth keeping), one per row. From
    the eigenvectors of the sample's 384 × 384 Gram matrix: far cheaper than an SVD of the sample."""
    step = max(1, len(vectors) // SAMPLE)
    sample = np.asarray(vectors[::step][:SAMPLE], dtype=np.float64)
    _, vectors_of = np.linalg.eigh(sample.T @ sample)  # ascending eigenvalues
    return np.ascontiguousarray(vectors_of[:, ::-1][:, :dims].T, dtype=np.float32)


def _top(similarities: Matrix, count: int) -> tuple[npt.NDArray[np.intp], Matrix]:
    top = np.argpartition(-similarities, count - 1)[:count]
    top = top[np.argsort(-similarities[top], kind="stable")]
    return top, similarities[top]


def unit(vector: object) -> Matrix:
    """`vector` as float32 of length 1 (a zero vector stays zero)."""
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    return query / max(float(np.linalg.norm(query)), 1e-12)
