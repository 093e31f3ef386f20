"""Dialogue preference (concise / detailed / polite), the paper's three styles.

Two kinds of evidence. Explicit statements ("keep it short", "please explain in detail", "be
gentle with me") decide outright and are remembered. Without one, the style of the patient's own
turns votes: people who write short, curt turns tend to want short answers; long, question-rich
turns ask for detail; greetings, please/thank-you and apologies mark a polite register. The
result is kept in the patient profile with its evidence counts, and becomes the prompt's style
instruction.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from .text import fold, words

STYLES = ("concise", "detailed", "polite")

INSTRUCTIONS = {
    "concise": "Answer briefly: two or three short sentences, the key advice first, no preamble.",
    "detailed": "Answer in detail: explain causes, what to do step by step, and when to see a doctor.",
    "polite": "Answer warmly and politely: greet the patient, acknowledge how they feel, thank them.",
}

# Outright requests for a style. Strong phrases decide alone; generic words ("detailed", "briefly")
# only with preference framing ("I prefer", "please always", "from now on"), because "can you give a
# detailed description of the rash" asks for detail once and is no standing preference.
_EXPLICIT = {
    "concise": re.compile(r"\b(keep (it|things|answers?|your answers?) (short|brief|simple)|short answers?|be brief|"
                          r"to the point|just the (main|key) points?|no long (answers?|explanations?)|tl;?dr|"
                          r"prefer concise|straight answers?|quick answers?|don't need (all )?the details)\b"),
    "detailed": re.compile(r"\b(in detail|detailed (explanations?|answers?|information)|explain (everything|fully|"
                           r"thoroughly)|all the details|full explanations?|prefer detailed|as much information|"
                           r"understand everything)\b"),
    "polite": re.compile(r"\b(be (polite|gentle|kind|nice)|gently|politely|courteous|respectful|prefer polite|"
                         r"with kindness|soft tone|kind words)\b"),
}
_WEAK = {
    "concise": re.compile(r"\b(brief|briefly|concise|short|quick)\b"),
    "detailed": re.compile(r"\b(detail|detailed|details|thorough|elaborate|step by step|more information)\b"),
    "polite": re.compile(r"\b(polite|kind|gentle|warm|friendly)\b"),
}
_FRAMING = re.compile(r"\b(i (prefer|like|want|need|would like|'d like)|i'd (prefer|like)|i like it when|"
                      r"please always|always|from now on|in general|i appreciate|works best for me|"
                      r"(answers?|explanations?) (that are|to be))\b")
_POLITE_MARKERS = re.compile(r"\b(please|thank you|thanks|thank|appreciate|grateful|sorry|excuse me|kindly|"
                             r"good (morning|afternoon|evening)|hello|hi|dear|would you mind|could you|"
                             r"if you don't mind|have a (nice|good|great) day)\b")


def explicit_preference(text: str) -> str | None:
    """A style the text asks for outright, or None."""
    f = fold(text)
    for style in ("concise", "detailed", "polite"):
        if _EXPLICIT[style].search(f):
            return style
    if _FRAMING.search(f):
        for style in ("concise", "detailed", "polite"):
            if _WEAK[style].search(f):
                return style
    return None


def style_votes(user_turns: Iterable[str]) -> dict[str, float]:
    """Implicit evidence from how the patient writes (not what they ask for)."""
    votes = {s: 0.0 for s in STYLES}
    n = 0
    for t in user_turns:
        f = fold(t)
        w = words(f)
        if not w:
            continue
        n += 1
        polite = len(_POLITE_MARKERS.findall(f))
        votes["polite"] += min(polite, 3) * 0.5
        if len(w) <= 12:
            votes["concise"] += 0.6
        elif len(w) >= 35:
            votes["detailed"] += 0.6
        q = f.count("?")
        if q >= 2 or re.search(r"\b(why|how does|how do|what causes|could you explain|can you explain)\b", f):
            votes["detailed"] += 0.5
    if n:
        for s in votes:
            votes[s] /= n
    return votes


def detect(user_turns: Iterable[str], stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the updated preference record ``{style, source, votes, explicit}``.

    An explicit statement (in these turns, or remembered from before) wins over style votes; the
    latest explicit statement wins over older ones.
    """
    turns = list(user_turns)
    rec = dict(stored or {})
    explicit = rec.get("explicit")
    for t in turns:
        e = explicit_preference(t)
        if e:
            explicit = e
    votes = style_votes(turns)
    old = rec.get("votes") or {}
    old_n = float(rec.get("n_turns", 0))
    n = len(turns)
    if old and old_n + n > 0:
        votes = {s: (old.get(s, 0.0) * old_n + votes[s] * n) / (old_n + n) for s in STYLES}
    if explicit:
        style, source = explicit, "explicit"
    elif n + old_n == 0:
        style, source = None, "none"
    else:
        style, source = max(STYLES, key=lambda s: (votes[s], -STYLES.index(s))), "style"
        if votes[style] <= 0.05:
            style, source = None, "none"
    return {"style": style, "source": source, "votes": {k: round(v, 4) for k, v in votes.items()},
            "explicit": explicit, "n_turns": int(old_n + n)}


def instruction(style: str | None) -> str:
    return INSTRUCTIONS.get(style or "", "")
