"""The care content of a bundle: ``<bundle>/care/{cards,medicines,classes,conditions,conflicts}.json``,
compiled and signed with the bundle by ``export.care``; read-only on the device."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EdgememError
from .medicines import Lexicon, PatientFacts
from .personalise import Advice, personalise
from .search import CardHit, CardIndex

FILES = ("cards", "medicines", "classes", "conditions", "conflicts")


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    version: int
    audience: str
    domain: str
    topics: tuple[str, ...]
    questions: tuple[str, ...]
    summary: str
    self_care: tuple[dict[str, Any], ...]
    avoid: tuple[dict[str, Any], ...]
    see_doctor: tuple[str, ...]
    emergency: tuple[str, ...]
    source: str
    reviewed: str
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Card":
        return cls(id=str(d["id"]), title=str(d.get("title", d["id"])), version=int(d.get("version", 1)),
                   audience=str(d.get("audience", "all")), domain=str(d.get("domain", "")),
                   topics=tuple(d.get("topics", [])), questions=tuple(d.get("questions", [])),
                   summary=str(d.get("summary", "")), self_care=tuple(d.get("self_care", [])),
                   avoid=tuple(d.get("avoid", [])), see_doctor=tuple(d.get("see_doctor", [])),
                   emergency=tuple(d.get("emergency", [])), source=str(d.get("source", "")),
                   reviewed=str(d.get("reviewed", "")), raw=d)


class CareContent:
    """Cards with their search index, the medicine lexicon and the conflict table."""

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.cards = [Card.from_dict(c) for c in data.get("cards", [])]
        self.by_id = {c.id: c for c in self.cards}
        self.lexicon = Lexicon(data.get("medicines", []), data.get("classes", []), data.get("conditions", []))
        self.conflicts = list(data.get("conflicts", []))
        self.index = CardIndex(self.cards)

    @classmethod
    def load(cls, folder: str | Path) -> "CareContent":
        root = Path(folder)
        if not (root / "cards.json").is_file():
            raise EdgememError(f"{root}: no care content (cards.json); rebuild the bundle")
        data = {}
        for name in FILES:
            p = root / f"{name}.json"
            data[name] = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else []
        return cls(data)

    def search(self, question: str, k: int = 3, min_score: float = 0.0,
               min_coverage: float = 0.0, full_coverage: float = 1.01) -> list[CardHit]:
        """The best ``k`` cards; none when the best falls below either bar ("no card fits"). A
        card that has ``full_coverage`` of the question's informative words needs no score bar."""
        hits = self.index.search(question, k)
        if not hits or not fits(hits[0], len(self.index.query_terms(question)), min_score, min_coverage, full_coverage):
            return []
        return hits  # the best passed; the others stay candidates (the assistant chooses by audience)

    def personalise(self, card: Card, facts: PatientFacts) -> Advice:
        return personalise(card, facts, self)


def fits(best: CardHit, n_words: int, min_score: float, min_coverage: float, full_coverage: float = 1.01) -> bool:
    """Whether the best card answers a question of ``n_words`` informative words. BM25 sums over the
    question's words, so a one-word question ("cold") never scores as a sentence does: the score
    bar grows with the words, full from two on, and a card with ``full_coverage`` needs none."""
    bar = min_score * min(1.0, n_words / 2)
    return best.coverage >= min_coverage and (best.score >= bar or best.coverage >= full_coverage)


def find_content(bundle: str | Path | None) -> Path | None:
    """``<bundle>/care`` when the bundle ships care content, else None."""
    if bundle is None:
        return None
    folder = Path(bundle) / "care"
    return folder if (folder / "cards.json").is_file() else None
