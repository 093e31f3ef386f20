"""Find the cards that answer a patient's question: BM25 over each card's title, topics, example
questions and summary, fields weighted (a title word counts three times, a topic twice).

Small on purpose: a few hundred cards, a few thousand distinct words, scored in well under a
millisecond. A question that matches no card well enough gets no card, and the kiosk says it
cannot advise on that (``CareContent.search`` with ``min_score``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from .content import Card

STOP = frozenset("""a an and are am as at be been but by can could do does did for from had has have he her
his how i if in is it its me my of on or our she so that the their them they this to was we were what when
where which who why will with would you your im ive get got just about any some should there
think know tell please help want wondering wonder worried advice advise thing things really bit also still
maybe thanks hi hello ok okay getting go going dont cant ill id youre whats isnt again wont keep keeps
now lately recently anything something give answer answers detailed detail short brief briefly explain
polite simple simply words reply after before all over every ask asking need needs here away""".split())
# Words that say who, when or where, not what is wrong ("my daughter Anna has had a cold since
# Sunday"): a question full of them is not less about its symptom. Not here: words that name what a
# card is about ("morning" sickness, "back" pain, "teenager", "travel", "night" sweats).
CONTEXT = frozenset("""daughter son husband wife partner mum mother mom dad father brother sister grandson
granddaughter grandma grandmother grandad grandfather nan nana granny nephew niece friend neighbour neighbor
boyfriend girlfriend family dr doctor gp consultant nurse said told says asked monday tuesday wednesday thursday
friday saturday sunday weekend yesterday today tonight tomorrow afternoon evening last week weeks month months
year years ago since ever christmas easter holiday holidays birthday wedding party moved house home work job
school nursery office started new came went little january february march april may june july august
september october november december""".split())
# A word right after one of these is a name ("my son Jack", "dr patel"), when no card has it; so is
# a capitalised word inside a sentence ("my holiday in Spain").
_NAMED = re.compile(r"\b(?:daughter|son|husband|wife|partner|mum|mother|mom|dad|father|brother|sister|grandson|"
                    r"granddaughter|grandma|grandad|nan|granny|nephew|niece|friend|neighbour|boyfriend|girlfriend|"
                    r"baby|boy|girl|dr|doctor|nurse)\s+([a-z]+)")
_CAPITALISED = re.compile(r"(?<=[a-z,;:] )([A-Z][a-z]+)")
_TOKEN = re.compile(r"[a-z0-9]+")
# The bars below which no card fits and the kiosk sends the patient to the staff: chosen on a dev
# split by ``python -m benchmarks.card_scope`` (maximising answered-with-a-relevant-card plus
# out-of-scope-refused), then frozen; its test figures are in docs/care.md.
MIN_SCORE = 8.5
MIN_COVERAGE = 0.35
FULL_COVERAGE = 0.8  # a card with this share of the question's words needs no score bar
FIELD_WEIGHTS = (("title", 3.0), ("topics", 2.0), ("questions", 1.0), ("summary", 0.5))


def tokens(text: str) -> list[str]:
    out = []
    # "i've", "don't": without the apostrophe they are the stop words "ive", "dont", not "ve", "don".
    for t in _TOKEN.findall(text.casefold().replace("'", "").replace("\u2019", "")):
        if t in STOP or t in CONTEXT or len(t) < 2:
            continue
        out.append(t[:-1] if len(t) > 4 and t.endswith("s") and not t.endswith("ss") else t)
    return out


@dataclass(frozen=True)
class CardHit:
    card: "Card"
    score: float
    # Share of the question's informative words (idf-weighted) that the card has. BM25 alone
    # cannot tell "no card fits": "should I switch my chemotherapy regimen" scores as high on an
    # anxiety card as many right answers do, on one common word; its rare words are on no card.
    coverage: float = 1.0


class CardIndex:
    def __init__(self, cards: Sequence["Card"], k1: float = 1.2, b: float = 0.5) -> None:
        self.cards = list(cards)
        self.k1, self.b = k1, b
        self.docs: list[Counter[str]] = []
        for card in self.cards:
            tf: Counter[str] = Counter()
            for name, weight in FIELD_WEIGHTS:
                value = getattr(card, name)
                text = " ".join(value) if isinstance(value, (list, tuple)) else str(value)
                for t in tokens(text):
                    tf[t] += weight
            self.docs.append(tf)
        self.avg = sum(sum(d.values()) for d in self.docs) / max(1, len(self.docs))
        df: Counter[str] = Counter(t for d in self.docs for t in d)
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        # A word on no card is as informative as the rarest: it says what the question is about.
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)

    def query_terms(self, query: str) -> set[str]:
        """The question's informative words: no stop or context words, no names, no bare numbers."""
        names = {m.group(1) for m in _NAMED.finditer(query.casefold().replace("'", ""))} | \
            {m.group(1).casefold() for m in _CAPITALISED.finditer(query.replace("'", ""))}
        # Numbers say how much or when ("30 weeks", "I'm 82"), unless a card has them.
        return {t for t in tokens(query) if (t not in names and not t.isdigit()) or t in self.idf}

    def search(self, query: str, k: int = 3) -> list[CardHit]:
        q = self.query_terms(query)
        scored = []
        for i, (card, d) in enumerate(zip(self.cards, self.docs)):
            length = sum(d.values())
            s = 0.0
            for t in q:
                f = d.get(t)
                if f:
                    s += self.idf[t] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / self.avg))
            if s > 0:
                scored.append((s, i))
        scored.sort(key=lambda x: -x[0])
        mass = sum(self.idf.get(t, self.unseen_idf) for t in q) or 1.0
        return [CardHit(self.cards[i], s, sum(self.idf[t] for t in q if t in self.docs[i]) / mass)
                for s, i in scored[:k]]
