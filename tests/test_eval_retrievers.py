"""The evaluation's own arithmetic: if these are wrong, every recall figure in docs/memory-eval.md is."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.memory_retrievers import BM25, Dense, RankedHit, aggregate, rrf, score_question, tokenize  # noqa: E402


def test_tokenize_drops_stopwords_and_punctuation() -> None:
    assert tokenize("I am allergic to Penicillin, and my back hurts!") == ["allergic", "penicillin", "back", "hurts"]


def test_bm25_prefers_rare_term_and_ignores_unrelated() -> None:
    docs = ["my back hurts a lot", "back pain again today", "I am allergic to penicillin", "the weather is nice"]
    bm = BM25(docs)
    assert bm.rank("penicillin allergy", 3) == [2]  # only the doc with the term scores > 0
    s = bm.scores("back penicillin")
    assert s[2] > s[0] > 0 and s[3] == 0  # the rarer term weighs more


def test_bm25_length_normalization() -> None:
    bm = BM25(["rash", "rash " + "filler " * 30])
    s = bm.scores("rash")
    assert s[0] > s[1] > 0


def test_dense_ranks_by_cosine() -> None:
    v = np.eye(4, dtype=np.float32)
    q = np.array([0.1, 0.9, 0.3, 0], dtype=np.float32)
    assert Dense(v).rank_vector(q, 3) == [1, 2, 0]


def test_rrf_formula_and_tie_break() -> None:
    # a: 1/61 + 1/62, b: 1/62 + 1/61 -> tie, broken by id; c: 1/63 only.
    assert rrf([[1, 2, 3], [2, 1]], k=3) == [1, 2, 3]
    assert rrf([[5], [6, 5]], k=2) == [5, 6]


def _q(**kw):
    base = {"qid": "q", "type": "single-hop", "answer": "naproxen", "evidence": ["t1"], "stale": []}
    base.update(kw)
    return base


def test_score_question_recall_counts_source_ids_within_k() -> None:
    q = _q(type="multi-session", evidence=["t1", "t2", "t3"])
    hits = [RankedHit("x", ["t9"]), RankedHit("note", ["t1", "t2"]), RankedHit("y", ["t3"])]
    assert score_question(q, hits, 2)["recall"] == pytest.approx(2 / 3)
    assert score_question(q, hits, 2)["all"] == 0.0
    r = score_question(q, hits, 3)
    assert r["recall"] == 1.0 and r["all"] == 1.0 and r["sources_per_hit"] == pytest.approx(4 / 3)


def test_answer_metric_is_case_insensitive_and_only_for_literal_answers() -> None:
    assert score_question(_q(), [RankedHit("Takes NAPROXEN daily", [])], 10)["answer"] == 1.0
    assert score_question(_q(), [RankedHit("takes ibuprofen", ["t1"])], 10)["answer"] == 0.0
    assert score_question(_q(type="temporal", answer="2025-01-01"), [RankedHit("x", ["t1"])], 10)["answer"] is None


def test_fresh_first_for_updates() -> None:
    q = _q(type="update", answer="naproxen", evidence=["new"], stale=["old"])
    assert score_question(q, [RankedHit("on ibuprofen", ["old"]), RankedHit("switched to naproxen", ["new"])], 10)["fresh"] == 0.0
    assert score_question(q, [RankedHit("switched to naproxen", ["new"]), RankedHit("ibuprofen", ["old"])], 10)["fresh"] == 1.0
    # One memory updated in place cites both turns: fresh only if its text holds the new answer.
    assert score_question(q, [RankedHit("Takes naproxen (was ibuprofen)", ["old", "new"])], 10)["fresh"] == 1.0
    assert score_question(q, [RankedHit("Takes ibuprofen", ["old", "new"])], 10)["fresh"] == 0.0
    assert score_question(q, [RankedHit("nothing", ["zzz"])], 10)["fresh"] == 0.0


def test_aggregate_means_by_type_skipping_none() -> None:
    rows = [{"type": "a", "recall": 1.0, "all": 1.0, "answer": None, "fresh": None, "sources_per_hit": 1.0},
            {"type": "b", "recall": 0.0, "all": 0.0, "answer": 1.0, "fresh": None, "sources_per_hit": 3.0}]
    agg = aggregate(rows)
    assert agg["all"]["recall"] == 0.5 and agg["all"]["answer"] == 1.0 and agg["all"]["fresh"] is None
    assert agg["a"]["n"] == 1 and agg["b"]["sources_per_hit"] == 3.0
