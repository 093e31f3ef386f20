"""Red-flag triage: recognise an emergency in what a patient types, before any model sees it.

A 135M-parameter model cannot be trusted to answer "my chest is crushing and my left arm is numb"
safely, so the assistant calls :func:`check` first and, on a match, shows a fixed message with the
emergency number from the firmware profile instead of generating. The detector is deterministic
(normalization, fixed rules, fixed context cues; no model, no randomness), so the same text always
gets the same answer and its behaviour can be reviewed line by line and tested on a committed set
(``tests/data/redflags*.jsonl``; figures in docs/privacy.md).

Usage::

    flag = edgemem.safety.check(text, profile.emergency_number)
    if flag is not None:
        show(flag.message)  # never generate

Scope: English; a safety net, not a diagnosis. It leans towards flagging.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CATEGORIES: dict[str, str] = {
    "chest_pain": "possible heart attack",
    "stroke": "possible stroke",
    "bleeding": "severe bleeding",
    "breathing": "difficulty breathing or choking",
    "anaphylaxis": "severe allergic reaction",
    "suicide": "thoughts of suicide or self-harm",
    "overdose": "overdose or poisoning",
    "unconscious_seizure": "unconsciousness or seizure",
    "burns": "serious burn",
    "infant_fever_meningitis": "fever in a young baby or signs of meningitis",
    "emergency": "medical emergency",
}

_ADVICE: dict[str, str] = {
    "chest_pain": "Stop what you are doing, sit down, and do not drive yourself.",
    "stroke": "Note the time the symptoms started. Do not eat or drink.",
    "bleeding": "Press firmly on the wound with a clean cloth and keep pressing.",
    "breathing": "Sit upright. If someone is choking, give back blows and abdominal thrusts.",
    "anaphylaxis": "Use an adrenaline auto-injector (EpiPen) now if one is available.",
    "suicide": "You are not alone. Please stay with someone you trust while you call.",
    "overdose": "Keep the packet or bottle with you. Do not try to make anyone vomit.",
    "unconscious_seizure": "Do not put anything in their mouth. Lay them on their side once still.",
    "burns": "Cool the burn under cool running water for 20 minutes. Remove jewellery near it.",
    "infant_fever_meningitis": "Do not wait for more symptoms to appear.",
    "emergency": "Stay where you are and tell someone nearby.",
}


@dataclass(frozen=True)
class RedFlag:
    """An emergency recognised in a message: what kind, the fixed message to show, and why."""

    category: str
    message: str
    matched: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def message_for(category: str, emergency_number: str) -> str:
    """The fixed message for a category: the same words every time, with the local number."""
    what = CATEGORIES.get(category, CATEGORIES["emergency"])
    advice = _ADVICE.get(category, _ADVICE["emergency"])
    return (f"This may be an emergency ({what}). Call {emergency_number} now, or ask a member of "
            f"staff to call for you. {advice} This assistant cannot help with emergencies.")


def check(text: str, emergency_number: str = "112") -> RedFlag | None:
    """Return a ``RedFlag`` if ``text`` describes an emergency happening now, else ``None``.

    Never raises on any string (empty, huge, binary-looking, control characters); non-strings
    are a programming error (``TypeError``). Input beyond 20,000 characters is checked on its
    first and last 10,000 characters: a kiosk message is short, and the check must stay fast.
    """
    from .detector import evaluate

    if not isinstance(text, str):
        raise TypeError("check() needs a str")
    if len(text) > 20_000:
        text = text[:10_000] + "\n" + text[-10_000:]
    found = evaluate(text)
    if found is None:
        return None
    category, matched = found
    return RedFlag(category=category, message=message_for(category, emergency_number), matched=matched)


__all__ = ["CATEGORIES", "RedFlag", "check", "message_for"]
