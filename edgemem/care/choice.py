"""Which card answers the question, among the cards that card search found.

BM25 with its frozen bars (``care.search``) decides *whether* a card fits. Its order among the
fitting cards is a different matter: a patient's words are often not the card's ("my knee gave
way on the stairs" ranked a bruised-ribs card first, and the reply ablation's one unsupported drug
came from such a wrong first card). The embedder the memory already loads reorders BM25's best
``POOL`` cards: each card's largest cosine over its title, topics line, example questions and
summary, added to the BM25 score scaled to the pool's best. ``W_DENSE`` was chosen on dev only
(``benchmarks.card_choice``: top-1 0.843 -> 0.954 on dev with the x86-kiosk MiniLM).

The card vectors depend only on the signed content and the embedder: the bundle build makes them
with the bundle's embedder (``care/card_vectors.npz``, signed with the rest); a bundle without
them, or a memory with another embedder, has them made once and kept under the home's index
folder (derived state, like the memory index). Both are keyed by content digest and embedder.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from .search import CardHit

if TYPE_CHECKING:  # pragma: no cover
    from .content import Card, CareContent

log = logging.getLogger("edgemem.care")

W_DENSE = 3.0
POOL = 5
SHIPPED = "card_vectors.npz"  # in the bundle's care folder


class TextEmbedder(Protocol):
    """What the chooser uses of an embedder (memory's ``OnnxEmbedder`` is one)."""

    fingerprint: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def card_texts(card: "Card") -> list[str]:
    """The texts a card is recognised by; the question is compared with each, the best counts."""
    return [t for t in (card.title, ", ".join(card.topics), *card.questions, card.summary) if t.strip()]


def vectors_key(content: "CareContent", embedder: TextEmbedder) -> str:
    """Which content and which embedder a set of card vectors is for."""
    return hashlib.sha256(f"{content.digest}:{embedder.fingerprint}".encode()).hexdigest()


def read_vectors(path: Path, key: str, n_cards: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(vectors, offsets) when ``path`` holds vectors for ``key``; None when absent, for another
    content or embedder, or damaged (made again, not trusted)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            stored, vectors, offsets = str(z["key"]), z["vectors"], z["offsets"]
    except (OSError, ValueError, KeyError, EOFError):
        log.warning("card vectors in %s unreadable: embedding the cards again", path.name)
        return None
    if stored != key or len(offsets) != n_cards + 1 or int(offsets[-1]) != len(vectors):
        return None
    return vectors, offsets


def write_vectors(path: Path, key: str, vectors: np.ndarray, offsets: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, key=np.array(key), vectors=vectors, offsets=offsets)
    os.replace(tmp, path)


class CardChooser:
    """Reorders card search's pool by BM25 plus the embedder's similarity (see module docstring)."""

    def __init__(self, content: "CareContent", embedder: TextEmbedder,
                 vectors: np.ndarray, offsets: np.ndarray) -> None:
        self.embedder = embedder
        self._rows = {card.id: vectors[offsets[i]:offsets[i + 1]] for i, card in enumerate(content.cards)}

    @classmethod
    def build(cls, content: "CareContent", embedder: TextEmbedder, cache_dir: Path | None = None,
              shipped: Path | None = None) -> "CardChooser":
        """Card vectors from the bundle (``shipped``, made at build time with the bundle's embedder)
        or the home's cache when content and embedder match, else embedded now: about 2,700 short
        texts, ~20 s on a 2-core kiosk PC, so a bundle ships them and a home keeps them."""
        key = vectors_key(content, embedder)
        path = cache_dir / f"care-vectors-{key[:20]}.npz" if cache_dir is not None else None
        for source in (shipped, path):
            got = read_vectors(source, key, len(content.cards)) if source is not None else None
            if got is not None:
                return cls(content, embedder, *got)
        texts = [card_texts(c) for c in content.cards]
        offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int64)
        vectors = embedder.embed([t for ts in texts for t in ts]).astype(np.float32)
        if path is not None:
            try:
                write_vectors(path, key, vectors, offsets)
            except OSError as e:  # a read-only home still chooses, it only embeds at each start
                log.warning("card vectors not cached (%s)", e)
        return cls(content, embedder, vectors, offsets)

    def save(self, path: Path, content: "CareContent") -> None:
        """Write this chooser's vectors for ``build(shipped=path)`` (the bundle build does)."""
        vectors = np.concatenate([self._rows[c.id] for c in content.cards]).astype(np.float32)
        offsets = np.cumsum([0] + [len(self._rows[c.id]) for c in content.cards]).astype(np.int64)
        write_vectors(path, vectors_key(content, self.embedder), vectors, offsets)

    def scores(self, question: str, hits: Sequence[CardHit]) -> list[float]:
        """Combined score of each hit: BM25 / the pool's best + W_DENSE * (cosine - the best cosine)."""
        if not hits:
            return []
        q = self.embedder.embed([question])[0]
        dense = [float(np.max(self._rows[h.card.id] @ q)) if len(self._rows.get(h.card.id, ())) else -1.0
                 for h in hits]
        top_bm25 = max(h.score for h in hits) or 1.0
        top_dense = max(dense)
        return [h.score / top_bm25 + W_DENSE * (d - top_dense) for h, d in zip(hits, dense)]

    def order(self, question: str, hits: Sequence[CardHit]) -> list[CardHit]:
        """The hits, best first by the combined score (stable for ties: BM25's order)."""
        s = self.scores(question, hits)
        return [h for _, h in sorted(zip(s, hits), key=lambda x: -x[0])]
