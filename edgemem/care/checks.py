"""Checks a generated reply must pass, sentence by sentence, before the patient reads it.

The reply is released one complete sentence at a time (``SentenceGate``). A sentence is held back
when it names a medicine that is not in the card's kept steps for this patient (an unsupported
drug, or one the personalisation removed), when it gives a dose or number the card and facts do
not contain, or when it repeats an earlier sentence. The first failing sentence ends the model's
part: the rest of the reply is the card's own text for this patient, so the patient never reads an
unchecked medicine recommendation. Streaming costs one sentence of delay, not the whole reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .medicines import Lexicon
from .personalise import Advice

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
RELEASE_CHARS = 80
# Words for a kind of medicine that name no product but still recommend one ("you need
# antibiotics"): held to the same rule as a named medicine.
_GENERIC = re.compile(r"\b(?:antibiotics?|painkillers?|pain killers?|steroids?|antihistamines?|"
                      r"sleeping (?:pills?|tablets?)|anti-?inflammator\w*|decongestants?|laxatives?)\b", re.I)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|ml|mcg|g|tablets?|pills?|times|hours?|%)?\b")


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", s.casefold()).strip()


@dataclass
class SentenceGate:
    """Feed model pieces in; get back the sentences safe to show, and whether it fell back."""

    advice: Advice
    lexicon: Lexicon
    allowed_text: str = ""
    released: list[str] = field(default_factory=list)
    failed: str | None = None
    _buffer: str = ""
    _seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        source = " ".join([self.advice.summary, *self.advice.steps, *self.advice.cautions,
                           *self.advice.see_doctor, *self.advice.emergency, self.allowed_text])
        self._allowed_meds = {m["name"] for m in self.lexicon.medicines_in(" ".join(self.advice.steps))}
        self._mentioned_ok = {m["name"] for m in self.lexicon.medicines_in(source)}
        self._numbers = {n.group(0).strip() for n in _NUMBER.finditer(source)}
        kept = " ".join(self.advice.steps)
        self._allowed_generic = {g.group(0).casefold().rstrip("s") for g in _GENERIC.finditer(kept)}
        self._mentioned_generic = {g.group(0).casefold().rstrip("s") for g in _GENERIC.finditer(source)}

    def check(self, sentence: str) -> str | None:
        """Why this sentence may not be shown, or None."""
        key = _norm(sentence)
        if key and key in self._seen:
            return "repeated"
        for med in self.lexicon.medicines_in(sentence):
            name = med["name"]
            if name not in self._allowed_meds:
                # Named in a caution ("do not take ibuprofen") is fine only in a negative sentence.
                if not (name in self._mentioned_ok and re.search(r"\b(?:not|avoid|never|don't)\b", sentence.casefold())):
                    return f"unsupported medicine: {name}"
        negative = re.search(r"\b(?:not|avoid|never|don't|no)\b", sentence.casefold())
        for g in _GENERIC.finditer(sentence):
            word = g.group(0).casefold().rstrip("s")
            if word not in self._allowed_generic and not (word in self._mentioned_generic and negative):
                return f"unsupported medicine: {g.group(0)}"
        for n in _NUMBER.finditer(sentence):
            if n.group(0).strip() not in self._numbers:
                return f"unsupported number: {n.group(0).strip()}"
        return None

    def feed(self, piece: str) -> list[str]:
        """Sentences completed by ``piece`` that passed; after a failure, nothing more."""
        if self.failed is not None:
            return []
        self._buffer += piece
        parts = _SENTENCE_END.split(self._buffer)
        self._buffer = parts.pop() if parts else ""
        # A long run with no sentence end (a list, a run-on) is released at a clause or word
        # boundary, checked on its own, so the first text never waits for a full stop.
        if len(self._buffer) > RELEASE_CHARS:
            cut = max(self._buffer.rfind(", "), self._buffer.rfind("; "))
            if cut < RELEASE_CHARS // 2 and len(self._buffer) > 3 * RELEASE_CHARS:
                cut = self._buffer.rfind(" ")  # a run-on with no clause break at all
            if cut > 0:
                parts.append(self._buffer[:cut + 1].rstrip())
                self._buffer = self._buffer[cut + 1:].lstrip()
        return self._pass([p for p in parts if p.strip()])

    def finish(self) -> list[str]:
        """The last sentence, if complete (a cut-off fragment is dropped), or the fallback."""
        out: list[str] = []
        tail = self._buffer.strip()
        self._buffer = ""
        if self.failed is None and tail and tail[-1] in ".!?":
            out = self._pass([tail])
        if self.failed is not None or not self.released:
            out += self.fallback()
        return out

    def fallback(self) -> list[str]:
        text = self.advice.text(max_steps=4)
        return [s for s in (_SENTENCE_END.split(text)) if s.strip() and _norm(s) not in self._seen]

    def _pass(self, sentences: list[str]) -> list[str]:
        out = []
        for s in sentences:
            why = self.check(s)
            if why is not None:
                if why == "repeated":
                    continue
                self.failed = why
                break
            self._seen.add(_norm(s))
            self.released.append(s)
            out.append(s)
        return out
