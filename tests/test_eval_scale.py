"""The scale benchmark's ground truth and re-ranking, on sizes a test can afford."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.memory_scale import FlatStore, exact_topk, make_index, recall_at_k, search_one_by_one, synthesize  # noqa: E402


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_topk_matches_full_sort_across_chunks() -> None:
    base, q = _unit(1000, 16, 1), _unit(20, 16, 2)
    got = exact_topk(base, q, 10, chunk=137)  # chunk boundaries must not lose neighbours
    want = np.argsort(-(q @ base.T), axis=1)[:, :10]
    assert (got == want).all()


def test_recall_at_k() -> None:
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(np.array([[4, 3, 2, 1], [5, 9, 9, 9]]), truth) == (1.0 + 0.25) / 2


def test_synthesize_is_seeded_unit_and_near_its_parents() -> None:
    real = _unit(50, 32, 3)
    a, b = synthesize(real, 500, seed=7, noise=0.3), synthesize(real, 500, seed=7, noise=0.3)
    assert (a == b).all() and a.shape == (500, 32)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # Each synthetic vector is much closer to some real vector than random unit vectors are.
    assert float(np.mean(np.max(a @ real.T, axis=1))) > float(np.mean(np.max(_unit(500, 32, 4) @ real.T, axis=1))) + 0.2


def test_flat_store_and_rerank_restore_exact_order(tmp_path: Path) -> None:
    base, q = _unit(400, 24, 5), _unit(30, 24, 6)
    store = FlatStore(tmp_path / "v.f32", base)
    assert np.array_equal(store.get(np.array([3, 0, 399])), base[[3, 0, 399]])
    idx = make_index(24, "i8", 16, 64, 64)
    idx.add(np.arange(400, dtype=np.int64), base)
    truth = exact_topk(base, q, 10)
    keys, lat = search_one_by_one(idx, q, 10, rerank=100, store=store)
    assert recall_at_k(keys, truth) >= 0.99 and len(lat) == 30
    store.close()
