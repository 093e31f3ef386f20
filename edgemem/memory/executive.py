"""The executive: what moves from short-term to long-term memory, and how it merges there.

Rules, after the paper and mem0:
- *Re-mention is rehearsal.* A new note about a (kind, subject) already in the short-term ring
  counts as an access of that note (its sources merge); it is not a second note.
- *Promotion.* A ring note is consolidated into long-term memory when it was accessed at least
  ``threshold`` times within ``window_s`` (the paper's frequency rule) or it is important
  (medications, allergies, conditions: the kiosk must never lose them; and stated preferences,
  personal details and history, which people say once and the ring would evict).
- *Merge, mem0-style.* Consolidating a note against long-term memory is one of:
  ``ADD`` (nothing about it yet), ``UPDATE`` (same subject, new content; a contradiction such as
  "I stopped taking ibuprofen" flips the memory and keeps the old text in its history),
  ``NOOP`` (a near duplicate: embedding cosine >= ``dup_cosine`` or string similarity >=
  ``dup_similarity``; sources merge, the memory is reinforced). ``DELETE`` is the patient's own
  request (``MemoryService.delete_memory``).
- A note that contradicts a long-term memory updates it at once, promoted or not: a stale
  "takes ibuprofen" must not survive the session that said otherwise.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .short_term import ShortNote, ShortTermBuffer
from .store import Store
from .text import similarity
from .types import NEVER_FORGET, PROMOTE_AT_ONCE, Note


@dataclass(frozen=True)
class ExecutivePolicy:
    threshold: int = 2  # accesses within the window to promote (the paper's frequency rule)
    window_s: float = 30 * 86400.0
    dup_cosine: float = 0.92
    dup_similarity: float = 0.85


Nearest = Callable[[int, np.ndarray], list[tuple[int, float]]]  # (pid, vector) -> [(memory id, cosine)]
EmbedTexts = Callable[[Sequence[str]], "np.ndarray | None"]


class Executive:
    def __init__(self, store: Store, policy: ExecutivePolicy, nearest: Nearest, embed: EmbedTexts,
                 index_vectors: "Callable[[int, list[tuple[int, np.ndarray]]], None] | None" = None) -> None:
        self.store = store
        self.policy = policy
        self.nearest = nearest
        self.embed = embed
        self.index_vectors = index_vectors

    def rehearse(self, ring: ShortTermBuffer, notes: Sequence[Note], session_id: str | None,
                 now: float) -> list[ShortNote]:
        """Put new notes into the ring (re-mentions become accesses); return the ring notes touched."""
        touched = []
        for n in notes:
            existing = ring.find(n.kind, n.subject)
            if existing is not None and existing.negated == n.negated:
                if all(s in existing.source_ids for s in n.source_ids):
                    continue  # the same turn seen twice (replay, a second extractor): no new evidence
                ring.touch(existing, now)
                for s in n.source_ids:
                    if s not in existing.source_ids:
                        existing.source_ids.append(s)
                existing.text = n.text  # the newest wording wins ("it was a bit better" over "it came back")
                existing.event_time = n.time or existing.event_time
                touched.append(existing)
                continue
            if existing is not None:
                # The patient changed their story inside the short-term window: newest wins.
                ring.remove(existing.id)
            sn = ShortNote(text=n.text, kind=n.kind, subject=n.subject, negated=n.negated,
                           source_ids=list(n.source_ids), session_id=session_id, created=now, last_access=now,
                           accesses=[now], important=n.kind in PROMOTE_AT_ONCE, event_time=n.time,
                           promoted=existing.promoted if existing is not None else None)
            ring.add(sn)
            touched.append(sn)
        return touched

    def consolidate(self, pid: int, ring: ShortTermBuffer, now: float | None = None,
                    force: bool = False) -> list[dict]:
        """Promote what qualifies; apply contradictions; return the events (for ``--explain`` and tests)."""
        now = _time.time() if now is None else now
        events: list[dict] = []
        # One embedding call for every note that may become a new memory: its vector finds near
        # duplicates and, if it is added, goes into the index as is (never embedded twice).
        fresh = [n for n in ring if self._find(pid, n) is None and
                 (force or n.important or n.accesses_within(self.policy.window_s, now) >= self.policy.threshold)]
        vecs = self.embed([n.text for n in fresh]) if fresh else None
        vec_of = {n.id: vecs[i] for i, n in enumerate(fresh)} if vecs is not None else {}
        added: list[tuple[int, np.ndarray]] = []
        with self.store.tx():
            for note in list(ring):
                existing = self._find(pid, note)
                qualifies = force or note.important or \
                    note.accesses_within(self.policy.window_s, now) >= self.policy.threshold
                if existing is None and not qualifies:
                    continue
                if existing is None:
                    dup = self._near_duplicate(pid, note, vec_of.get(note.id))
                    if dup is not None:
                        self.store.update_memory(pid, dup["id"], source_ids=note.source_ids, event="NOOP",
                                                 now=now, reinforce=True)
                        note.promoted = dup["id"]
                        events.append({"event": "NOOP", "memory_id": dup["id"], "text": note.text})
                        continue
                    mid = self.store.add_memory(
                        pid, tier="long", kind=note.kind, text=note.text, source_ids=note.source_ids,
                        subject=note.subject, negated=note.negated, important=note.kind in NEVER_FORGET,
                        session_id=note.session_id, event_time=note.event_time, now=now,
                        access_count=note.access_count)
                    note.promoted = mid
                    if note.id in vec_of:
                        added.append((mid, vec_of[note.id]))
                    events.append({"event": "ADD", "memory_id": mid, "text": note.text})
                    continue
                note.promoted = existing["id"]
                if not self._newer_sources(note, existing):
                    continue  # already consolidated from these very turns
                if existing["negated"] != note.negated or \
                        similarity(note.text, existing["text"]) < self.policy.dup_similarity:
                    # A contradiction, or the same subject with new content: newest wins, history keeps the old.
                    self.store.update_memory(pid, existing["id"], text=note.text, source_ids=note.source_ids,
                                             negated=note.negated, event="UPDATE", now=now, reinforce=True)
                    events.append({"event": "UPDATE", "memory_id": existing["id"], "old": existing["text"],
                                   "text": note.text})
                else:
                    self.store.update_memory(pid, existing["id"], source_ids=note.source_ids, event="NOOP",
                                             now=now, reinforce=True)
                    events.append({"event": "NOOP", "memory_id": existing["id"], "text": note.text})
        if added and self.index_vectors is not None:
            self.index_vectors(pid, added)
        return events

    @staticmethod
    def _newer_sources(note: ShortNote, existing: dict) -> bool:
        return any(s not in existing["source_ids"] for s in note.source_ids)

    def _find(self, pid: int, note: ShortNote) -> dict | None:
        if note.promoted is not None:
            m = self.store.memory(pid, note.promoted)
            if m is not None and m["status"] == "active":
                return m
        if note.kind in ("other", "advice"):
            return None  # subjects of free sentences are too loose to merge on
        same = [m for m in self.store.memories(pid, tier="long", subject=note.subject) if m["kind"] == note.kind]
        return same[-1] if same else None

    def _near_duplicate(self, pid: int, note: ShortNote, vec: "np.ndarray | None" = None) -> dict | None:
        # Bounded work per note, whatever the patient's size: the latest memories of this kind by
        # string similarity, then the nearest ones by embedding.
        recent = [m for m in self.store.memories(pid, tier="long", kinds=[note.kind], newest_first=True, limit=64)
                  if m["negated"] == note.negated]
        for m in recent:
            if similarity(m["text"], note.text) >= self.policy.dup_similarity:
                return m
        if vec is None:
            return None
        near = self.nearest(pid, vec)
        if not near:
            return None
        found = {m["id"]: m for m in self.store.memories(pid, tier="long", kinds=[note.kind], ids=[i for i, _ in near])}
        for mid, sim in near:
            m = found.get(mid)
            if m is not None and m["negated"] == note.negated and sim >= self.policy.dup_cosine:
                return m
        return None
