"""Forgetting: Ebbinghaus retention with recall reinforcement, as MemoryBank does.

Retention of a memory is ``R = exp(-dt / (unit * S))``: ``dt`` is the time since it was last
recalled, ``S`` its stability, which starts at 1 and grows by 1 with every recall (search hit,
re-mention, use in a prompt). Below ``threshold`` a memory is *archived*: it stays in SQLite with
its history (a clinician can still see it, ``list --all`` shows it) but leaves retrieval, FTS and
the vector index. Medications, allergies and chronic conditions are never archived by decay: a
kiosk that forgets a penicillin allergy because nobody mentioned it for a month is dangerous.
The patient's stated preference (it is part of the profile) and session summaries (the record of
each visit) do not decay either; raw turns never do. What fades is transient: symptoms, advice,
personal asides, free notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .types import NEVER_FORGET

DAY = 86400.0


@dataclass(frozen=True)
class ForgettingPolicy:
    # One unit of stability holds a memory above 1/e for a month: kiosk visits are weeks or months
    # apart, and a week-long unit archived most of a patient's story between two visits.
    unit_s: float = 30 * DAY
    threshold: float = 0.05  # ~3 units of stability without recall

    def retention(self, last_access: float, stability: float, now: float) -> float:
        dt = max(0.0, now - last_access)
        return math.exp(-dt / (self.unit_s * max(stability, 1e-6)))

    def protected(self, kind: str, important: bool) -> bool:
        return kind in NEVER_FORGET or kind == "preference" or important

    @property
    def horizon_s(self) -> float:
        """Idle time per unit of stability after which retention falls below the threshold."""
        return -math.log(self.threshold) * self.unit_s

    PROTECTED_KINDS = tuple(sorted(NEVER_FORGET | {"preference"}))

    def should_archive(self, memory: dict, now: float) -> bool:
        if memory.get("status") != "active" or self.protected(memory["kind"], memory.get("important", False)):
            return False
        if memory.get("tier") == "summary":
            return False  # a session summary is the record that the visit happened
        return self.retention(memory["last_access"], memory["stability"], now) < self.threshold
