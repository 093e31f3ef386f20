"""The values the memory hands out: hits, notes, prompt plans.

Plain dataclasses, so the server can JSON them and the evaluation can compare them without
importing SQLite or usearch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TIERS = ("working", "short", "long", "turn", "summary")
# What a note is about. The first three are never forgotten by decay and are always promoted.
KINDS = ("medication", "allergy", "condition", "symptom", "history", "personal", "preference",
         "advice", "other")
NEVER_FORGET = frozenset({"medication", "allergy", "condition"})
# Consolidated at once rather than by frequency: what a patient says once about who they are and
# how they want to be spoken to is rarely repeated, and the ring would evict it.
PROMOTE_AT_ONCE = NEVER_FORGET | {"preference", "personal", "history"}
# The ``speaker`` of the kiosk's own replies. They stay in the session's transcript (the next
# prompt needs them) but are never a source of facts: no notes, no summary lines, no vectors, and
# recall never brings them back; what was advised is remembered as the card's id instead.
KIOSK_SPEAKER = "kiosk"


@dataclass
class Hit:
    """One retrieved item. ``source_ids`` are the turn ids it came from (provenance)."""

    text: str
    score: float
    tier: str
    source_ids: list[str] = field(default_factory=list)
    memory_id: int | None = None
    kind: str | None = None
    time: float | None = None
    why: dict[str, Any] = field(default_factory=dict)
    speaker: str | None = None  # who said it (turns only)

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not explain:
            d.pop("why")
        return d


@dataclass
class Note:
    """An atomic fact about a patient, as rehearsal extracts it.

    ``subject`` names what the fact is about ("ibuprofen", "penicillin", "back pain") so that a
    later note about the same subject can update or contradict it; ``negated`` marks "I stopped
    taking ibuprofen" / "no longer".
    """

    text: str
    kind: str
    subject: str
    negated: bool = False
    source_ids: list[str] = field(default_factory=list)
    time: float | None = None
    confidence: float = 1.0

    @property
    def important(self) -> bool:
        return self.kind in PROMOTE_AT_ONCE


@dataclass
class PromptPlan:
    """Messages for the engine, plus what went in and why (``--explain``)."""

    messages: list[dict[str, str]]
    explain: list[dict[str, Any]]
    tokens: int = 0
    budget: int = 0
    # Session state for the next prompt (``assemble``'s ``earlier_recall`` and ``first_turn``):
    # this question's recall block as rendered, and the turn the conversation window opens at.
    recall: str | None = None
    first_turn: Any = None
