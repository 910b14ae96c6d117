"""Vector search strategies (`ragqa.index.vectors`): exact where promised, the projected scan's
recall against exact search on a generated clustered set, and the choice by size."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from ragqa.index.store import ChunkStoreSnapshot, StoredChunk
from ragqa.index.vectors import VectorIndex, choose, unit

DIMS = 384


def clustered(count: int, seed: int = 7) -> tuple[npt.NDArray[np.float32], np.random.Generator]:
    """Unit vectors in clusters, with a decaying spectrum as sentence embeddings have."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((DIMS, DIMS)))
    mix = (basis * np.arange(1, DIMS + 1) ** -0.6).astype(np.float32)

    def noise(rows: int) -> npt.NDArray[np.float32]:
        raw = rng.standard_normal((rows, DIMS)).astype(np.float32) @ mix.T
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)

    centres = noise(count // 50)
    vectors = centres[rng.integers(0, len(centres), count)] + 0.6 * noise(count)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32), rng


def exact_top(vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32], count: int) -> list[int]:
    return [int(row) for row in np.argsort(-(vectors @ query), kind="stable")[:count]]


def test_exact_search_is_exact() -> None:
    vectors, rng = clustered(3_000)
    index = VectorIndex(vectors, "exact")
    for _ in range(20):
        query = unit(rng.standard_normal(DIMS))
        rows, similarities = index.nearest(query, 10)
        assert rows.tolist() == exact_top(vectors, query, 10)
        assert np.allclose(similarities, vectors[rows] @ query)


def test_the_projected_scan_keeps_98_percent_of_exact_top_10_with_exact_scores() -> None:
    vectors, rng = clustered(20_000)
    index = VectorIndex(vectors, "projected")
    found = 0
    for _ in range(100):
        query = unit(vectors[rng.integers(len(vectors))] + 0.3 * unit(rng.standard_normal(DIMS)))
        rows, similarities = index.nearest(query, 10)
        assert np.allclose(similarities, vectors[rows] @ query, atol=1e-5)  # scores are exact
        assert list(similarities) == sorted(similarities, reverse=True)
        found += len(set(rows.tolist()) & set(exact_top(vectors, query, 10)))
    assert found / 1000 >= 0.98


def test_best_similarity_matches_exact_search() -> None:
    VectorIndex(clustered(4_000, seed=8)[0]).best(unit(np.ones(DIMS)))  # another project fits first
    vectors, rng = clustered(8_000)
    index = VectorIndex(vectors, "exact")  # its best similarity is found on the shared directions
    queries = [unit(vectors[rng.integers(len(vectors))] + 0.3 * unit(rng.standard_normal(DIMS)))
               for _ in range(50)]
    hits = sum(index.best(query) == pytest.approx(float(np.max(vectors @ query)), abs=1e-5)
               for query in queries)
    assert hits >= 48


def test_small_and_empty_indexes() -> None:
    vectors, rng = clustered(100)
    index = VectorIndex(vectors, "projected")  # too small to scan twice: searched exactly
    query = unit(rng.standard_normal(DIMS))
    assert index.nearest(query, 200)[0].tolist() == exact_top(vectors, query, 100)
    empty = VectorIndex(np.zeros((0, 1), np.float32), "projected")
    assert empty.nearest(query, 5)[0].size == 0 and empty.best(query) == 0.0


def test_the_strategy_is_chosen_by_size() -> None:
    assert choose(50_000, "auto", 50_000) == "exact"
    assert choose(50_001, "auto", 50_000) == "projected"
    assert choose(10, "projected", 50_000) == "projected"
    assert choose(10**6, "exact", 50_000) == "exact"


def test_a_snapshot_searches_with_its_strategy() -> None:
    vectors, rng = clustered(2_000)
    chunks = [StoredChunk(f"c{row}", f"text {row}", {}) for row in range(len(vectors))]
    snapshot = ChunkStoreSnapshot(chunks, vectors)
    query = 3 * (vectors[17] + 0.2 * unit(rng.standard_normal(DIMS)))  # the snapshot normalises it
    exact = snapshot.nearest(query.tolist(), 5)
    snapshot.search.strategy = "projected"
    assert [chunk_id for chunk_id, _ in snapshot.nearest(query.tolist(), 5)] == [c for c, _ in exact]
    assert exact[0][1] == pytest.approx(float(np.max(vectors @ unit(query))), abs=1e-5)
