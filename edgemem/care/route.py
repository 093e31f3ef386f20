"""What kind of reply a patient's message gets, decided before any reply is made.

One decision, shared by the assistant and the benchmarks that measure it, so a figure is about
what the kiosk does. In order: small talk gets courteous lines; "what do you remember about me?"
the patient's notes; a message that only states facts an acknowledgement; a question a card fits
that card; anything else is sent to the staff.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..safety.pleasantry import is_pleasantry
from . import search as card_search
from .compose import asks_about_memory, asks_something, beyond_facts
from .search import CardHit

if TYPE_CHECKING:  # pragma: no cover
    from .content import CareContent

KINDS = ("courtesy", "recall", "acknowledge", "card", "no_card")


@dataclass(frozen=True)
class Route:
    kind: str
    hits: list[CardHit] = field(default_factory=list)  # "card": the candidates, best first
    said: list[str] = field(default_factory=list)      # "acknowledge": notes of the facts it states


def find_cards(content: "CareContent", text: str) -> list[CardHit]:
    """The cards that fit, with the product's frozen no-card bars."""
    return content.search(text, 3, min_score=card_search.MIN_SCORE, min_coverage=card_search.MIN_COVERAGE,
                          full_coverage=card_search.FULL_COVERAGE)


def route(text: str, content: "CareContent") -> Route:
    if is_pleasantry(text):
        return Route("courtesy")
    if asks_about_memory(text):
        # Before any card: "what do you remember about me?" matched a missed-doses card.
        return Route("recall")
    facts = content.lexicon.facts_from_text([text])
    if facts.notes(content.lexicon) and not asks_something(text):
        # Does the message say anything a card is about besides its facts ("... and my back hurts")?
        if not find_cards(content, beyond_facts(text, content.lexicon)):
            # "I'm 24 weeks pregnant." asks nothing: it was sent to the staff, and "I take warfarin."
            # got a leaflet on painkillers.
            # Shown without the age group: "my baby" says who the patient cares for, not their age.
            return Route("acknowledge", said=replace(facts, age=set()).notes(content.lexicon))
    # The whole message decides the card. Not what it says besides its facts: "should I change my
    # chemotherapy?" would be left with "change", which a card about moles holds in full. So "I'm 30
    # weeks pregnant and can't sleep" goes to the staff: conservative, and measured in card_scope.
    hits = find_cards(content, text)
    return Route("card", hits=hits) if hits else Route("no_card")
