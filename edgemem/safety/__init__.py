"""Red-flag triage: recognise an emergency in what a patient types, before any model sees it.

A 135M-parameter model cannot be trusted to answer "my chest is crushing and my left arm is numb"
safely, so the assistant calls :func:`check` first and, on a match, shows a fixed message with the
emergency number from the firmware profile instead of generating. Two stages, either of which flags:

1. **Auditable rules** (``rules.py``, judged in context by ``detector.py``) and **numbers**
   (``numbers.py``: a baby's age with a temperature, blood sugar, oxygen, pill counts, pregnancy
   weeks). The context cues (negation on both sides, past or resolved, hypothetical, figurative)
   may suppress a rule hit only when the learned stage also scores the message low.
2. **A learned classifier** (``classifier.py``) on the whole message, on each clause, and on the
   message read with the session's last few patient turns; its thresholds were chosen for recall
   on the dev split of the project's triage set (figures in docs/privacy.md).

Everything is deterministic: the same text and context always get the same answer.

Usage::

    flag = edgemem.safety.check(text, profile.emergency_number, context=earlier, classifier=clf)
    if flag is not None and flag.tier == "emergency":
        show(flag.message)  # never generate
    elif flag is not None:  # "urgent": a banner beside the reply, and the reply says "see staff now"
        ...

Scope: English; a safety net, not a diagnosis. It leans towards flagging.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from .pleasantry import is_pleasantry
from .classifier import Score, TriageClassifier, find_classifier
from .detector import candidates
from .normalize import clauses
from .kinds import BY_ID, CATEGORIES, KINDS, URGENT_MESSAGE, message_for
from .numbers import read as read_numbers

EMERGENCY = "emergency"
URGENT = "urgent"
MAX_CHECK_CHARS = 20_000
CONTEXT_TURNS = 3


@dataclass(frozen=True)
class Flag:
    """An emergency or urgent sign recognised in a message.

    ``stage`` says which part found it: ``rule``, ``number``, ``classifier``, ``context`` (the
    classifier on this message read with the session's earlier turns) or ``rule+classifier`` (a
    rule hit whose look-alike cue was overruled by a high classifier score). ``matched`` is the
    evidence: the rule's words, the number read, or the score. It may hold patient words, so it is
    shown to the patient and the developer, never written to the audit log.
    """

    category: str
    message: str
    matched: str
    tier: str = EMERGENCY
    stage: str = "rule"
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RedFlag = Flag  # the name of earlier releases


def _emergency(category: str, number: str, matched: str, stage: str, score: float | None) -> Flag:
    return Flag(category=category, message=message_for(category, number), matched=matched,
                tier=EMERGENCY, stage=stage, score=None if score is None else round(score, 4))


@dataclass(frozen=True)
class Evidence:
    """What both stages found in one message, before any threshold is applied.

    Split from the decision so the dev-split calibration (``export/triage.py``) can try many
    thresholds over the same evidence through the very code the device runs (``decide``).
    """

    numbers: tuple[Any, ...]
    rules: tuple[tuple[str, str, str | None], ...]
    message: Score | None
    clauses: tuple[Score, ...]
    with_context: Score | None
    context_only: Score | None


def gather(text: str, context: Sequence[str] = (), classifier: TriageClassifier | None = None) -> Evidence:
    """Run the rules, the number readers and (if given) the classifier on every view."""
    if not isinstance(text, str):
        raise TypeError("check() needs a str")
    if len(text) > MAX_CHECK_CHARS:
        text = text[:10_000] + "\n" + text[-10_000:]
    earlier = [c[-2000:] for c in context if isinstance(c, str) and c.strip()][-CONTEXT_TURNS:]
    nums = tuple(read_numbers(text, earlier))
    rules = tuple(candidates(text))
    if classifier is None:
        return Evidence(nums, rules, None, (), None, None)
    parts = clauses(text)
    clause_scores = tuple(classifier.score(p) for p in parts) if len(parts) > 1 else ()
    with_ctx = ctx_only = None
    if earlier:
        with_ctx = classifier.score(" . ".join([*earlier, text]))
        ctx_only = classifier.score(" . ".join(earlier))
    return Evidence(nums, rules, classifier.score(text), clause_scores, with_ctx, ctx_only)


def decide(ev: Evidence, thresholds: dict[str, float], emergency_number: str = "112") -> Flag | None:
    """The flag the evidence calls for under these thresholds (see ``check``)."""
    th = thresholds
    for hit in ev.numbers:
        if hit.tier == EMERGENCY:
            return _emergency(hit.category, emergency_number, hit.evidence, "number", None)
    for category, matched, cue in ev.rules:
        if cue is None:
            return _emergency(category, emergency_number, matched, "rule", None)
    score = ev.message
    if score is not None:
        for category, matched, cue in ev.rules:
            # A cue may only suppress when the learned stage agrees the message is a look-alike.
            if score.p_emergency >= th.get("overrule", 0.5):
                return _emergency(category, emergency_number, matched, "rule+classifier", score.p_emergency)
        if score.p_emergency >= th.get("message", 0.5):
            return _emergency(score.kind, emergency_number, f"score {score.p_emergency:.2f}",
                              "classifier", score.p_emergency)
        for s in ev.clauses:
            if s.p_emergency >= th.get("clause", 0.5):
                return _emergency(s.kind, emergency_number, f"clause score {s.p_emergency:.2f}",
                                  "classifier", s.p_emergency)
        t_ctx = th.get("context", 0.5)
        if (ev.with_context is not None and ev.context_only is not None
                and ev.with_context.p_emergency >= t_ctx and ev.context_only.p_emergency < t_ctx):
            return _emergency(ev.with_context.kind, emergency_number,
                              f"context score {ev.with_context.p_emergency:.2f}", "context",
                              ev.with_context.p_emergency)
    for hit in ev.numbers:
        if hit.tier == URGENT:
            return Flag(category=hit.category, message=URGENT_MESSAGE, matched=hit.evidence, tier=URGENT,
                        stage="number")
    if score is not None and score.p_urgent >= th.get("urgent", 1.01):
        return Flag(category=score.kind, message=URGENT_MESSAGE, matched=f"urgent score {score.p_urgent:.2f}",
                    tier=URGENT, stage="classifier", score=round(score.p_urgent, 4))
    return None


def check(text: str, emergency_number: str = "112", *, context: Sequence[str] = (),
          classifier: TriageClassifier | None = None) -> Flag | None:
    """Return a ``Flag`` if ``text`` describes an emergency (or an urgent sign), else ``None``.

    ``context``: the session's earlier patient turns, oldest first (the last three are read).
    ``classifier``: the bundle's learned stage; without one only the rules and numbers run, and a
    rule's look-alike cue suppresses it on its own (the behaviour of earlier releases).

    Order: a number-borne emergency, then an unsuppressed rule hit, then a suppressed rule hit the
    classifier overrules, then the classifier on the message, on each clause, and on the message
    with its context (only when the context alone scored low: the new message made it one); last
    the urgent tier. Never raises on any string (empty, huge, binary-looking, control characters);
    non-strings are a programming error (``TypeError``). Input beyond 20,000 characters is checked
    on its first and last 10,000 characters: a kiosk message is short, and the check must stay fast.
    """
    if is_pleasantry(text):
        return None  # "Hi", "thanks", "I see": no sign, and nothing new for the context (pleasantry.py)
    ev = gather(text, context, classifier)
    return decide(ev, classifier.thresholds if classifier is not None else {}, emergency_number)


__all__ = ["BY_ID", "CATEGORIES", "EMERGENCY", "Evidence", "Flag", "decide", "gather", "KINDS", "RedFlag", "Score", "TriageClassifier",
           "URGENT", "URGENT_MESSAGE", "check", "find_classifier", "is_pleasantry", "message_for"]
