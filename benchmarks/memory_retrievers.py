"""Baseline retrievers over raw turns, and the metrics every retriever is judged by.

The baselines are deliberately plain, so that the memory has to earn its margin:
* ``BM25``: Okapi BM25 (k1=1.2, b=0.75) over lower-cased alphanumeric words with a short English
  stop-word list removed, no stemming; one index per patient (the memory is per patient too).
* ``Dense``: cosine over the device's MiniLM embeddings of every turn (exact, brute force).
* ``rrf``: reciprocal-rank fusion of the two lists, score = sum 1/(60 + rank), rank from 1.

Metrics (per question, then averaged over questions):
* evidence recall@k = |evidence turns among the turns the top-k hits point to| / |evidence turns|.
  A baseline hit is one turn; a memory hit points to the turns in its ``source_ids``.
* all-evidence@k = 1 when every evidence turn is found, else 0.
* answer@k = 1 when the expected answer string occurs (case-insensitive) in the text of one of the
  top-k hits; it cannot be gamed by hits that cite many turns, so it keeps the first metric honest.
  Questions whose answer is not a literal of the conversation (dates, preference labels, long
  profile texts) are left out of it.
* fresh-first = for update and recency questions, 1 when an evidence turn is ranked before every
  stale turn (or no stale turn is retrieved at all while the evidence is); when one hit cites both
  (a memory updated in place keeps its history), it counts if that hit's text holds the answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i i'm if in "
    "into is it its me my of on or our so than that the their them then there these they this to "
    "too us was we were what when where which who why will with would you your about am just".split()
)


def tokenize(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25:
    """Okapi BM25 over a fixed list of documents."""

    def __init__(self, docs: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tfs = [Counter(tokenize(d)) for d in docs]
        self.lens = np.array([sum(tf.values()) for tf in self.tfs], dtype=np.float64)
        self.avgdl = float(self.lens.mean()) if len(docs) else 0.0
        df: Counter[str] = Counter()
        for tf in self.tfs:
            df.update(tf.keys())
        n = len(docs)
        # The "+1" form of idf keeps weights positive for words in more than half the documents.
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.tfs), dtype=np.float64)
        q = set(tokenize(query))
        if not q or not self.tfs:
            return out
        norm = self.k1 * (1 - self.b + self.b * self.lens / max(self.avgdl, 1e-9))
        for i, tf in enumerate(self.tfs):
            s = 0.0
            for w in q:
                f = tf.get(w)
                if f:
                    s += self.idf[w] * f * (self.k1 + 1) / (f + norm[i])
            out[i] = s
        return out

    def rank(self, query: str, k: int) -> list[int]:
        s = self.scores(query)
        order = np.argsort(-s, kind="stable")
        return [int(i) for i in order[:k] if s[i] > 0]


class Dense:
    """Exact cosine search over unit vectors (the embedder normalizes)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def rank_vector(self, q: np.ndarray, k: int) -> list[int]:
        s = self.vectors @ np.asarray(q, dtype=np.float32)
        return [int(i) for i in np.argsort(-s, kind="stable")[:k]]


def rrf(lists: Iterable[Sequence[int]], k: int, c: int = 60) -> list[int]:
    """Reciprocal-rank fusion: score(d) = sum over lists of 1 / (c + rank of d), ranks from 1."""
    score: dict[int, float] = {}
    for lst in lists:
        for r, d in enumerate(lst, start=1):
            score[d] = score.get(d, 0.0) + 1.0 / (c + r)
    return [d for d, _ in sorted(score.items(), key=lambda x: (-x[1], x[0]))[:k]]


@dataclass
class RankedHit:
    """What a retriever returned, reduced to what the metrics need."""

    text: str
    source_ids: list[str] = field(default_factory=list)


def answer_checkable(q: dict) -> bool:
    """Whether the answer is a literal of the conversation that a hit can contain.

    A set may say so per question (``answer_literal``, which ``memory_recall`` sets when the
    answer occurs in an evidence turn: the two-person and kiosk sets answer in free prose);
    longchat's own types are literal by construction."""
    if "answer_literal" in q:
        return bool(q["answer_literal"])
    return q["type"] in ("single-hop", "update", "recency", "advice")


def score_question(q: dict, hits: Sequence[RankedHit], k: int) -> dict[str, float | None]:
    """The per-question metrics of the module docstring."""
    top = list(hits)[:k]
    evidence = set(q["evidence"])
    found: set[str] = set()
    first_rank: dict[str, int] = {}
    for r, h in enumerate(top):
        for s in h.source_ids:
            found.add(s)
            first_rank.setdefault(s, r)
    recall = len(evidence & found) / len(evidence) if evidence else 0.0
    answer: float | None = None
    if answer_checkable(q):
        a = q["answer"].lower()
        answer = float(any(a in h.text.lower() for h in top))
    fresh: float | None = None
    if q.get("stale"):
        ev_r = min((first_rank[e] for e in evidence if e in first_rank), default=None)
        st_r = min((first_rank[s] for s in q["stale"] if s in first_rank), default=None)
        fresh = float(ev_r is not None and (st_r is None or ev_r < st_r
                                             or (ev_r == st_r and q["answer"].lower() in top[ev_r].text.lower())))
    return {"recall": recall, "all": float(evidence <= found), "answer": answer, "fresh": fresh,
            "sources_per_hit": (sum(len(h.source_ids) for h in top) / len(top)) if top else 0.0}


def aggregate(rows: Sequence[dict], key: str = "type") -> dict[str, dict[str, float]]:
    """Mean of each metric over all questions and per question type (None values skipped)."""

    def mean(vals: list) -> float | None:
        v = [x for x in vals if x is not None]
        return round(sum(v) / len(v), 4) if v else None

    groups: dict[str, list[dict]] = {"all": list(rows)}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    out = {}
    for g, rs in groups.items():
        out[g] = {m: mean([r[m] for r in rs]) for m in ("recall", "all", "answer", "fresh", "sources_per_hit")}
        out[g]["n"] = len(rs)
    return out
