"""Features of the learned triage stage: hashed words, word pairs and character n-grams.

The same function runs when the classifier is trained (``export/triage.py``) and on the device, so
it lives here, in the runtime, with no dependency but the standard library. Character n-grams
inside each word make the model robust to the typos of a hurried message ("cant breth",
"unconsious") without a spelling list; word pairs keep the local context that single words lose
("no pain", "not breathing", "seizure dog"). Hashing (CRC-32, stable across Python runs and
machines) keeps the model a fixed size whatever the vocabulary.
"""

from __future__ import annotations

import math
import zlib

from .detector import HISTORY, HYPOTHETICAL, IDIOM, NEGATIONS, RESOLVED, SCOPE_BREAK
from .normalize import clauses

BUCKETS = 1 << 16
CHAR_NGRAMS = (3, 4, 5)


def _hash(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) % BUCKETS


def featurize(text: str) -> tuple[list[int], list[float]]:
    """(bucket ids, weights) of ``text``: counts scaled by 1/sqrt(total), so a long message and a
    short one with the same words score alike. Never empty: an empty text gets one bias feature."""
    counts: dict[int, float] = {}
    cls = clauses(text)
    for clause in cls:
        # Words in a negation's scope are other features ("no ... breathing" is not "breathing"),
        # as NegEx scopes them: up to five words, not across a comma or a conjunction.
        raw = clause.split(" ")
        scope = 0
        marked: list[str] = []
        for tok in raw:
            if tok in SCOPE_BREAK:
                scope = 0
            if tok == ",":
                continue
            if tok in NEGATIONS:
                scope = 5
                marked.append(tok)
                continue
            marked.append(("~" + tok) if scope > 0 else tok)
            scope = max(0, scope - 1)
        for name, pat in (("past", HISTORY), ("hyp", HYPOTHETICAL), ("resolved", RESOLVED), ("idiom", IDIOM)):
            if pat.search(clause):
                h = _hash("cue:" + name)
                counts[h] = counts.get(h, 0.0) + 1.0
        toks = marked
        prev = "<s>"
        for tok in toks:
            for f in ("w:" + tok, "b:" + prev + "_" + tok):
                h = _hash(f)
                counts[h] = counts.get(h, 0.0) + 1.0
            if len(tok) >= 3 and tok.lstrip("~").isalpha():
                padded = "<" + tok + ">"
                for n in CHAR_NGRAMS:
                    for i in range(len(padded) - n + 1):
                        h = _hash("c:" + padded[i:i + n])
                        counts[h] = counts.get(h, 0.0) + 0.5
            prev = tok
        h = _hash("b:" + prev + "_</s>")
        counts[h] = counts.get(h, 0.0) + 1.0
    h = _hash("bias")
    counts[h] = counts.get(h, 0.0) + 1.0
    total = math.sqrt(sum(v * v for v in counts.values()))
    ids = list(counts)
    return ids, [counts[i] / total for i in ids]
