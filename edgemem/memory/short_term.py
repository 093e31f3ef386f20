"""Short-term memory: a fixed-capacity ring buffer of recent notes per patient.

The paper's STM holds what was just said, with how often each note has been recalled, so the
executive can promote what keeps coming back. Capacity comes from the firmware profile
(``short_term_capacity``): a Pi Zero keeps fewer notes than a kiosk PC. When full, the oldest,
least-recalled note leaves first.

Persistence: one encrypted file per patient (named by a hash of the patient's blinded key, so file
names say nothing), replaced atomically (write temp, fsync, rename, fsync the folder). It is not
rewritten on every turn: the file records the last turn it has rehearsed (``last_turn``), and the
service replays the turns SQLite holds after that one when it loads the ring. Notes are a
deterministic function of turns, so a restart or a SIGKILL loses nothing that was acknowledged,
and a turn costs one SQLite insert instead of an fsync'd file rewrite.
"""

from __future__ import annotations

import json
import time as _time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import fsutil
from ..privacy.cipher import Codec


@dataclass
class ShortNote:
    text: str
    kind: str
    subject: str
    negated: bool = False
    source_ids: list[str] = field(default_factory=list)
    session_id: str | None = None
    created: float = 0.0
    last_access: float = 0.0
    accesses: list[float] = field(default_factory=list)  # times it was recalled or re-mentioned
    important: bool = False
    promoted: int | None = None  # long-term memory id once consolidated
    event_time: float | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def access_count(self) -> int:
        return len(self.accesses)

    def accesses_within(self, window_s: float, now: float) -> int:
        return sum(1 for t in self.accesses if now - t <= window_s)


class ShortTermBuffer:
    """One patient's ring buffer; ``save()`` after changes (the service does)."""

    MAX_ACCESS_TIMES = 32

    def __init__(self, path: Path, codec: Codec, capacity: int, aad: bytes) -> None:
        self.path = path
        self.codec = codec
        self.capacity = capacity
        self.aad = aad
        self.notes: list[ShortNote] = []
        self.last_turn = 0  # internal id of the last turn rehearsed into this ring
        self.dirty = False
        self._terms: dict[tuple[str, str], frozenset[str]] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.codec.decrypt(self.path.read_bytes(), self.aad))
        except (ValueError, OSError):
            # A torn or foreign file cannot happen with atomic replace; if it does, start empty
            # rather than refuse to serve (long-term memory and raw turns are still in SQLite).
            self.notes = []
            return
        fields = set(ShortNote.__dataclass_fields__)
        self.notes = [ShortNote(**{k: v for k, v in n.items() if k in fields}) for n in data.get("notes", [])]
        self.last_turn = int(data.get("last_turn", 0))
        self._trim()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        notes = [dict(n.__dict__) for n in self.notes]
        blob = self.codec.encrypt(json.dumps({"v": 1, "last_turn": self.last_turn, "notes": notes}).encode(), self.aad)
        fsutil.write_bytes(self.path, blob)  # unique temp name: server + CLI never share a half-written file
        self.dirty = False

    def _trim(self) -> list[ShortNote]:
        evicted = []
        while len(self.notes) > self.capacity:
            # Oldest first, but a note recalled recently survives one more round than a cold one.
            victim = min(range(len(self.notes)),
                         key=lambda i: (self.notes[i].last_access + 3600.0 * self.notes[i].access_count, i))
            evicted.append(self.notes.pop(victim))
        return evicted

    def add(self, note: ShortNote) -> list[ShortNote]:
        """Append a note, returns what fell out of the ring."""
        self.dirty = True
        self.notes.append(note)
        return self._trim()

    def term_set(self, note: ShortNote) -> frozenset[str]:
        """The note's search terms, cached per (id, text): fuzzy search scans the ring per query."""
        from .text import terms

        key = (note.id, note.text)
        got = self._terms.get(key)
        if got is None:
            if len(self._terms) > 4 * self.capacity:
                self._terms.clear()
            got = self._terms[key] = frozenset(terms(note.text))
        return got

    def find(self, kind: str, subject: str) -> ShortNote | None:
        for n in reversed(self.notes):
            if n.kind == kind and n.subject == subject:
                return n
        return None

    def touch(self, note: ShortNote, now: float | None = None) -> None:
        now = _time.time() if now is None else now
        self.dirty = True
        note.accesses.append(now)
        del note.accesses[:-self.MAX_ACCESS_TIMES]
        note.last_access = now

    def remove(self, note_id: str) -> bool:
        before = len(self.notes)
        self.dirty = True
        self.notes = [n for n in self.notes if n.id != note_id]
        return len(self.notes) != before

    def __iter__(self) -> Iterator[ShortNote]:
        return iter(list(self.notes))

    def __len__(self) -> int:
        return len(self.notes)

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(n) for n in self.notes]

    def wipe(self) -> None:
        """Forget: overwrite then unlink (best effort against recovery on simple filesystems)."""
        self.notes = []
        self.dirty = False
        fsutil.shred(self.path)
        for tmp in fsutil.leftover_temps(self.path):
            tmp.unlink()
