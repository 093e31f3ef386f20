"""The medicine table as a lexicon: which medicine (and so which classes) a word names, and the
patient's structured facts read from what they said.

Matching is on whole words over case-folded text, longest names first, so "co-codamol" is found as
paracetamol + codeine and not as nothing, and "nurofen for children" before "nurofen". Brand names
and common misspellings come from the table (``names``), never from guesses here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

AGE_WORDS = {
    "infant": re.compile(r"\b(?:my baby|newborn|infant|\d{1,2} (?:weeks?|months?) old)\b"),
    "child": re.compile(r"\b(?:my (?:son|daughter|child|kid|toddler) is [1-9]|(?:[1-9]|1[01]) ?(?:years?|yrs?) old|"
                        r"my (?:toddler|little one))\b"),
    "teen": re.compile(r"\b(?:1[2-7] ?(?:years?|yrs?) old|teenager|i am 1[2-7])\b"),
    "older": re.compile(r"\b(?:(?:6[5-9]|[7-9]\d|1[01]\d) ?(?:years?|yrs?) old|i am (?:6[5-9]|[7-9]\d)|pensioner)\b"),
}
# Pregnancy and breastfeeding are read only when the patient says they are: "can I still get
# pregnant?", "my wife is pregnant" or "trying to get pregnant" made a kiosk tell men and women
# alike "You are pregnant, so ..." (10 of 30 replies read in the ablation).
_SAYS_PREGNANT = re.compile(r"\b(?:i'?m|i am|im|i'm now|currently)\s+(?:about\s+|around\s+)?(?:\d+\s*(?:weeks?|months?)\s+)?"
                            r"pregnant\b|\b\d+\s*(?:weeks?|months?)\s+pregnant\b|\bi'?m expecting\b|"
                            r"\bhas pregnancy: (?=.*\b(?:i'?m|i am|weeks)\b.*pregnant)")
_SAYS_BREASTFEEDING = re.compile(r"\b(?:i'?m|i am|im|currently)\s+(?:still\s+)?(?:breast-?\s?feeding|nursing)\b|"
                                 r"\bbreast-?\s?feeding my\b")
_ALLERGY = re.compile(r"\b(?:allerg\w*|reaction|react badly|rash from|cannot take|can't take|intoleran\w*)\b")
_NEG = re.compile(r"\b(?:not|no|never|don't|do not|stopped|used to|no longer)\b")


@dataclass
class PatientFacts:
    """What the kiosk knows about the patient, as ids of the medicine and condition tables."""

    medications: set[str] = field(default_factory=set)   # class ids
    medicines: set[str] = field(default_factory=set)     # generic names
    allergies: set[str] = field(default_factory=set)     # class ids
    conditions: set[str] = field(default_factory=set)
    pregnancy: bool = False
    breastfeeding: bool = False
    age: set[str] = field(default_factory=set)

    def notes(self, lex: "Lexicon") -> list[str]:
        """Short normalised notes for the prompt: never the patient's own sentences."""
        out = []
        if self.medicines:
            out.append("Takes: " + ", ".join(sorted(self.medicines)) + ".")
        if self.allergies:
            out.append("Allergic to: " + ", ".join(lex.class_label(c) for c in sorted(self.allergies)) + ".")
        if self.conditions:
            out.append("Conditions: " + ", ".join(lex.condition_label(c) for c in sorted(self.conditions)) + ".")
        if self.pregnancy:
            out.append("Pregnant.")
        if self.breastfeeding:
            out.append("Breastfeeding.")
        if self.age:
            out.append("Age group: " + ", ".join(sorted(self.age)) + ".")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"medications": sorted(self.medications), "medicines": sorted(self.medicines),
                "allergies": sorted(self.allergies), "conditions": sorted(self.conditions),
                "pregnancy": self.pregnancy, "breastfeeding": self.breastfeeding, "age": sorted(self.age)}


def _pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    alts = sorted({n.casefold() for n in names if n.strip()}, key=len, reverse=True)
    if not alts:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(a) for a in alts) + r")(?![\w-])")


