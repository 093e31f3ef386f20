"""De-identification of outbox text: names, addresses, phone numbers, e-mails, dates, id numbers.

What leaves the device should teach the model how patients talk about their health, not who they
are. This is a rule-based scrubber (regular expressions, a short list of common given names, and
the identifiers the device itself knows, such as the patient id), run on every text before it is
packaged. Each finding becomes a typed placeholder (``[NAME]``, ``[ADDRESS]``, ``[PHONE]``,
``[EMAIL]``, ``[DATE]``, ``[ID]``) so the training text keeps its shape.

Limits, honestly: rules miss what they do not describe. A name that is not in the list and not
introduced by a cue ("my name is", "I'm", a title such as "Dr."), a lower-case name, a street
without a number or a common suffix, a date written in words without a month name ("the third of
last month"), or a rare disease that identifies a person on its own all pass through. Years alone
are kept (ages and onset years matter medically). Consent, not this scrubber, is what makes
sharing allowed; the scrubber reduces what a lost stick or a curious trainer can learn.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

# A short list of common given names (several languages); a cue-less capitalized word is treated
# as a name only if it is here. Extend per deployment with ``Deidentifier(extra_names=...)``.
COMMON_NAMES = frozenset("""
aaron adam ahmed aisha alex alexander ali alice amelia amy ana andrea andrew angela anna anne
anthony antonio barbara ben benjamin brian carlos carol caroline catherine charles charlotte chloe
chris christian christina christopher claire daniel david deborah dennis diana donald dorothy
edward elena elizabeth ella emily emma eric eva fatima francesco frank gabriel george grace hannah
hans harry helen henry isabella jack jacob james jan jane jason jennifer jessica joan john jonathan
jose joseph joshua julia karen katharina kevin laura lea linda lisa lucas lucy luis maria mark
martha martin mary matthew michael michelle mohammed muhammad nancy nicole noah olivia oliver
patricia paul peter rachel rebecca richard robert ruth ryan sara sarah sebastian sophia sophie
stefan stephen steven susan thomas timothy tom ursula victoria william wolfgang yusuf zoe
""".split())

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_STREET = (r"(?:street|st|avenue|ave|road|rd|lane|ln|boulevard|blvd|drive|dr|way|court|ct|place|pl|"
           r"square|sq|terrace|close|crescent|highway|hwy|parkway|alley)")
_NAME = r"[A-ZÀ-Þ][a-zß-ÿ'’-]+"

# Order matters: e-mails before names, dates before phone numbers (an ISO date is digits too).
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("DATE", re.compile(
        r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2}))\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTHS}\.?,?(?:\s+\d{{4}})?\b"
        rf"|\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b",
        re.IGNORECASE)),
    ("ID", re.compile(
        r"\b\d{3}-\d{2}-\d{4}\b"
        r"|\b(?:patient|insurance|member|mrn|nhs|social security|ssn|id|passport)\s*"
        r"(?:number|no\.?|#|id)?\s*(?:is\s*)?:?\s*(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b",
        re.IGNORECASE)),
    ("PHONE", re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{5,}\d(?![\w/])")),
    ("ADDRESS", re.compile(
        rf"\b\d{{1,5}}[a-z]?\s+(?:{_NAME}\s+){{1,3}}(?i:{_STREET})\b"
        rf"|(?<=, )\d{{4,5}}\s+{_NAME}\b"
        rf"|\b{_NAME}(?:straße|strasse|str\.|weg|gasse|platz|allee|ring)\s+\d{{1,4}}[a-z]?\b"
        r"|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")),
    ("NAME", re.compile(
        rf"(?:(?<=\bmy name is )|(?<=\bMy name is )|(?<=\bcall me )|(?<=\bCall me )|(?<=\bI'm )|(?<=\bI’m )"
        rf"|(?<=\bI am )|(?<=\bthis is )|(?<=\bThis is ))({_NAME}(?:\s+{_NAME})?)"
        rf"|\b(?:Dr|Mr|Mrs|Ms|Miss|Prof|Nurse|Doctor|Herr|Frau)\.?\s+{_NAME}(?:\s+{_NAME})?")),
]
# Words a cue like "I am" is followed by that are not names ("I am Diabetic" at a sentence start).
_NOT_NAMES = frozenset("""
a an the not so very also just still really allergic diabetic pregnant fine ok okay sorry sure
feeling worried afraid here there back tired sick better worse glad happy taking on in at going
""".split())


@dataclass
class Deidentifier:
    """Scrub identifying text; ``known`` holds the device's own identifiers (patient ids, names)."""

    known: Iterable[str] = ()
    extra_names: Iterable[str] = ()
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        names = set(COMMON_NAMES) | {n.lower() for n in self.extra_names}
        self._given = re.compile(rf"\b(?i:{'|'.join(sorted(map(re.escape, names)))})\b(?:\s+{_NAME})?")
        known = sorted({k for k in self.known if k and len(k) >= 2}, key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(k) for k in known), re.IGNORECASE) if known else None

    def _sub(self, label: str, pattern: re.Pattern[str], text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            found = m.group(0)
            if label == "NAME" and found.split()[0].lower().strip(".") in _NOT_NAMES:
                return found
            if label == "PHONE" and sum(c.isdigit() for c in found) < 7:
                return found
            self.counts[label] += 1
            return f"[{label}]"

        return pattern.sub(repl, text)

    def __call__(self, text: str) -> str:
        if self._known is not None:
            text = self._sub("ID", self._known, text)
        for label, pattern in _RULES:
            text = self._sub(label, pattern, text)
        # Given names from the list only when capitalized as a name would be.
        text = self._given.sub(lambda m: self._given_repl(m), text)
        return text

    def _given_repl(self, m: re.Match[str]) -> str:
        found = m.group(0)
        if not found[:1].isupper():
            return found
        self.counts["NAME"] += 1
        return "[NAME]"
