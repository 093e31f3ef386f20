"""Long-term memory: one SQLite file, the source of truth for every patient.

Why these settings:
- WAL, so the kiosk's reader (search during a chat) never waits on a writer (consolidation).
- ``synchronous=FULL`` (the default; ``NORMAL`` on request): kiosks lose power, and a memory
  the patient saw acknowledged must survive that. In WAL mode NORMAL already survives a SIGKILL
  (the commit is in the OS page cache) but may lose the last commits on a *power cut*; FULL
  fsyncs every commit: ~8-11 ms here, more on SD cards, against a reply that takes hundreds of
  ms to generate. Imports batch hundreds of rows per transaction, so they barely notice. A
  device with a UPS may pass ``synchronous="NORMAL"``.
- ``secure_delete=ON``: ``forget`` overwrites the freed pages instead of leaving ciphertext and
  blinded tokens in the free list; it also checkpoints the WAL with TRUNCATE so the log holds no
  stale copies either.
- Every patient-related text (turns, notes, summaries, profile, session labels, provenance) and
  every embedding is AES-GCM ciphertext from ``Codec``, bound (AAD) to its table and patient so a
  row cannot be moved to another patient. Patients are looked up by a blinded key, never a name.
- FTS5 holds blinded tokens (``text.terms`` then ``codec.blind``) plus one patient token, so a
  search is ``p<id> AND (t1 OR t2 ...)``: isolation by construction, and BM25 over term identity.

Rows in the vector index and FTS use one key space: ``turn id * 2`` and ``memory id * 2 + 1``.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time as _time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import EdgememError
from ..privacy.cipher import Codec
from . import text as textmod

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ukey TEXT NOT NULL UNIQUE,
    name BLOB NOT NULL,
    created REAL NOT NULL,
    consent INTEGER NOT NULL DEFAULT 0,
    profile BLOB,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    label BLOB,
    started REAL NOT NULL,
    ended REAL
);
CREATE INDEX IF NOT EXISTS sessions_patient ON sessions(patient_id, started);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    tid TEXT NOT NULL,
    tid_enc BLOB NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    speaker BLOB,
    text BLOB NOT NULL,
    time REAL NOT NULL,
    emb BLOB,
    vgen INTEGER NOT NULL DEFAULT 0,
    UNIQUE (patient_id, tid)
);
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, seq);
CREATE INDEX IF NOT EXISTS turns_vgen ON turns(patient_id, vgen);
CREATE INDEX IF NOT EXISTS turns_pending ON turns(patient_id) WHERE emb IS NULL;
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    session_id TEXT,
    tier TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    subject TEXT,
    subj BLOB,
    negated INTEGER NOT NULL DEFAULT 0,
    important INTEGER NOT NULL DEFAULT 0,
    text BLOB NOT NULL,
    source_ids BLOB NOT NULL,
    stability REAL NOT NULL DEFAULT 1.0,
    access_count INTEGER NOT NULL DEFAULT 0,
    last_access REAL NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    event_time REAL,
    emb BLOB,
    vgen INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS memories_patient ON memories(patient_id, status, tier);
CREATE INDEX IF NOT EXISTS memories_subject ON memories(patient_id, subject);
CREATE INDEX IF NOT EXISTS memories_vgen ON memories(patient_id, vgen);
CREATE INDEX IF NOT EXISTS memories_pending ON memories(patient_id) WHERE emb IS NULL;
CREATE INDEX IF NOT EXISTS memories_recent ON memories(patient_id, tier, kind, updated);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    patient_id INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    old BLOB,
    new BLOB,
    source_ids BLOB,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_memory ON history(memory_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, pid, tokenize = 'unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS fts_vocab USING fts5vocab(fts, 'row');
"""


def turn_key(turn_id: int) -> int:
    return turn_id * 2


def memory_key(memory_id: int) -> int:
    return memory_id * 2 + 1