class Lexicon:
    """Medicines, classes and conditions of the care content."""

    def __init__(self, medicines: Sequence[dict[str, Any]], classes: Sequence[dict[str, Any]],
                 conditions: Sequence[dict[str, Any]]) -> None:
        self.by_name: dict[str, dict[str, Any]] = {}
        for med in medicines:
            for n in [med["name"], *med.get("names", [])]:
                self.by_name.setdefault(n.casefold(), med)
        self.classes = {c["id"]: c for c in classes}
        self.conditions = {c["id"]: c for c in conditions}
        self._cond_by_name = {n.casefold(): c["id"] for c in conditions for n in [c.get("label", c["id"]), *c.get("names", [])]}
        self._med_re = _pattern(self.by_name)
        self._cond_re = _pattern(self._cond_by_name)
        self._class_re = _pattern([*self.classes, *(c.replace("_", " ") for c in self.classes)])

    def class_label(self, cid: str) -> str:
        return str(self.classes.get(cid, {}).get("label", cid.replace("_", " ")))

    def condition_label(self, cid: str) -> str:
        return str(self.conditions.get(cid, {}).get("label", cid.replace("_", " ")))

    def medicines_in(self, text: str) -> list[dict[str, Any]]:
        """The medicines a text names (each once, in order of appearance)."""
        if self._med_re is None:
            return []
        seen, out = set(), []
        for m in self._med_re.finditer(text.casefold()):
            med = self.by_name[m.group(0)]
            if med["name"] not in seen:
                seen.add(med["name"])
                out.append(med)
        return out

    def without_terms(self, text: str) -> str:
        """The text with every medicine, class and condition name blanked: what a message says
        besides the facts it states ("I take warfarin and my back hurts" -> "i take and my back hurts")."""
        out = text.casefold()
        for pattern in (self._cond_re, self._med_re, self._class_re):
            if pattern is not None:
                out = pattern.sub(" ", out)
        return out

    def classes_of(self, names: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for n in names:
            med = self.by_name.get(n.casefold())
            if med is not None:
                out.update(med.get("classes", []))
            elif n in self.classes:
                out.add(n)
        return out

    def facts_from_text(self, statements: Sequence[str]) -> PatientFacts:
        """Facts from the patient's own statements (memory notes or turns), one clause at a time:
        a medicine after an allergy word in its clause is an allergy, otherwise a medication; negated ones
        ("I don't take aspirin", "I stopped warfarin") are left out."""
        facts = PatientFacts()
        for statement in statements:
            for sentence in re.split(r"[.!?;\n]+", statement.casefold()):
                if not sentence.strip():
                    continue
                allergy_at = _ALLERGY.search(sentence)
                # A condition's name may hold a medicine's ("aspirin-sensitive asthma"): not a medicine taken.
                med_text = self._cond_re.sub(lambda m: " " * len(m.group(0)), sentence) \
                    if self._cond_re is not None else sentence
                # A memory note is "<fact>: <the patient's sentence>" ("Allergic to penicillin: I take
                # warfarin and ..."): the colon ends a clause when the patient's words follow it.
                for clause_m in re.finditer(r"[^,]+?(?=,|:\s*(?:i|im|i'm|my|we)\b|\band\b|\bbut\b|$)", med_text):
                    clause = clause_m.group(0)
                    at = _ALLERGY.search(clause)
                    # "I take warfarin and I'm allergic to penicillin": only what follows the
                    # allergy word, in its own clause, is an allergy.
                    for med in self.medicines_in(clause):
                        names = [n for n in [med["name"], *med.get("names", [])] if n.casefold() in clause]
                        pos = min(clause.find(n.casefold()) for n in names) if names else 0
                        if at is not None and pos > at.start():
                            facts.allergies.update(med.get("classes", []))
                        elif at is None and not _NEG.search(clause):
                            facts.medicines.add(med["name"])
                            facts.medications.update(med.get("classes", []))
                if allergy_at is not None and self._class_re is not None:
                    for m in self._class_re.finditer(sentence, allergy_at.start()):
                        facts.allergies.add(m.group(0).replace(" ", "_"))
                if self._cond_re is not None and not re.search(r"\b(?:no|not|never|don't have|do not have)\b", sentence):
                    for m in self._cond_re.finditer(sentence):
                        cid = self._cond_by_name[m.group(0)]
                        if cid == "pregnancy":
                            facts.pregnancy = facts.pregnancy or bool(_SAYS_PREGNANT.search(sentence))
                        elif cid == "breastfeeding":
                            facts.breastfeeding = facts.breastfeeding or bool(_SAYS_BREASTFEEDING.search(sentence))
                        else:
                            facts.conditions.add(cid)
                for group, pat in AGE_WORDS.items():
                    if pat.search(sentence):
                        facts.age.add(group)
        return facts
