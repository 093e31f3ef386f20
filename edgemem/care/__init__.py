"""Care guidance: curated, signed cards, a medicine table, and the conflict checks that personalise them.

A 135M model cannot be the source of medical facts. The facts a patient reads come from cards
written for the project (``export/data/care``), compiled into the signed bundle's ``care/``
folder, and checked against what the kiosk knows about the patient before they are shown: every
medicine a card suggests is looked up in the medicine table, and a step that conflicts with the
patient's medicines, allergies, conditions, pregnancy or age is replaced by its caution.

    content = CareContent.load(bundle / "care")
    facts = content.lexicon.facts_from_text(["I take warfarin", "I'm allergic to penicillin"])
    card = content.search("what can I take for back pain")[0].card
    advice = content.personalise(card, facts)   # steps kept, steps replaced by cautions
"""

from __future__ import annotations

from .content import CareContent, Card, find_content
from .medicines import Lexicon, PatientFacts
from .personalise import Advice, personalise
from .search import CardHit

__all__ = ["Advice", "CardHit", "CareContent", "Card", "Lexicon", "PatientFacts", "find_content", "personalise"]