def split_key(key: int) -> tuple[str, int]:
    return ("memory", key // 2) if key % 2 else ("turn", key // 2)


class Store:
    """Encrypted rows in SQLite. Methods take the internal patient id (``pid``) from ``patient()``."""

    def __init__(self, path: str | Path, codec: Codec, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.codec = codec
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None,
                               check_same_thread=False)
        self.conn = conn
        self._db: Any = None
        conn.execute("PRAGMA journal_mode=WAL")
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise EdgememError(f"synchronous must be NORMAL, FULL or EXTRA, got {synchronous!r}")
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        try:
            self.path.chmod(0o600)
        except OSError:
            pass
        self._depth = 0
        with self.tx():
            for statement in _statements(SCHEMA):
                conn.execute(statement)
            # Added for crash-safe session ends (issue 18): when an end began. Additive, so the
            # schema version stays and an older edgemem still opens the file.
            if "ending" not in {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}:
                conn.execute("ALTER TABLE sessions ADD COLUMN ending REAL")
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                conn.execute("INSERT INTO meta VALUES ('key_id', ?)", (codec.key_id.hex(),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise EdgememError(f"{self.path}: memory schema {row[0]} is newer than this edgemem ({SCHEMA_VERSION})")
            else:
                # A codec under another key would see an empty memory (patients are found by a
                # blinded key) and write new rows beside the old: refuse it instead.
                kid = conn.execute("SELECT value FROM meta WHERE key='key_id'").fetchone()
                known = {codec.key_id.hex(), *(k.hex() for k in getattr(codec, "key_ids", ()))}
                if kid is not None and kid[0] not in known:
                    from ..privacy.cipher import KeyMismatchError

                    raise KeyMismatchError("the memory database was written with another data key: "
                                           "wrong key file or passphrase")

    @property
    def db(self) -> Any:
        """The connection as a ``sqlite_utils.Database``, made on first use: importing sqlite-utils
        costs ~3.5 MB of RSS, and the store's own queries go through ``conn``."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # --- transactions -------------------------------------------------------------------------
    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (nested calls join the outer one). BEGIN IMMEDIATE: no upgrade deadlocks."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def close(self) -> None:
        try:
            self.conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            pass
        self.conn.close()

    # --- crypto helpers -----------------------------------------------------------------------
    def seal(self, pid: int, table: str, data: str | bytes) -> bytes:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return self.codec.encrypt(raw, f"{table}:{pid}".encode())

    def open(self, pid: int, table: str, blob: bytes | None) -> str:
        if blob is None:
            return ""
        return self.codec.decrypt(bytes(blob), f"{table}:{pid}".encode()).decode("utf-8")

    def open_bytes(self, pid: int, table: str, blob: bytes) -> bytes:
        return self.codec.decrypt(bytes(blob), f"{table}:{pid}".encode())

    def blind_terms(self, text: str) -> list[str]:
        return [self.codec.blind(t) for t in textmod.terms(text)]

    def ukey(self, user: str) -> str:
        return self.codec.blind("\0user\0" + user)

    # --- patients -----------------------------------------------------------------------------
    def patient(self, user: str, create: bool = True) -> int | None:
        if not isinstance(user, str) or not user.strip():
            raise EdgememError("user id must be a non-empty string")
        try:
            user.encode("utf-8")
        except UnicodeEncodeError:
            raise EdgememError("user id is not valid Unicode text") from None
        key = self.ukey(user)
        row = self.conn.execute("SELECT id FROM patients WHERE ukey=?", (key,)).fetchone()
        if row:
            return int(row[0])
        if not create:
            return None
        with self.tx() as c:
            row = c.execute("SELECT id FROM patients WHERE ukey=?", (key,)).fetchone()
            if row:
                return int(row[0])
            cur = c.execute("INSERT INTO patients (ukey, name, created) VALUES (?, ?, ?)",
                            (key, b"", _time.time()))
            pid = int(cur.lastrowid)
            c.execute("UPDATE patients SET name=? WHERE id=?", (self.seal(pid, "patients", user), pid))
        return pid

    def users(self) -> list[tuple[int, str]]:
        rows = self.conn.execute("SELECT id, name FROM patients ORDER BY id").fetchall()
        return [(int(r[0]), self.open(int(r[0]), "patients", r[1])) for r in rows]

    def profile(self, pid: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT profile FROM patients WHERE id=?", (pid,)).fetchone()
        if not row or row[0] is None:
            return {}
        return json.loads(self.open(pid, "profile", row[0]))

    def set_profile(self, pid: int, profile: dict[str, Any]) -> None:
        blob = self.seal(pid, "profile", json.dumps(profile, sort_keys=True))
        with self.tx() as c:
            c.execute("UPDATE patients SET profile=? WHERE id=?", (blob, pid))

    def consent(self, pid: int) -> bool:
        row = self.conn.execute("SELECT consent FROM patients WHERE id=?", (pid,)).fetchone()
        return bool(row and row[0])

    def set_consent(self, pid: int, value: bool) -> None:
        with self.tx() as c:
            c.execute("UPDATE patients SET consent=? WHERE id=?", (1 if value else 0, pid))

    def generation(self, pid: int) -> int:
        row = self.conn.execute("SELECT generation FROM patients WHERE id=?", (pid,)).fetchone()
        return int(row[0]) if row else 0

    def bump_generation(self, pid: int) -> int:
        with self.tx() as c:
            c.execute("UPDATE patients SET generation = generation + 1 WHERE id=?", (pid,))
            return self.generation(pid)

    # --- sessions and turns -------------------------------------------------------------------
    def add_session(self, pid: int, sid: str, label: str | None, started: float) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO sessions (id, patient_id, label, started) VALUES (?, ?, ?, ?)",
                      (sid, pid, self.seal(pid, "sessions", label) if label else None, started))

    def session(self, pid: int, sid: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT id, label, started, ended FROM sessions WHERE id=? AND patient_id=?",
                                (sid, pid)).fetchone()
        if not row:
            return None
        return {"id": row[0], "label": self.open(pid, "sessions", row[1]) if row[1] else None,
                "started": row[2], "ended": row[3]}

    def sessions(self, pid: int) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, label, started, ended FROM sessions WHERE patient_id=? "
                                 "ORDER BY started, rowid", (pid,)).fetchall()
        return [{"id": r[0], "label": self.open(pid, "sessions", r[1]) if r[1] else None,
                 "started": r[2], "ended": r[3]} for r in rows]

    def end_session(self, pid: int, sid: str, ended: float) -> None:
        with self.tx() as c:
            c.execute("UPDATE sessions SET ended=?, ending=NULL WHERE id=? AND patient_id=?", (ended, sid, pid))

    def mark_ending(self, pid: int, sid: str, now: float) -> None:
        """Record (committed) that a session's end began: a crash before ``end_session`` leaves
        this mark for the next start to finish."""
        with self.tx() as c:
            c.execute("UPDATE sessions SET ending=? WHERE id=? AND patient_id=? AND ended IS NULL", (now, sid, pid))

    def unended_sessions(self) -> list[tuple[int, str, bool]]:
        """(patient id, session id, an end had begun) of every session that never ended."""
        rows = self.conn.execute("SELECT patient_id, id, ending IS NOT NULL FROM sessions WHERE ended IS NULL "
                                 "ORDER BY started, rowid").fetchall()
        return [(int(r[0]), str(r[1]), bool(r[2])) for r in rows]

    def next_seq(self, sid: str) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM turns WHERE session_id=?", (sid,)).fetchone()
        return int(row[0])

    def add_turns(self, pid: int, rows: Sequence[dict[str, Any]], vgen: int) -> list[int]:
        """Insert turns (already validated) with their FTS rows; returns the internal ids."""
        ids = []
        with self.tx() as c:
            for r in rows:
                emb = r.get("emb")
                cur = c.execute(
                    "INSERT INTO turns (patient_id, session_id, tid, tid_enc, seq, role, speaker, text, time, emb, vgen) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (pid, r["session_id"], self.blind_tid(r["tid"]), self.seal(pid, "turns", r["tid"]), r["seq"], r["role"],
                     self.seal(pid, "turns", r["speaker"]) if r.get("speaker") else None,
                     self.seal(pid, "turns", r["text"]), r["time"],
                     self.seal(pid, "emb", emb) if emb is not None else None, vgen if emb is not None else 0))
                tid = int(cur.lastrowid)
                ids.append(tid)
                body = " ".join(self.blind_terms(r["text"]))
                if body:
                    c.execute("INSERT INTO fts (rowid, body, pid) VALUES (?, ?, ?)", (turn_key(tid), body, f"p{pid}"))
        return ids

    def blind_tid(self, tid: str) -> str:
        # Callers' turn ids may carry names ("alice-3"): stored blinded for lookup, sealed for display.
        return self.codec.blind("\0tid\0" + tid)

    def has_tid(self, pid: int, tid: str) -> bool:
        return self.conn.execute("SELECT 1 FROM turns WHERE patient_id=? AND tid=?",
                                 (pid, self.blind_tid(tid))).fetchone() is not None

    def turns(self, pid: int, session_id: str | None = None, ids: Iterable[int] | None = None,
              limit: int | None = None, newest_first: bool = False) -> list[dict[str, Any]]:
        q = "SELECT id, session_id, tid_enc, seq, role, speaker, text, time FROM turns WHERE patient_id=?"
        args: list[Any] = [pid]
        if session_id is not None:
            q += " AND session_id=?"
            args.append(session_id)
        if ids is not None:
            idl = list(ids)
            if not idl:
                return []
            q += f" AND id IN ({','.join('?' * len(idl))})"
            args.extend(idl)
        q += " ORDER BY time DESC, id DESC" if newest_first else " ORDER BY time, id"
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        out = []
        for r in self.conn.execute(q, args):
            out.append({"id": r[0], "session_id": r[1], "tid": self.open(pid, "turns", r[2]), "seq": r[3], "role": r[4],
                        "speaker": self.open(pid, "turns", r[5]) if r[5] else None,
                        "text": self.open(pid, "turns", r[6]), "time": r[7]})
        return out

    def turns_at(self, pid: int, session_id: str, seqs: Sequence[int]) -> list[dict[str, Any]]:
        """The turns of one session at these positions (retrieval's neighbours of a match)."""
        seqs = [int(x) for x in seqs if x >= 0]
        if not seqs:
            return []
        rows = self.conn.execute(f"SELECT id FROM turns WHERE patient_id=? AND session_id=? AND seq IN "
                                 f"({','.join('?' * len(seqs))})", (pid, session_id, *seqs)).fetchall()
        return self.turns(pid, ids=[r[0] for r in rows])

    def turns_after(self, pid: int, turn_id: int) -> list[dict[str, Any]]:
        """Turns with an internal id above ``turn_id``, in insertion order (ring replay)."""
        if not self.conn.execute("SELECT 1 FROM turns WHERE patient_id=? AND id>? LIMIT 1", (pid, turn_id)).fetchone():
            return []
        rows = self.conn.execute("SELECT id FROM turns WHERE patient_id=? AND id>? ORDER BY id", (pid, turn_id)).fetchall()
        got = {t["id"]: t for t in self.turns(pid, ids=[r[0] for r in rows])}
        return [got[r[0]] for r in rows]

    def turn_ids_by_tid(self, pid: int, tids: Iterable[str]) -> dict[str, int]:
        tl = list(tids)
        if not tl:
            return {}
        blind = {self.blind_tid(t): t for t in tl}
        rows = self.conn.execute(f"SELECT tid, id FROM turns WHERE patient_id=? AND tid IN ({','.join('?' * len(tl))})",
                                 [pid, *blind]).fetchall()
        return {blind[r[0]]: int(r[1]) for r in rows}

    # --- memories -----------------------------------------------------------------------------
    def add_memory(self, pid: int, *, tier: str, kind: str, text: str, source_ids: Sequence[str],
                   subject: str | None = None, negated: bool = False, important: bool = False,
                   session_id: str | None = None, event_time: float | None = None,
                   emb: bytes | None = None, vgen: int = 0, now: float | None = None,
                   access_count: int = 0, event: str = "ADD") -> int:
        now = _time.time() if now is None else now
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO memories (patient_id, session_id, tier, kind, subject, subj, negated, important, text, "
                "source_ids, stability, access_count, last_access, created, updated, event_time, emb, vgen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1.0, ?, ?, ?, ?, ?, ?, ?)",
                (pid, session_id, tier, kind, self.codec.blind("\0subj\0" + subject) if subject else None,
                 self.seal(pid, "memories", subject) if subject else None,
                 int(negated), int(important), self.seal(pid, "memories", text),
                 self.seal(pid, "memories", json.dumps(list(source_ids))), access_count, now, now, now,
                 event_time, self.seal(pid, "emb", emb) if emb is not None else None, vgen if emb is not None else 0))
            mid = int(cur.lastrowid)
            body = " ".join(self.blind_terms(text))
            if body:
                c.execute("INSERT INTO fts (rowid, body, pid) VALUES (?, ?, ?)", (memory_key(mid), body, f"p{pid}"))
            self._history(pid, mid, event, None, text, source_ids, now)
        return mid

    def _history(self, pid: int, mid: int, event: str, old: str | None, new: str | None,
                 source_ids: Sequence[str] | None, now: float) -> None:
        self.conn.execute(
            "INSERT INTO history (memory_id, patient_id, event, old, new, source_ids, time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (mid, pid, event, self.seal(pid, "history", old) if old is not None else None,
             self.seal(pid, "history", new) if new is not None else None,
             self.seal(pid, "history", json.dumps(list(source_ids or []))), now))

    def update_memory(self, pid: int, mid: int, *, text: str | None = None, source_ids: Sequence[str] | None = None,
                      negated: bool | None = None, status: str | None = None, event: str = "UPDATE",
                      emb: bytes | None = None, vgen: int = 0, now: float | None = None,
                      reinforce: bool = False) -> None:
        """Change a memory and record old/new in its history (mem0's UPDATE/DELETE/NOOP)."""
        now = _time.time() if now is None else now
        cur = self.memory(pid, mid)
        if cur is None:
            raise EdgememError(f"no memory {mid} for this patient")
        sets: dict[str, Any] = {"updated": now}
        if text is not None and text != cur["text"]:
            sets["text"] = self.seal(pid, "memories", text)
            if emb is None:
                sets["emb"] = None  # stale vector: the service re-embeds pending rows in batches
                sets["vgen"] = 0
        merged_sources = list(cur["source_ids"])
        if source_ids:
            for s in source_ids:
                if s not in merged_sources:
                    merged_sources.append(s)
            sets["source_ids"] = self.seal(pid, "memories", json.dumps(merged_sources))
        if negated is not None:
            sets["negated"] = int(negated)
        if status is not None:
            sets["status"] = status
        if emb is not None:
            sets["emb"] = self.seal(pid, "emb", emb)
            sets["vgen"] = vgen
        with self.tx() as c:
            if reinforce:
                c.execute("UPDATE memories SET access_count = access_count + 1, last_access=?, "
                          "stability = stability + 1.0 WHERE id=?", (now, mid))
            if sets:
                cols = ", ".join(f"{k}=?" for k in sets)
                c.execute(f"UPDATE memories SET {cols} WHERE id=? AND patient_id=?", [*sets.values(), mid, pid])
            new_text = text if text is not None else cur["text"]
            if "text" in sets or status is not None:
                c.execute("DELETE FROM fts WHERE rowid=?", (memory_key(mid),))
                if (status or cur["status"]) == "active":
                    body = " ".join(self.blind_terms(new_text))
                    if body:
                        c.execute("INSERT INTO fts (rowid, body, pid) VALUES (?, ?, ?)", (memory_key(mid), body, f"p{pid}"))
            self._history(pid, mid, event, cur["text"], new_text if event != "DELETE" else None,
                          source_ids, now)

    def _mem_row(self, pid: int, r: sqlite3.Row | tuple) -> dict[str, Any]:
        return {"id": r[0], "session_id": r[1], "tier": r[2], "kind": r[3], "status": r[4],
                "subject": self.open(pid, "memories", r[5]) if r[5] is not None else None,
                "negated": bool(r[6]), "important": bool(r[7]), "text": self.open(pid, "memories", r[8]),
                "source_ids": json.loads(self.open(pid, "memories", r[9])), "stability": r[10],
                "access_count": r[11], "last_access": r[12], "created": r[13], "updated": r[14],
                "event_time": r[15]}

    _MEM_COLS = ("id, session_id, tier, kind, status, subj, negated, important, text, source_ids, stability, "
                 "access_count, last_access, created, updated, event_time")

    def memory(self, pid: int, mid: int) -> dict[str, Any] | None:
        r = self.conn.execute(f"SELECT {self._MEM_COLS} FROM memories WHERE id=? AND patient_id=?", (mid, pid)).fetchone()
        return self._mem_row(pid, r) if r else None

    def memories(self, pid: int, *, status: str | None = "active", tier: str | None = None,
                 ids: Iterable[int] | None = None, subject: str | None = None,
                 kinds: Sequence[str] | None = None, sessions: Sequence[str] | None = None,
                 newest_first: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Decrypted memories matching the filters. Filters and limits run in SQL: a patient with
        10k memories must not be decrypted whole for a query that needs a dozen."""
        q = f"SELECT {self._MEM_COLS} FROM memories WHERE patient_id=?"
        args: list[Any] = [pid]
        if sessions is not None:
            sl = list(sessions)
            if not sl:
                return []
            q += f" AND session_id IN ({','.join('?' * len(sl))})"
            args.extend(sl)
        if status is not None:
            q += " AND status=?"
            args.append(status)
        if tier is not None:
            q += " AND tier=?"
            args.append(tier)
        if subject is not None:
            q += " AND subject=?"
            args.append(self.codec.blind("\0subj\0" + subject))
        if kinds:
            q += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        if ids is not None:
            idl = list(ids)
            if not idl:
                return []
            q += f" AND id IN ({','.join('?' * len(idl))})"
            args.extend(idl)
        q += " ORDER BY updated DESC, id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        return [self._mem_row(pid, r) for r in self.conn.execute(q, args)]

    def archive_candidates(self, pid: int, now: float, horizon_s: float, protected: Sequence[str]) -> list[dict[str, Any]]:
        """Active long-term memories idle longer than ``horizon_s * stability`` (SQL does the
        arithmetic, so a sweep decrypts only what may actually be archived)."""
        q = (f"SELECT {self._MEM_COLS} FROM memories WHERE patient_id=? AND status='active' AND tier='long' "
             f"AND important=0 AND kind NOT IN ({','.join('?' * len(protected))}) AND (? - last_access) > ? * stability")
        return [self._mem_row(pid, r) for r in self.conn.execute(q, [pid, *protected, now, horizon_s])]

    def history(self, pid: int, mid: int | None = None) -> list[dict[str, Any]]:
        q = "SELECT memory_id, event, old, new, source_ids, time FROM history WHERE patient_id=?"
        args: list[Any] = [pid]
        if mid is not None:
            q += " AND memory_id=?"
            args.append(mid)
        out = []
        for r in self.conn.execute(q + " ORDER BY id", args):
            out.append({"memory_id": r[0], "event": r[1],
                        "old": self.open(pid, "history", r[2]) if r[2] is not None else None,
                        "new": self.open(pid, "history", r[3]) if r[3] is not None else None,
                        "source_ids": json.loads(self.open(pid, "history", r[4])) if r[4] else [],
                        "time": r[5]})
        return out

    def touch_memories(self, pid: int, mids: Sequence[int], now: float) -> None:
        """Recall reinforces (MemoryBank): count it, reset the clock, grow stability."""
        if not mids:
            return
        with self.tx() as c:
            c.executemany("UPDATE memories SET access_count = access_count + 1, last_access=?, "
                          "stability = stability + 1.0 WHERE id=? AND patient_id=?", [(now, m, pid) for m in mids])

    # --- search -------------------------------------------------------------------------------
    def bm25(self, pid: int, query: str, limit: int) -> list[tuple[int, float]]:
        """(fts key, score) for this patient, best first; score = -bm25 (higher is better)."""
        toks = list(dict.fromkeys(self.blind_terms(query)))
        if not toks:
            return []
        match = f'pid:p{pid} AND body:({" OR ".join(_fts_string(t) for t in toks)})'
        rows = self.conn.execute(
            "SELECT rowid, bm25(fts, 1.0, 0.0) AS s FROM fts WHERE fts MATCH ? ORDER BY s LIMIT ?",
            (match, limit)).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def bm25_local(self, pid: int, query: str, limit: int, drop: Iterable[str] = (),
                   per_term: int = 200) -> list[tuple[int, float]]:
        """BM25 with this patient's own document frequencies: (fts key, score), best first.

        FTS5's ``bm25()`` weighs a term by its frequency across every patient's rows. In one long
        chat between two people their names are in a tenth of the turns, yet rare in the table,
        so a name outweighed every other word of "what did Melanie paint?" and turns that merely
        addressed her won. Here each term is scored alone (``bm25()`` of a one-term query is the
        global idf times the term-frequency part), the global idf is divided out and the
        patient's own idf put in. ``drop``: words (plain) left out of the query (a named speaker,
        whose turns are found by who spoke, not by the word)."""
        gone = {self.codec.blind(t) for t in (textmod.stem(textmod.fold(w)) for w in drop)}
        toks = [t for t in dict.fromkeys(self.blind_terms(query)) if t not in gone]
        if not toks:
            return []
        n_all, n_pid = self._fts_rows(None), self._fts_rows(pid)
        if not n_pid:
            return []
        scores: dict[int, float] = {}
        for tok in toks:
            match = f'pid:p{pid} AND body:{_fts_string(tok)}'
            n_t = int(self.conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0])
            if not n_t:
                continue
            row = self.conn.execute("SELECT doc FROM fts_vocab WHERE term=?", (tok,)).fetchone()
            n_g = int(row[0]) if row else n_t
            idf_g = math.log((n_all - n_g + 0.5) / (n_g + 0.5))
            idf_g = idf_g if idf_g > 0 else 1e-6  # FTS5's own floor
            idf_p = math.log(1.0 + (n_pid - n_t + 0.5) / (n_t + 0.5))
            for key, s in self.conn.execute(
                    "SELECT rowid, bm25(fts, 1.0, 0.0) AS s FROM fts WHERE fts MATCH ? ORDER BY s LIMIT ?",
                    (match, per_term)):
                scores[int(key)] = scores.get(int(key), 0.0) + (-float(s) / idf_g) * idf_p
        return sorted(scores.items(), key=lambda x: -x[1])[:limit]

    def _fts_rows(self, pid: int | None) -> int:
        """FTS rows in all (None) or one patient's; cached until the database next changes."""
        stamp = self.conn.total_changes
        cache = getattr(self, "_fts_count_cache", None)
        if cache is None or cache[0] != stamp:
            cache = (stamp, {})
            self._fts_count_cache = cache
        if pid not in cache[1]:
            if pid is None:
                q, args = "SELECT count(*) FROM fts", ()
            else:
                q, args = "SELECT count(*) FROM fts WHERE fts MATCH ?", (f"pid:p{pid}",)
            cache[1][pid] = int(self.conn.execute(q, args).fetchone()[0])
        return cache[1][pid]

    # --- meta --------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- embeddings ---------------------------------------------------------------------------
    def reset_embeddings(self) -> int:
        """Mark every stored vector pending again (the embedder changed); returns how many.
        Rows stored without a vector on purpose (an empty sealed one) stay that way."""
        n = 0
        with self.tx() as c:
            for table in ("turns", "memories"):
                rows = c.execute(f"SELECT id, patient_id, emb FROM {table} WHERE emb IS NOT NULL").fetchall()
                stale = [(int(i),) for i, pid, blob in rows if self.open_bytes(int(pid), "emb", blob)]
                c.executemany(f"UPDATE {table} SET emb=NULL, vgen=0 WHERE id=?", stale)
                n += len(stale)
        return n

    def pending_embeddings(self, pid: int, limit: int = 100_000) -> list[tuple[int, str]]:
        """(index key, text) of rows stored but not embedded yet (embedding is batched, deferred)."""
        out = []
        for r in self.conn.execute("SELECT id, text FROM turns WHERE patient_id=? AND emb IS NULL LIMIT ?",
                                   (pid, limit)):
            out.append((turn_key(int(r[0])), self.open(pid, "turns", r[1])))
        for r in self.conn.execute("SELECT id, text FROM memories WHERE patient_id=? AND emb IS NULL "
                                   "AND status='active' LIMIT ?", (pid, limit)):
            out.append((memory_key(int(r[0])), self.open(pid, "memories", r[1])))
        return out

    def set_embeddings(self, pid: int, items: Sequence[tuple[int, bytes]], vgen: int) -> None:
        with self.tx() as c:
            for key, raw in items:
                kind, i = split_key(key)
                table = "memories" if kind == "memory" else "turns"
                c.execute(f"UPDATE {table} SET emb=?, vgen=? WHERE id=? AND patient_id=?",
                          (self.seal(pid, "emb", raw), vgen, i, pid))

    def embeddings_for(self, pid: int, keys: Sequence[int]) -> dict[int, bytes]:
        """Stored (exact, float16) embeddings of index keys: the re-rank step after an i8 search."""
        tids = [k // 2 for k in keys if k % 2 == 0]
        mids = [k // 2 for k in keys if k % 2 == 1]
        out: dict[int, bytes] = {}
        for table, ids, keyf in (("turns", tids, turn_key), ("memories", mids, memory_key)):
            if ids:
                q = f"SELECT id, emb FROM {table} WHERE patient_id=? AND emb IS NOT NULL AND id IN ({','.join('?' * len(ids))})"
                for i, blob in self.conn.execute(q, [pid, *ids]):
                    out[keyf(int(i))] = self.open_bytes(pid, "emb", blob)
        return out

    def count_pending(self, pid: int) -> int:
        """Rows of this patient stored without a vector (active memories and turns)."""
        return sum(int(self.conn.execute(q, (pid,)).fetchone()[0]) for q in (
            "SELECT COUNT(*) FROM turns WHERE patient_id=? AND emb IS NULL",
            "SELECT COUNT(*) FROM memories WHERE patient_id=? AND emb IS NULL AND status='active'"))

    def any_pending(self, pid: int) -> bool:
        return bool(self.conn.execute(
            "SELECT EXISTS(SELECT 1 FROM turns WHERE patient_id=? AND emb IS NULL) OR "
            "EXISTS(SELECT 1 FROM memories WHERE patient_id=? AND emb IS NULL AND status='active')",
            (pid, pid)).fetchone()[0])

    def embeddings_since(self, pid: int, vgen: int) -> Iterator[tuple[int, bytes]]:
        """(index key, raw embedding bytes) of active rows added after generation ``vgen``."""
        for r in self.conn.execute("SELECT id, emb FROM turns WHERE patient_id=? AND vgen>? AND emb IS NOT NULL",
                                   (pid, vgen)):
            yield turn_key(int(r[0])), self.open_bytes(pid, "emb", r[1])
        for r in self.conn.execute("SELECT id, emb FROM memories WHERE patient_id=? AND vgen>? AND emb IS NOT NULL "
                                   "AND status='active'", (pid, vgen)):
            yield memory_key(int(r[0])), self.open_bytes(pid, "emb", r[1])

    def count(self, pid: int) -> dict[str, int]:
        c = self.conn
        return {
            "sessions": c.execute("SELECT COUNT(*) FROM sessions WHERE patient_id=?", (pid,)).fetchone()[0],
            "turns": c.execute("SELECT COUNT(*) FROM turns WHERE patient_id=?", (pid,)).fetchone()[0],
            "memories": c.execute("SELECT COUNT(*) FROM memories WHERE patient_id=? AND status='active' AND tier='long'", (pid,)).fetchone()[0],
            "summaries": c.execute("SELECT COUNT(*) FROM memories WHERE patient_id=? AND status='active' AND tier='summary'", (pid,)).fetchone()[0],
            "archived": c.execute("SELECT COUNT(*) FROM memories WHERE patient_id=? AND status='archived'", (pid,)).fetchone()[0],
        }

    # --- deletion -----------------------------------------------------------------------------
    def delete_memory(self, pid: int, mid: int) -> bool:
        """Hard-delete one memory (a patient's right to erase one fact): row, history, FTS."""
        with self.tx() as c:
            cur = c.execute("DELETE FROM memories WHERE id=? AND patient_id=?", (mid, pid))
            c.execute("DELETE FROM fts WHERE rowid=?", (memory_key(mid),))
            return cur.rowcount > 0

    def forget(self, pid: int) -> None:
        """Remove every row of a patient, then make sure the bytes are gone from the file and the WAL."""
        with self.tx() as c:
            c.execute("DELETE FROM fts WHERE pid MATCH ?", (f"p{pid}",))
            c.execute("DELETE FROM history WHERE patient_id=?", (pid,))
            c.execute("DELETE FROM memories WHERE patient_id=?", (pid,))
            c.execute("DELETE FROM turns WHERE patient_id=?", (pid,))
            c.execute("DELETE FROM sessions WHERE patient_id=?", (pid,))
            c.execute("DELETE FROM patients WHERE id=?", (pid,))
            # Rewrites FTS segments so no doclist still mentions the deleted rows.
            c.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- re-encryption ------------------------------------------------------------------------
    def rekey(self, new: Codec) -> None:
        """Re-encrypt every sealed column and re-blind every token under ``new``, in one transaction."""
        old = self.codec
        conn = self.conn
        users = self.users()
        with self.tx() as c:
            def recrypt(table: str, col: str, aad_table: str, pid_col: str = "patient_id", key: str = "id") -> None:
                rows = c.execute(f"SELECT {key}, {pid_col}, {col} FROM {table} WHERE {col} IS NOT NULL").fetchall()
                for k, pid, blob in rows:
                    aad = f"{aad_table}:{pid}".encode()
                    plain = old.decrypt(bytes(blob), aad)
                    c.execute(f"UPDATE {table} SET {col}=? WHERE {key}=?", (new.encrypt(plain, aad), k))

            recrypt("patients", "name", "patients", pid_col="id")
            recrypt("patients", "profile", "profile", pid_col="id")
            recrypt("sessions", "label", "sessions")
            recrypt("turns", "speaker", "turns")
            recrypt("turns", "text", "turns")
            recrypt("turns", "tid_enc", "turns")
            recrypt("turns", "emb", "emb")
            recrypt("memories", "text", "memories")
            recrypt("memories", "source_ids", "memories")
            recrypt("memories", "emb", "emb")
            recrypt("history", "old", "history")
            recrypt("history", "new", "history")
            recrypt("history", "source_ids", "history")
            # Blinded values: patient keys, subjects, FTS bodies.
            for pid, user in users:
                c.execute("UPDATE patients SET ukey=? WHERE id=?", (new.blind("\0user\0" + user), pid))
            recrypt("memories", "subj", "memories")
            self.codec = new
            for mid, pid, blob, subj in c.execute("SELECT id, patient_id, text, subj FROM memories").fetchall():
                plain = new.decrypt(bytes(blob), f"memories:{pid}".encode()).decode("utf-8")
                if subj is not None:
                    subject = new.decrypt(bytes(subj), f"memories:{pid}".encode()).decode("utf-8")
                    c.execute("UPDATE memories SET subject=? WHERE id=?", (new.blind("\0subj\0" + subject), mid))
                body = " ".join(self.blind_terms(plain))
                c.execute("DELETE FROM fts WHERE rowid=?", (memory_key(mid),))
                status = c.execute("SELECT status FROM memories WHERE id=?", (mid,)).fetchone()[0]
                if body and status == "active":
                    c.execute("INSERT INTO fts (rowid, body, pid) VALUES (?, ?, ?)", (memory_key(mid), body, f"p{pid}"))
            for tid, pid, blob, tid_enc in c.execute("SELECT id, patient_id, text, tid_enc FROM turns").fetchall():
                plain = new.decrypt(bytes(blob), f"turns:{pid}".encode()).decode("utf-8")
                ext = new.decrypt(bytes(tid_enc), f"turns:{pid}".encode()).decode("utf-8")
                c.execute("UPDATE turns SET tid=? WHERE id=?", (new.blind("\0tid\0" + ext), tid))
                body = " ".join(self.blind_terms(plain))
                c.execute("DELETE FROM fts WHERE rowid=?", (turn_key(tid),))
                if body:
                    c.execute("INSERT INTO fts (rowid, body, pid) VALUES (?, ?, ?)", (turn_key(tid), body, f"p{pid}"))
            c.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            c.execute("UPDATE meta SET value=? WHERE key='key_id'", (new.key_id.hex(),))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _fts_string(token: str) -> str:
    """A token as an FTS5 string: the HMAC tokens need no quoting, but PlainCodec's are the words
    themselves, and a word with an apostrophe ("o'clock") was an FTS5 syntax error."""
    return '"' + token.replace('"', '""') + '"'


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
