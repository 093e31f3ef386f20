"""Word handling shared by full-text search, fuzzy matching and the extractors.

FTS5 only ever sees *blinded* tokens (HMAC of a word), so its own tokenizer cannot stem, fold or
drop stop words: all of that happens here, before blinding, identically for indexing and for
queries. The stemmer is a deliberately small suffix stripper: it must be deterministic and
stable across releases (changing it would orphan every blinded token already on disk).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being
below between both but by can can't could couldn't did didn't do does doesn't doing don't down
during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her
here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's
its itself let's me more most mustn't my myself nor of off on once only or other ought our ours
ourselves out over own same shan't she she'd she'll she's should shouldn't so some such than that
that's the their theirs them themselves then there there's these they they'd they'll they're
they've this those through to too under until up very was wasn't we we'd we'll we're we've were
weren't what what's when when's where where's which while who who's whom why why's with won't would
wouldn't you you'd you'll you're you've your yours yourself yourselves also just really well yes
oh okay ok hi hello thanks thank doctor patient user assistant will shall may might must
""".split())

# Negations matter for contradictions but are stop words to BM25; the extractors use NEGATORS.
NEGATORS = frozenset("no not never none without stopped quit discontinued don't doesn't didn't "
                     "isn't aren't wasn't haven't hasn't longer".split())


def fold(text: str) -> str:
    """Lower-case, strip accents, normalize apostrophes: one spelling per word."""
    if text.isascii():  # the common case, without a per-character Python loop
        return text.replace("`", "'").lower()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("\u2019", "'").replace("`", "'").lower()


def words(text: str) -> list[str]:
    """All words of ``text`` (folded), stop words included."""
    return _WORD.findall(fold(text))


def stem(word: str) -> str:
    """A tiny, stable suffix stripper (pains -> pain, coughing -> cough, allergies -> allergy)."""
    w = word
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3:
        return w
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ness", ""), ("ings", ""), ("ing", ""),
                         ("edly", ""), ("ed", ""), ("ly", ""), ("es", ""), ("s", "")):
        if not w.endswith(suffix) or len(w) - len(suffix) < 3:
            continue
        if suffix == "s" and w.endswith(("ss", "us", "is")):
            return w
        if suffix == "es" and not w.endswith(("shes", "sses", "xes", "zes")):
            continue  # "aches" -> "ache" via the plain "s" rule below
        base = w[: len(w) - len(suffix)] + repl
        if suffix in ("ing", "ed") and base[-1] == base[-2] and base[-1] not in "lsz":
            base = base[:-1]  # stopped -> stop, running -> run
        return _drop_e(base)
    return _drop_e(w)


def _drop_e(w: str) -> str:
    # take/taking, ache/aches: dropping a final "e" makes both spellings meet.
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def terms(text: str) -> list[str]:
    """Search terms: folded, stop words dropped, stemmed (duplicates kept: BM25 counts them)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def unique_terms(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for t in terms(text):
        seen.setdefault(t, None)
    return list(seen)


def levenshtein(a: str, b: str, limit: int | None = None) -> int:
    """Edit distance (the paper matches short-term notes by Levenshtein distance)."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        best = i
        for j, cb in enumerate(b, 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            cur.append(v)
            best = min(best, v)
        if limit is not None and best > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def similarity(a: str, b: str) -> float:
    """Near-duplicate similarity of two notes, in [0, 1].

    Short strings: 1 - normalized edit distance. Longer ones: Dice overlap of character trigrams,
    which tracks edit distance closely for near duplicates and costs set operations in C instead of
    a quadratic pure-Python loop (edit distance on two 150-character notes took ~20 ms here).
    """
    a, b = fold(a).strip(), fold(b).strip()
    if not a and not b:
        return 1.0
    if len(a) <= 40 and len(b) <= 40:
        return 1.0 - levenshtein(a, b) / max(len(a), len(b))
    ta, tb = _trigrams(a), _trigrams(b)
    return 2.0 * len(ta & tb) / (len(ta) + len(tb)) if ta and tb else 0.0


def _trigrams(s: str) -> set[str]:
    s = " ".join(s.split())
    return {s[i:i + 3] for i in range(len(s) - 2)}


def fuzzy_score(query: str, text: str | frozenset[str]) -> float:
    """How well ``text`` covers the query's terms, each matched to its closest word by edit distance.

    Whole-string Levenshtein punishes a short query against a long note; per-term best matches keep
    typos ("ibuprofin") and inflections working, which is what the paper's fuzzy match is for.
    ``text`` may be given as its precomputed term set (the ring caches them: search is per query,
    the notes do not change).
    """
    q = unique_terms(query) if isinstance(query, str) else list(query)
    if not q:
        return 0.0
    cand = text if isinstance(text, frozenset) else frozenset(terms(text))
    if not cand:
        return 0.0
    total = 0.0
    for t in q:
        if t in cand:
            total += 1.0
            continue
        if len(t) < 4:
            continue  # a typo in a 3-letter word is another word
        best = 0.0
        budget = 1 if len(t) <= 5 else 2
        for c in cand:
            if abs(len(c) - len(t)) > budget or c[0] != t[0]:
                continue
            d = levenshtein(t, c, limit=budget)
            if d <= budget:
                best = max(best, 1.0 - d / max(len(t), len(c)))
        total += best
    return total / len(q)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)
