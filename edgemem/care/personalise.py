"""Personalise a card for one patient: keep the steps that are safe for them, replace the rest.

Deterministic, and the one place a medicine recommendation meets the patient's facts. A step is
dropped when any medicine it names is in a class the patient is allergic to, or is named by a
card ``avoid`` entry or a ``conflicts`` table entry whose ``when`` matches the patient; the
matching caution is shown in its place. ``when`` keys mean *any of*: medications (class ids),
conditions, allergies, pregnancy, breastfeeding, age.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from .medicines import PatientFacts

if TYPE_CHECKING:  # pragma: no cover
    from .content import Card, CareContent


@dataclass
class Advice:
    """A card as this patient should read it."""

    card_id: str
    title: str
    summary: str
    steps: list[str]
    cautions: list[str]
    removed: list[dict[str, Any]] = field(default_factory=list)  # {step, why}
    see_doctor: list[str] = field(default_factory=list)
    emergency: list[str] = field(default_factory=list)
    source: str = ""

    def text(self, max_steps: int | None = None) -> str:
        """The card's own words for this patient (the fallback reply)."""
        steps = self.steps if max_steps is None else self.steps[:max_steps]
        parts = [self.summary, *steps, *self.cautions]
        if self.see_doctor:
            parts.append("See a doctor or nurse if: " + " ".join(s[0].lower() + s[1:] if s else s
                                                                  for s in self.see_doctor[:2]))
        return " ".join(p.strip() for p in parts if p.strip())

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def applies(when: dict[str, Any] | None, facts: PatientFacts) -> bool:
    """Whether a ``when`` (any of its keys) matches the patient; ``{}`` matches everyone."""
    if not when:
        return True
    return bool((set(when.get("medications", [])) & facts.medications)
                or (set(when.get("conditions", [])) & facts.conditions)
                or (set(when.get("allergies", [])) & facts.allergies)
                or (when.get("pregnancy") and facts.pregnancy)
                or (when.get("breastfeeding") and facts.breastfeeding)
                or (set(when.get("age", [])) & facts.age))


def personalise(card: "Card", facts: PatientFacts, content: "CareContent") -> Advice:
    lex = content.lexicon
    steps: list[str] = []
    cautions: list[str] = []
    removed: list[dict[str, Any]] = []

    def caution(text: str) -> None:
        if text not in cautions:
            cautions.append(text)

    for avoid in card.avoid:
        # An avoid line for everyone, or one that matches this patient, is always shown.
        if applies(avoid.get("when"), facts) and (avoid.get("when") or not avoid.get("drugs")):
            caution(avoid["text"])
    for step in card.self_care:
        drugs: Sequence[str] = step.get("drugs", [])
        # Every class of every medicine named: a combination product is each of its ingredients.
        classes = lex.classes_of(drugs) | {c for m in lex.medicines_in(step["text"]) for c in m.get("classes", [])}
        why = None
        allergic = classes & facts.allergies
        if allergic:
            why = f"allergy: {', '.join(sorted(allergic))}"
            caution(f"You told us you are allergic to {lex.class_label(sorted(allergic)[0])}, so do not "
                    "take it. Ask the pharmacist what you can take instead.")
        for avoid in card.avoid:
            if why is None and avoid.get("when") and set(avoid.get("drugs", [])) & set(drugs) \
                    and applies(avoid["when"], facts):
                why = f"card: {avoid['text'][:40]}"
        for conflict in content.conflicts:
            if set(conflict.get("avoid_classes", [])) & classes and applies(conflict.get("when"), facts):
                caution(conflict["caution"])
                if conflict.get("severity", "avoid") == "avoid" and why is None:
                    why = f"conflict: {conflict['id']}"
        if why is None:
            steps.append(step["text"])
        else:
            removed.append({"step": step["text"], "why": why})
    return Advice(card_id=card.id, title=card.title, summary=card.summary, steps=steps, cautions=cautions,
                  removed=removed, see_doctor=list(card.see_doctor), emergency=list(card.emergency),
                  source=card.source)
