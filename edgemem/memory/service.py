"""``MemoryService``: the dual-process memory of one device, per patient.

The one object the assistant, the server, sync and the evaluation talk to (contract in
docs/ARCHITECTURE.md). It owns the SQLite store (source of truth), the per-patient short-term
rings and vector indexes (derived or small state under the home folder), and runs the MaLP/DPeM
cycle: every turn is stored, embedded (the patient's turns whole, the assistant's only for the
advice in them) and rehearsed into notes in the short-term ring; at the end
of a session the executive consolidates (promotion, merge, contradiction), a summary is written,
the patient's preference is updated and weak memories are archived.

All calls are isolated by patient: the user id is mapped to an internal id through a blinded key
and every query is scoped by it. Not thread-safe by itself: the server serializes calls per
device (one kiosk, one conversation at a time); use one service per process.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time as _time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import fsutil
from ..errors import EdgememError, InputError
from ..home import Home
from ..interfaces import Embedder, Scorer
from ..lru import LRU
from ..privacy.cipher import Codec, DataKey, KeyMismatchError
from ..privacy.data_key import KeyRing
from . import preference as prefmod
from .embedder import OnnxEmbedder, locate_embedder
from .executive import Executive, ExecutivePolicy
from .forgetting import ForgettingPolicy
from .keyfile import default_codec
from .prompt import CORE_KINDS, assemble
from .rehearsal import (Extractor, LLMExtractor, LLMSummarizer, RuleExtractor, sentences, session_end_notes,
                        summarize)
from .retrieval import RetrievalConfig, hybrid_search
from .short_term import ShortTermBuffer
from .store import Store, memory_key, split_key, turn_key
from .types import KIOSK_SPEAKER, Hit, Note, PromptPlan
from .vectors import PatientIndex, to_bytes

ROLES = ("user", "assistant", "other", "system")


def _valid_unicode(text: str) -> bool:
    """False for strings holding lone surrogates (invalid UTF-8 decoded with surrogateescape, or a
    JSON "\\udc80" escape): SQLite, AES-GCM and the tokenizer all need encodable text."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def to_epoch(value: Any, default: float | None = None) -> float:
    """Accept epoch seconds, ISO-8601 strings (``Z`` allowed) or datetimes."""
    if value is None:
        return _time.time() if default is None else default
    if isinstance(value, bool):
        raise InputError(f"bad time {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, _dt.datetime):
        d = value
    elif isinstance(value, str):
        try:
            d = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"bad time {value!r}: expected ISO-8601 like 2024-03-01T10:00:00Z") from None
    else:
        raise InputError(f"bad time {value!r}")
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


# Turns whose text always gets a vector. The assistant's own turns get one only when rehearsal finds
# something in them (its advice), and that vector is of those sentences alone: assistant turns are
# 60% of a chat's tokens (MaLP doctor turns run 45 tokens against the patient's 31), embedding is
# nearly all the cost of ingest on 2 cores, and the rest (greetings, "how long has it hurt?") is
# still found by BM25 and through provenance. Advice must keep a vector: without one, advice
# recall@10 fell from 1.0 to 0.75 (docs/memory.md, "## Embedder").
EMBED_ROLES = ("user", "other")
RECENT_VECTORS = 64  # texts whose vectors ``embed`` keeps: a session's latest turns and notes
# A turn stored with this (sealed) embedding was deliberately not embedded: not pending, not indexed.
NO_VECTOR = b""


@dataclass
class _SessionPrompt:
    """How a session's last prompt was laid out, which the next one must repeat: the recall
    block each question was asked with (``assemble``'s ``earlier_recall``) and the turn the
    conversation window opens at (``first_turn``)."""

    pid: int
    recall: dict[Any, str] = field(default_factory=dict)  # user turn id -> its recall block
    first: Any = None

    def keep(self, plan: PromptPlan, working: Sequence[dict[str, Any]], *, asked: bool) -> None:
        """Remember ``plan``; ``asked``: it answers the latest user turn (not a ``prefix_only`` plan)."""
        if asked:
            latest = next((t["tid"] for t in reversed(working) if t["role"] == "user"), None)
            if latest is not None:
                if plan.recall:
                    self.recall[latest] = plan.recall
                else:
                    self.recall.pop(latest, None)
        self.first = plan.first_turn
        ids = [t["tid"] for t in working]
        if plan.first_turn in ids:  # blocks of turns before the window are never rendered again
            for tid in ids[:ids.index(plan.first_turn)]:
                self.recall.pop(tid, None)


class MemoryService:
    """See module docstring. ``embedder`` may be None (BM25 + fuzzy only)."""

    def __init__(self, home: Home | str | Path | None = None, embedder: Embedder | None = None,
                 codec: Codec | None = None, profile: Any = None, *,
                 generator: Any = None, extractor: Extractor | None = None,
                 executive: ExecutivePolicy | None = None, forgetting: ForgettingPolicy | None = None,
                 retrieval: RetrievalConfig | None = None, synchronous: str = "FULL",
                 max_open_indexes: int = 4, index_params: dict[str, int] | None = None,
                 embed_batch: int = 64, embed_roles: Iterable[str] = EMBED_ROLES) -> None:
        if home is None or isinstance(home, (str, Path)):
            home = Home.resolve(home)
        self.home = home.ensure()
        if codec is None:
            codec = default_codec(self.home, reencrypt_home)
        self.codec = codec
        if profile is None or isinstance(profile, str):
            from ..profiles import load

            try:
                profile = load(profile or "x86-kiosk", self.home.root)
            except EdgememError:
                profile = None
        self.profile = profile
        self.capacity = int(getattr(profile, "short_term_capacity", 64))
        self.precision = str(getattr(profile, "index_precision", "f16"))
        self.embedder = embedder
        self.dim = int(embedder.dim) if embedder is not None else 384
        self.store = Store(self.home.db_path, codec, synchronous=synchronous)
        self.rules = RuleExtractor()
        self.summarizer = LLMSummarizer(generator) if generator is not None else None
        self.extractor: Extractor = extractor or self.rules
        if extractor is None and generator is not None:
            # A model that can score (the engine) rehearses by choice, which beat the rules on
            # hand-labelled facts; one that can only write gets the older validated-lines extractor.
            if isinstance(generator, Scorer):
                from .rehearsal_choice import ChoiceExtractor

                self.extractor = ChoiceExtractor(generator, self.rules)
            else:
                self.extractor = LLMExtractor(generator, self.rules)
        self.exec_policy = executive or ExecutivePolicy()
        self.forgetting = forgetting or ForgettingPolicy()
        self.retrieval = retrieval or RetrievalConfig()
        self.index_params = dict(index_params or {})
        self.embed_batch = embed_batch
        self.embed_roles = frozenset(embed_roles)
        self.executive = Executive(self.store, self.exec_policy, self.nearest_memories, self.embed,
                                   self.index_memory_vectors)
        self._rings: dict[int, ShortTermBuffer] = {}
        self._indexes: "OrderedDict[int, PatientIndex]" = OrderedDict()
        self._max_indexes = max_open_indexes
        self._open: dict[str, int] = {}  # session id -> pid
        # Per session, what its last prompt looked like: the next prompt extends it, so the
        # engine's KV prefix covers it. Memory only: after a restart the engine's cache is gone too.
        self._prompt_state: dict[str, _SessionPrompt] = {}
        # hash(text) -> vector (``embed``); keyed by hash, like retrieval's caches: no patient text
        self._recent_vectors: LRU[int, np.ndarray] = LRU(RECENT_VECTORS)
        self._touch: dict[int, set[int]] = {}
        self._pending: dict[int, int] = {}  # rows stored but not yet embedded, per patient
        self._speakers: dict[int, dict[str, str]] = {}  # pid -> {speaker label: role}, from the profile
        self._bulk = False  # import_jsonl: embed in full batches across sessions
        self._closed = False
        self.embedder_source = "caller" if embedder is not None else "none"  # ``open`` says where from
        self.reembedding = self._check_embedder()

    def _check_embedder(self) -> int:
        """Vectors of two models must never share an index: when the embedder's fingerprint differs
        from the one the stored vectors came from (a new bundle, a student embedder), mark them all
        pending and drop the index files, so each patient is re-embedded when next opened.
        Returns how many vectors were marked (0 when nothing changed)."""
        fp = getattr(self.embedder, "fingerprint", None)
        if not fp:
            return 0
        old = self.store.meta("embedder")
        if old == fp:
            return 0
        n = self.store.reset_embeddings() if old is not None else 0
        if n:
            for f in self.home.index_dir.glob("*.usearch"):
                f.unlink()
        # A database from before fingerprints were kept is taken as this embedder's: it was
        # written by the only embedder bundles had (MiniLM-L6).
        self.store.set_meta("embedder", fp)
        return n

    @classmethod
    def open(cls, home: Home | str | Path | None = None, *, bundle: str | Path | None = None,
             embedder_dir: str | Path | None = None, profile: Any = None, codec: Codec | None = None,
             active_bundle: str | Path | None = None, **kwargs: Any) -> "MemoryService":
        """The device's memory with its usual parts: the bundle's (or ``active_bundle``'s, which the
        caller looks up in ``sync.slots``) embedder, the home's data key, the profile. No embedder
        found means BM25 + fuzzy retrieval only."""
        if home is None or isinstance(home, (str, Path)):
            home = Home.resolve(home)
        if embedder_dir:
            folder, source = Path(embedder_dir), "folder"
        else:
            folder, source = locate_embedder(bundle, home, active=active_bundle)
        threads = int(getattr(profile, "threads", 2) or 2)
        batch_tokens = int(getattr(profile, "embed_batch_tokens", 4096) or 4096)
        embedder = OnnxEmbedder(folder, threads=threads, batch_tokens=batch_tokens) if folder is not None else None
        svc = cls(home, embedder, codec, profile, **kwargs)
        svc.embedder_source = source
        return svc

    # --- plumbing -----------------------------------------------------------------------------
    def _pid(self, user: str, create: bool = True) -> int | None:
        return self.store.patient(user, create=create)

    def _need_pid(self, user: str) -> int:
        pid = self._pid(user, create=False)
        if pid is None:
            raise InputError(f"no patient {user!r} in memory")
        return pid

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """Vectors for ``texts``; the last few texts' vectors are reused.

        A kiosk turn embeds the patient's message twice otherwise: once when it is stored (the
        pending batch) and once as the query that retrieves memories for it, ~23 ms of MiniLM each.
        """
        if self.embedder is None or not texts:
            return None
        found = {hash(t): self._recent_vectors.get(hash(t)) for t in texts}
        missing = list(dict.fromkeys(t for t in texts if found[hash(t)] is None))
        if missing:
            fresh = np.asarray(self.embedder.embed(missing), dtype=np.float32)
            for t, v in zip(missing, fresh):
                found[hash(t)] = self._recent_vectors.put(hash(t), v)
        # np.stack copies into one contiguous array: usearch refuses strided rows, and a plug-in
        # embedder may return a view
        return np.stack([found[hash(t)] for t in texts])

    def ring(self, pid: int) -> ShortTermBuffer:
        r = self._rings.get(pid)
        if r is None:
            r = ShortTermBuffer(self.home.short_term_dir / f"{self._file_stem(pid)}.stm", self.codec, self.capacity,
                                aad=f"stm:{pid}".encode())
            self._rings[pid] = r
            # Replay what SQLite acknowledged after the ring was last saved (a crash, a SIGKILL).
            for t in self.store.turns_after(pid, r.last_turn):
                self._rehearse_rows(pid, r, [t], t["session_id"])
        return r

    def _rehearse_rows(self, pid: int, ring: ShortTermBuffer, rows: Sequence[dict[str, Any]], session_id: str,
                       extracted: Sequence[list[Note]] | None = None) -> None:
        notes = []
        for i, r in enumerate(rows):
            notes.extend(extracted[i] if extracted is not None else self._extract(r))
        if notes:
            self.executive.rehearse(ring, notes, session_id, now=max(r["time"] for r in rows))
        ring.last_turn = max([ring.last_turn] + [int(r["id"]) for r in rows])
        ring.dirty = True

    def _extract(self, r: dict[str, Any]) -> list[Note]:
        """The rules' notes for one turn; none for the kiosk's own words (see ``KIOSK_SPEAKER``)."""
        if r.get("speaker") == KIOSK_SPEAKER:
            return []
        return self.rules.extract(r["tid"], r["role"], r["text"], r["time"])

    def _file_stem(self, pid: int) -> str:
        # Named by a hash of the patient's blinded key: says nothing about the patient, even with
        # PlainCodec (whose "blinding" is the identity), and changes when the key is rotated.

        ukey = self.store.conn.execute("SELECT ukey FROM patients WHERE id=?", (pid,)).fetchone()[0]
        return hashlib.sha256(ukey.encode("utf-8")).hexdigest()[:32]

    def _index_path(self, pid: int) -> Path:
        return self.home.index_dir / f"{self._file_stem(pid)}.usearch"

    def index(self, pid: int) -> PatientIndex:
        """The patient's vector index, loaded, caught up with SQLite, or rebuilt from it."""
        idx = self._indexes.get(pid)
        if idx is not None:
            self._indexes.move_to_end(pid)
            return idx
        idx = PatientIndex(self._index_path(pid), self.codec, f"index:{pid}".encode(), dim=self.dim,
                           precision=self.precision, **self.index_params)
        if not idx.load():
            idx.reset()
        self._catch_up(pid, idx)
        if idx.worth_saving():
            # Rebuilt or far behind: write it now, so the next open need not redo it and this
            # process searches the written bytes in place instead of holding a mutable copy.
            idx.save()
        self._indexes[pid] = idx
        while len(self._indexes) > self._max_indexes:
            old_pid, old = self._indexes.popitem(last=False)
            if old.dirty:
                old.save()
        if self.embedder is not None and self.store.any_pending(pid):
            self._pending[pid] = 1
            self.embed_pending(pid)  # rows stored before a crash or restart, never embedded
        return idx

    def _catch_up(self, pid: int, idx: PatientIndex, batch: int = 4096) -> None:
        gen = self.store.generation(pid)
        if idx.generation > gen:  # index from a future/foreign database: distrust it
            idx.reset()
        if idx.generation == gen and len(idx) > 0:
            return
        keys: list[int] = []
        blobs: list[bytes] = []
        for key, raw in self.store.embeddings_since(pid, idx.generation):
            keys.append(key)
            blobs.append(raw)
            if len(keys) >= batch:
                idx.add(keys, np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(keys), self.dim))
                keys, blobs = [], []
        if keys:
            idx.add(keys, np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(keys), self.dim))
        idx.generation = gen
        idx.dirty = True

    def embed_pending(self, pid: int) -> int:
        """Embed every stored-but-unembedded row of a patient in batches, index them; returns the count.

        Embedding is deferred so that ``add_turn`` costs a SQLite insert, and batched so that MiniLM
        runs on many texts per call (one call per turn is several times slower on 2 cores)."""
        if self.embedder is None or not self._pending.get(pid):
            return 0
        # Load the index first: a first load embeds rows left pending (after a crash) itself, and
        # loading it later, from _store_vectors, embedded this very batch a second time.
        self.index(pid)
        self._pending[pid] = 0
        items = self.store.pending_embeddings(pid)
        if not items:
            return 0
        if len(self.embed_roles) < len(ROLES):
            # Pending turns of the other roles are there because rehearsal found advice in them.
            others = {turn_key(int(r[0])) for r in self.store.conn.execute(
                "SELECT id FROM turns WHERE patient_id=? AND emb IS NULL AND role NOT IN (%s)"
                % ",".join("?" * len(self.embed_roles)), (pid, *sorted(self.embed_roles)))}
            items = [(k, self._advice_only(t) if k in others else t) for k, t in items]
        done = 0
        for start in range(0, len(items), 512):
            chunk = items[start:start + 512]
            vecs = self.embed([t for _, t in chunk])
            assert vecs is not None
            self._store_vectors(pid, [k for k, _ in chunk], vecs)
            done += len(chunk)
        return done

    def _advice_only(self, text: str) -> str:
        """The sentences of an assistant turn that rehearsal takes for advice (what is searched by
        meaning in it); 45% of those turns' tokens on the longchat set."""
        kept = [s for s in sentences(text) if self.rules.extract("", "assistant", s)]
        return " ".join(kept) or text

    def _store_vectors(self, pid: int, keys: list[int], vecs: np.ndarray) -> None:
        """Embeddings into SQLite (sealed, next generation) and into the patient's index."""
        idx = self.index(pid)
        with self.store.tx():
            gen = self.store.bump_generation(pid)
            self.store.set_embeddings(pid, [(k, to_bytes(v)) for k, v in zip(keys, vecs)], gen)
        idx.add(keys, vecs)
        idx.generation = gen

    def index_memory_vectors(self, pid: int, items: list[tuple[int, np.ndarray]]) -> None:
        """Index new memories with vectors the caller already computed (the executive's)."""
        if items:
            self._store_vectors(pid, [memory_key(m) for m, _ in items], np.stack([v for _, v in items]))

    def nearest_memories(self, pid: int, vector: np.ndarray, k: int = 8) -> list[tuple[int, float]]:
        """(memory id, cosine) of the long-term/summary rows closest to ``vector``."""
        out = []
        for key, sim in self.index(pid).search(vector, k * 4):
            kind, i = split_key(key)
            if kind == "memory":
                out.append((i, sim))
        return out[:k]

    def speakers(self, pid: int) -> dict[str, str]:
        """{speaker label: role} of everyone who spoke in this patient's chats (retrieval matches
        a question that names one to their own turns). Kept in the patient's (sealed) profile, so
        a search costs no scan; a memory from before this was kept is read once and saved."""
        got = self._speakers.get(pid)
        if got is None:
            prof = self.store.profile(pid)
            got = prof.get("speakers")
            if got is None:
                got = {}
                for t in self.store.turns(pid):
                    if t["speaker"]:
                        got.setdefault(t["speaker"], t["role"])
                prof["speakers"] = got
                self.store.set_profile(pid, prof)
            self._speakers[pid] = got
        return got

    def _note_speakers(self, pid: int, rows: Sequence[dict[str, Any]]) -> None:
        known = self.speakers(pid)
        new = {r["speaker"]: r["role"] for r in rows if r.get("speaker") and r["speaker"] not in known}
        if new:
            known.update(new)
            prof = self.store.profile(pid)
            prof["speakers"] = dict(known)
            self.store.set_profile(pid, prof)

    def open_session_ids(self) -> set[str]:
        return set(self._open)

    # --- sessions and turns -------------------------------------------------------------------
    def start_session(self, user: str, session_id: str | None = None, time: Any = None,
                      label: str | None = None) -> str:
        pid = self._pid(user)
        assert pid is not None
        sid = session_id or uuid.uuid4().hex
        existing = self.store.conn.execute("SELECT patient_id FROM sessions WHERE id=?", (sid,)).fetchone()
        if existing is not None:
            if int(existing[0]) != pid:
                raise InputError(f"session {sid!r} belongs to another patient")
        else:
            self.store.add_session(pid, sid, label, to_epoch(time))
        self._open[sid] = pid
        return sid

    def _session_pid(self, user: str, session_id: str, *, ending: bool = False) -> int:
        """The patient of a session a write goes to. A write never creates a patient or a session
        (a reply finished after *Forget me* must not bring the patient back), and a session that
        ended takes no more turns unless ``start_session`` reopened it (an import replaying it)."""
        pid = self._need_pid(user)
        row = self.store.conn.execute("SELECT patient_id, ended FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            raise InputError(f"no session {session_id!r}: call start_session first")
        if int(row[0]) != pid:
            raise InputError(f"session {session_id!r} belongs to another patient")
        if row[1] is not None and session_id not in self._open and not ending:
            raise InputError(f"session {session_id!r} has ended")
        if row[1] is None:
            self._open.setdefault(session_id, pid)
        return pid

    def add_turn(self, user: str, session_id: str, role: str, text: str, time: Any = None, *,
                 turn_id: str | None = None, speaker: str | None = None) -> str:
        """Store one turn (embedded, FTS-indexed) and rehearse it into short-term notes."""
        return self.ingest_turns(user, session_id, [{"role": role, "text": text, "time": time, "id": turn_id,
                                                      "speaker": speaker}])[0]

    def ingest_turns(self, user: str, session_id: str, turns: Sequence[dict[str, Any]]) -> list[str]:
        """Batch ``add_turn``: one embedding call and one transaction for all ``turns``.

        Each turn: ``{"role", "text", "time"?, "id"?, "speaker"?}``. Returns the turn ids.
        """
        pid = self._session_pid(user, session_id)
        seq = self.store.next_seq(session_id)
        rows = []
        now = _time.time()
        seen: set[str] = set()
        for i, t in enumerate(turns):
            role = t.get("role")
            text = t.get("text")
            if role not in ROLES:
                raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
            if not isinstance(text, str) or not text.strip():
                raise InputError("turn text must be a non-empty string")
            if not _valid_unicode(text):
                raise InputError("turn text is not valid Unicode (a lone surrogate: invalid UTF-8?)")
            tid = t.get("id") or f"{session_id[:12]}:{seq + i}"
            tid = str(tid)
            if tid in seen or self.store.has_tid(pid, tid):
                raise InputError(f"duplicate turn id {tid!r} for this patient")
            seen.add(tid)
            rows.append({"session_id": session_id, "tid": tid, "seq": seq + i, "role": role,
                         "speaker": t.get("speaker"), "text": text, "time": to_epoch(t.get("time"), now)})
        # Rules run once per turn: their notes decide whether an assistant turn is embedded, then rehearse.
        extracted = [self._extract(r) for r in rows]
        for r, notes in zip(rows, extracted):
            kiosk = r["speaker"] == KIOSK_SPEAKER
            r["emb"] = None if not kiosk and (r["role"] in self.embed_roles or notes) else NO_VECTOR
        ring = self.ring(pid)  # loaded (and replayed) before these rows exist, so they rehearse once
        with self.store.tx() as c:
            if seq == 0:
                # A session's clock is its first turn's (imports replay history with old times).
                c.execute("UPDATE sessions SET started=? WHERE id=?", (min(r["time"] for r in rows), session_id))
            ids = self.store.add_turns(pid, rows, 0)
        for r, i in zip(rows, ids):
            r["id"] = i
        self._note_speakers(pid, rows)
        if self.embedder is not None:
            self._pending[pid] = self._pending.get(pid, 0) + sum(r["emb"] is None for r in rows)
            if self._pending[pid] >= self.embed_batch:
                self.embed_pending(pid)
        # Rehearsal (rules: cheap and deterministic) into the short-term ring; the LLM extractor, when
        # configured, runs at session end where its latency does not hold up a reply.
        self._rehearse_rows(pid, ring, rows, session_id, extracted)
        return [r["tid"] for r in rows]

    def end_session(self, user: str, session_id: str, time: Any = None) -> dict[str, Any]:
        """Close a session: LLM rehearsal (if any), summary, preference, consolidation, forgetting.

        Idempotent: a session that already ended (and was not reopened) is left as it is."""
        pid = self._session_pid(user, session_id, ending=True)
        if session_id not in self._open and self.store.session(pid, session_id)["ended"] is not None:
            return {"session_id": session_id, "turns": 0, "already_ended": True}
        self.store.mark_ending(pid, session_id, _time.time())
        turns = self.store.turns(pid, session_id=session_id)
        now = to_epoch(time, max([t["time"] for t in turns], default=_time.time()))
        # The kiosk's own replies are no source of notes or summary lines (memory hygiene).
        turns = [t for t in turns if t.get("speaker") != KIOSK_SPEAKER]
        report: dict[str, Any] = {"session_id": session_id, "turns": len(turns)}
        ring = self.ring(pid)
        if getattr(self.extractor, "runs_at_session_end", False):
            notes = session_end_notes(self.extractor, turns)
            self.executive.rehearse(ring, notes, session_id, now)
            report["llm_notes"] = len(notes)
        # Summary (one per session; a re-closed session replaces its summary).
        text, sources = self.summarizer.summarize(turns) if self.summarizer is not None else summarize(turns)
        if text:
            for old in self.store.memories(pid, tier="summary", sessions=[session_id]):
                self.store.delete_memory(pid, old["id"])
            started = turns[0]["time"] if turns else now
            self.store.add_memory(pid, tier="summary", kind="other", text=text, source_ids=sources,
                                  session_id=session_id, event_time=started, now=now)
            self._pending[pid] = self._pending.get(pid, 0) + 1
            report["summary"] = text
        # Preference from this session's patient turns.
        user_turns = [t["text"] for t in turns if t["role"] == "user"]
        if user_turns:
            prof = self.store.profile(pid)
            prof["preference"] = prefmod.detect(user_turns, prof.get("preference"))
            self.store.set_profile(pid, prof)
            report["preference"] = prof["preference"]["style"]
        report["events"] = self._consolidate(pid, ring, now)
        ring.save()
        report["archived"] = self.sweep(pid, now)
        self._flush_touches(pid, now)
        self.store.end_session(pid, session_id, now)
        self._open.pop(session_id, None)
        self._prompt_state.pop(session_id, None)
        if not self._bulk or self._pending.get(pid, 0) >= self.embed_batch:
            self.embed_pending(pid)  # in a bulk import, only once a full batch is waiting
        self._save_index(pid)
        return report

    def finish_sessions(self) -> list[tuple[str, str, bool]]:
        """End every session that never ended and is not open in this process: those cut off by
        a crash, a SIGKILL or a power cut, mid-session or mid-end (``mark_ending``). Returns
        (user, session id, its end had begun). Without it such a patient's facts were never
        consolidated and their prompt lacked the "Patient facts" an allergy must be in."""
        names = dict(self.store.users())
        done = []
        for pid, sid, began in self.store.unended_sessions():
            if sid in self._open or pid not in names:
                continue
            self._open[sid] = pid  # this process finishes it: as if it had been started here
            self.end_session(names[pid], sid)
            done.append((names[pid], sid, began))
        return done

    def session_state(self, session_id: str) -> tuple[str, bool] | None:
        """(user, ended) of a stored session, or None (never started, or its patient forgotten)."""
        row = self.store.conn.execute("SELECT patient_id, ended FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            return None
        name = dict(self.store.users()).get(int(row[0]))
        return (name, row[1] is not None) if name is not None else None

    def _consolidate(self, pid: int, ring: ShortTermBuffer, now: float) -> list[Any]:
        """The executive's consolidation; what it wrote to long-term memory waits to be embedded."""
        events = self.executive.consolidate(pid, ring, now=now)
        if events:
            self._pending[pid] = self._pending.get(pid, 0) + len(events)
        return events

    def _save_index(self, pid: int) -> None:
        idx = self._indexes.get(pid)
        if idx is not None and idx.worth_saving():
            idx.save()

    def add_note(self, user: str, session_id: str, note: Note) -> None:
        """One note made outside rehearsal during an open session (the assistant's record of which
        card it advised from) into the short-term ring, where the executive weighs it as any other."""
        pid = self._session_pid(user, session_id)
        ring = self.ring(pid)
        self.executive.rehearse(ring, [note], session_id, now=note.time or _time.time())
        ring.dirty = True

    def session_patient_turns(self, user: str, session_id: str) -> list[dict[str, Any]]:
        """The patient's turns of a session (``tid``, ``text``, ``time``): what rehearsal outside
        the memory thread reads (the kiosk runs the model's rehearsal on its own thread)."""
        pid = self._need_pid(user)
        return [{"tid": t["tid"], "text": t["text"], "time": t["time"]}
                for t in self.store.turns(pid, session_id=session_id) if t["role"] == "user"]

    def add_session_notes(self, user: str, session_id: str, notes: Sequence[Note], time: Any = None) -> dict[str, Any]:
        """Notes rehearsed elsewhere for a session that ``end_session`` already closed: into the
        short-term ring, then consolidation, as ``end_session`` does with its own notes.

        A patient forgotten meanwhile is not brought back (``InputError``), and a session that is
        not theirs is refused: the model's notes may arrive seconds after the session closed."""
        pid = self._need_pid(user)
        if not any(s["id"] == session_id for s in self.store.sessions(pid)):
            raise InputError(f"no session {session_id!r} for this patient")
        now = to_epoch(time, _time.time())
        ring = self.ring(pid)
        self.executive.rehearse(ring, list(notes), session_id, now)
        events = self._consolidate(pid, ring, now)
        ring.save()
        self.embed_pending(pid)
        self._save_index(pid)
        return {"session_id": session_id, "notes": len(notes), "events": events}

    def sweep(self, pid: int, now: float | None = None) -> int:
        """Archive memories whose retention fell below the threshold (never the protected kinds)."""
        now = _time.time() if now is None else now
        pol = self.forgetting
        weak = [m for m in self.store.archive_candidates(pid, now, pol.horizon_s, pol.PROTECTED_KINDS)
                if pol.should_archive(m, now)]
        for m in weak:
            self.store.update_memory(pid, m["id"], status="archived", event="ARCHIVE", now=now)
        if weak and pid in self._indexes:
            self._indexes[pid].remove([memory_key(m["id"]) for m in weak])
        if weak:
            # The short-term copies of what decayed go too (they are no fresher than the memory).
            gone = {m["id"] for m in weak}
            ring = self.ring(pid)
            for n in ring:
                if n.promoted in gone:
                    ring.remove(n.id)
            ring.save()
        return len(weak)

    # --- retrieval ----------------------------------------------------------------------------
    def search(self, user: str, query: str, k: int = 10, *, now: Any = None, reinforce: bool = True,
               mode: str = "hybrid") -> list[Hit]:
        """Hybrid search of one patient's memory; ``mode`` in hybrid|dense|bm25|rrf (baselines)."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("query must be a non-empty string")
        if not _valid_unicode(query):  # a query is not stored: keep what can be read
            query = query.encode("utf-8", "replace").decode("utf-8")
        if k < 1:
            raise InputError("k must be >= 1")
        pid = self._pid(user, create=False)
        if pid is None:
            return []
        t = to_epoch(now) if now is not None else _time.time()
        self.embed_pending(pid)
        hits = hybrid_search(self, pid, query, k, now=t, mode=mode)
        if reinforce:
            self._touch.setdefault(pid, set()).update(h.memory_id for h in hits if h.memory_id is not None
                                                      and h.tier in ("long", "summary"))
            ring = self._rings.get(pid)
            if ring is not None and any(h.tier == "short" for h in hits):
                by_text = {h.text for h in hits if h.tier == "short"}
                for n in ring:
                    if n.text in by_text:
                        ring.touch(n, t)
            if len(self._touch.get(pid, ())) >= 64:
                self._flush_touches(pid, t)
        return hits

    def _flush_touches(self, pid: int, now: float) -> None:
        mids = self._touch.pop(pid, set())
        if mids:
            self.store.touch_memories(pid, sorted(mids), now)

    def build_prompt(self, user: str, session_id: str | None, budget_tokens: int,
                     count_tokens: Callable[[str], int], system_prompt: str = "",
                     query: str | None = None, k: int = 8) -> PromptPlan:
        """Messages for the engine within ``budget_tokens``; ``explain`` says what went in and why."""
        pid = self._need_pid(user)
        working = self.store.turns(pid, session_id=session_id) if session_id else []
        if query is None:
            query = next((t["text"] for t in reversed(working) if t["role"] == "user"), None)
        hits = self.search(user, query, k) if query and query.strip() else []
        ring = self.ring(pid)
        short = [n for n in reversed(list(ring)) if n.kind not in ("other",)][:8]
        return self._assemble(user, pid, session_id, working, budget_tokens, count_tokens, system_prompt,
                              hits=hits, short_notes=short)

    def next_prefix(self, user: str, session_id: str, budget_tokens: int, count_tokens: Callable[[str], int],
                    system_prompt: str = "", next_reserve: int | None = None) -> PromptPlan:
        """The known start of this session's next prompt, for the engine to prefill in idle time.

        After a reply, everything before the patient's next question is decided: the system
        message and the conversation window with its recall blocks. The window is planned with
        ``next_reserve`` tokens (default a fifth of the budget) left for the question and its
        recall block, and a jump it needs is taken now and remembered, so the next
        ``build_prompt`` renders exactly these messages first.
        """
        if session_id not in self._open:  # ended meanwhile: no next prompt, no state to keep
            return PromptPlan(messages=[], explain=[], budget=budget_tokens)
        pid = self._need_pid(user)
        working = self.store.turns(pid, session_id=session_id)
        return self._assemble(user, pid, session_id, working, budget_tokens, count_tokens, system_prompt,
                              prefix_only=True,
                              next_reserve=budget_tokens // 5 if next_reserve is None else next_reserve)

    def _assemble(self, user: str, pid: int, session_id: str | None, working: list[dict[str, Any]],
                  budget_tokens: int, count_tokens: Callable[[str], int], system_prompt: str,
                  **kwargs: Any) -> PromptPlan:
        """``assemble`` with the patient's core facts and style, and the session's prompt state
        read before and kept after (``build_prompt`` and ``next_prefix`` share it)."""
        # The newest few of each core kind: a prompt is not a chart.
        core = [m for kind in CORE_KINDS for m in self.store.memories(pid, tier="long", kinds=[kind],
                                                                      newest_first=True, limit=6)][:12]
        state = self._prompt_state.setdefault(session_id, _SessionPrompt(pid)) if session_id else None
        plan = assemble(system_prompt=system_prompt, style=self.preference(user), core=core, working=working,
                        budget_tokens=budget_tokens, count_tokens=count_tokens,
                        earlier_recall=state.recall if state else None,
                        first_turn=state.first if state else None, **kwargs)
        if state is not None:
            state.keep(plan, working, asked=not kwargs.get("prefix_only", False))
        return plan

    # --- inspection and control ---------------------------------------------------------------
    def preference(self, user: str) -> str | None:
        pid = self._pid(user, create=False)
        if pid is None:
            return None
        pref = self.store.profile(pid).get("preference") or {}
        return pref.get("style")

    def set_preference(self, user: str, style: str | None) -> None:
        if style is not None and style not in prefmod.STYLES:
            raise InputError(f"preference must be one of {', '.join(prefmod.STYLES)}")
        pid = self._pid(user)
        assert pid is not None
        prof = self.store.profile(pid)
        rec = dict(prof.get("preference") or {})
        rec.update({"style": style, "source": "set", "explicit": style})
        prof["preference"] = rec
        self.store.set_profile(pid, prof)

    def profile_of(self, user: str) -> dict[str, Any]:
        pid = self._pid(user, create=False)
        return self.store.profile(pid) if pid is not None else {}

    def list_memories(self, user: str, include_archived: bool = False, tier: str | None = None) -> list[dict[str, Any]]:
        pid = self._pid(user, create=False)
        if pid is None:
            return []
        mems = self.store.memories(pid, status=None if include_archived else "active", tier=tier)
        return [m for m in mems if include_archived or m["status"] == "active"]

    def short_term(self, user: str) -> list[dict[str, Any]]:
        pid = self._pid(user, create=False)
        return self.ring(pid).to_list() if pid is not None else []

    def history(self, user: str, memory_id: int | None = None) -> list[dict[str, Any]]:
        pid = self._need_pid(user)
        return self.store.history(pid, memory_id)

    def delete_memory(self, user: str, memory_id: int) -> bool:
        pid = self._need_pid(user)
        ok = self.store.delete_memory(pid, int(memory_id))
        if ok:
            self.index(pid).remove([memory_key(int(memory_id))])
            ring = self.ring(pid)
            for n in ring:
                if n.promoted == int(memory_id):
                    ring.remove(n.id)
            ring.save()
            self.index(pid).save()
        return ok

    def forget(self, user: str) -> bool:
        """Remove the patient from every tier: rows, FTS, vector index file, short-term ring."""
        pid = self._pid(user, create=False)
        if pid is None:
            return False
        path = self._index_path(pid)
        ring = self.ring(pid)
        idx = self._indexes.pop(pid, None)
        self.store.forget(pid)
        ring.wipe()
        self._rings.pop(pid, None)
        self._touch.pop(pid, None)
        self._pending.pop(pid, None)
        self._speakers.pop(pid, None)
        for sid in [s for s, p in self._open.items() if p == pid]:
            self._open.pop(sid)
        for sid in [s for s, st in self._prompt_state.items() if st.pid == pid]:
            self._prompt_state.pop(sid)  # recall blocks are the patient's words too
        self._recent_vectors.clear()  # keyed by their texts
        for p in (path, *path.parent.glob(path.name + ".*.tmp")):
            fsutil.shred(p)
        del idx
        return True

    def embed_stored(self) -> int:
        """Embed every row stored without a vector (an import or a kiosk that ran with no embedder),
        for all patients; returns how many. Searching a patient does the same for that patient;
        this does it at once (``memory status``, after an embedder became available)."""
        if self.embedder is None:
            return 0
        done = 0
        for pid, _ in self.store.users():
            if self.store.any_pending(pid):
                self._pending[pid] = 1
                before = self.store.count_pending(pid)
                self.index(pid)  # loads the index, then embeds what is pending
                self.embed_pending(pid)
                done += before - self.store.count_pending(pid)
        return done

    def status(self) -> dict[str, Any]:
        """Which embedder is in use and how much is stored without a vector (``memory status``)."""
        emb = self.embedder
        pending = sum(self.store.count_pending(pid) for pid, _ in self.store.users())
        return {
            "embedder": None if emb is None else {
                "source": self.embedder_source, "folder": str(getattr(emb, "folder", "")) or None,
                "fingerprint": getattr(emb, "fingerprint", None), "dim": int(emb.dim),
                "exported_from": _exported_from(getattr(emb, "folder", None))},
            "retrieval": "hybrid (dense + BM25 + fuzzy)" if emb is not None else "BM25 + fuzzy (no embedder)",
            "stored_vectors_fingerprint": self.store.meta("embedder"),
            "reembedded_at_open": self.reembedding,
            "patients": len(self.store.users()),
            "rows_without_vector": pending,
        }

    def knows(self, user: str) -> bool:
        """Whether this patient has a record (never creates one)."""
        return self._pid(user, create=False) is not None

    def iter_users(self) -> Iterator[str]:
        for _, name in self.store.users():
            yield name

    def set_consent(self, user: str, value: bool) -> None:
        pid = self._pid(user)
        assert pid is not None
        self.store.set_consent(pid, bool(value))

    def consent(self, user: str) -> bool:
        pid = self._pid(user, create=False)
        return self.store.consent(pid) if pid is not None else False

    def stats(self, user: str) -> dict[str, Any]:
        pid = self._need_pid(user)
        d = self.store.count(pid)
        d["short_term"] = len(self.ring(pid))
        d["preference"] = self.preference(user)
        d["consent"] = self.store.consent(pid)
        return d

    def export(self, user: str) -> dict[str, Any]:
        """Everything kept about a patient, decrypted: turns, memories (with history), summaries, profile."""
        pid = self._need_pid(user)
        mems = self.store.memories(pid, status=None)
        return {
            "user": user,
            "consent": self.store.consent(pid),
            "profile": self.store.profile(pid),
            "sessions": self.store.sessions(pid),
            "turns": [{"id": t["tid"], "session": t["session_id"], "role": t["role"], "speaker": t["speaker"],
                       "text": t["text"], "time": t["time"]} for t in self.store.turns(pid)],
            "memories": [dict(m, history=self.store.history(pid, m["id"])) for m in mems if m["tier"] == "long"],
            "summaries": [m for m in mems if m["tier"] == "summary"],
            "short_term": self.ring(pid).to_list(),
        }

    def rekey(self, new_codec: Codec) -> None:
        """Re-encrypt everything (SQLite, rings, index files) under ``new_codec``."""
        for pid in list(self._indexes):
            self._indexes[pid].dirty = False
        old_rings = {}
        for pid, _ in self.store.users():
            ring = self.ring(pid)
            old_rings[pid] = (ring.path, list(ring.notes))
        old_paths = {pid: self._index_path(pid) for pid, _ in self.store.users()}
        self.store.rekey(new_codec)
        self.codec = new_codec
        self._rings.clear()
        self._indexes.clear()
        for pid, (old_path, notes) in old_rings.items():
            ring = self.ring(pid)  # new blinded file name
            ring.notes = notes
            ring.save()
            if old_path != ring.path and old_path.exists():
                old_path.unlink()
        for pid, old_path in old_paths.items():
            if old_path.exists():
                old_path.unlink()
            self.index(pid).save()  # rebuilt from SQLite under the new key

    def _owned_files(self) -> set[Path]:
        pids = [pid for pid, _ in self.store.users()]
        return {self.ring(pid).path for pid in pids} | {self._index_path(pid) for pid in pids}

    def adopt_orphan_rings(self, old: DataKey, new: DataKey) -> None:
        """After a crash between the database's re-key and the files', short-term rings still sit
        under names derived from the old key. Move each to its patient's current name, re-sealed
        (a ring is one AES-GCM blob with the patient id in its associated data), so no note is lost."""
        owned = self._owned_files()
        pids = [pid for pid, _ in self.store.users()]
        for path in sorted(self.home.short_term_dir.glob("*.stm")):
            if path in owned:
                continue
            blob = path.read_bytes()
            for pid in pids:
                try:
                    plain = old.decrypt(blob, f"stm:{pid}".encode())
                except KeyMismatchError:
                    continue
                target = self.ring(pid).path
                self._rings.pop(pid, None)  # reload from the adopted file
                if not target.exists() or not self.ring(pid).notes:
                    fsutil.write_bytes(target, new.encrypt(plain, f"stm:{pid}".encode()), 0o600)
                    self._rings.pop(pid, None)
                break

    def remove_orphan_files(self) -> None:
        """Overwrite and delete ring and index files no patient owns any more (old-key leftovers)."""
        owned = self._owned_files()
        for path in [*self.home.short_term_dir.glob("*.stm"), *self.home.index_dir.glob("*.usearch")]:
            if path not in owned:
                fsutil.shred(path)

    def flush(self) -> None:
        for pid in list(self._pending):
            self.embed_pending(pid)
        for pid in list(self._touch):
            self._flush_touches(pid, _time.time())
        for idx in self._indexes.values():
            if idx.dirty:
                idx.save()
        for r in self._rings.values():
            if r.dirty:
                r.save()

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self.store.close()
        self._closed = True

    def __enter__(self) -> "MemoryService":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def reencrypt_home(home: Home, new: DataKey, old: DataKey) -> None:
    """The memory's step of a data-key rotation (``privacy.data_key.Reencrypt``): every row, ring and
    index file of ``home`` from ``old`` to ``new``, idempotent, so a rotation cut by a power loss is
    finished by running it again. ``privacy.data_key`` takes it as a callback and never imports the
    memory; ``edgemem privacy key rotate`` and the memory's default codec hand it over."""
    # embedder=None: the index is rebuilt from the embeddings stored (encrypted) in SQLite.
    svc = MemoryService(home, None, KeyRing(new, old), None)
    try:
        svc.adopt_orphan_rings(old, new)
        svc.rekey(new)
        svc.remove_orphan_files()
    finally:
        svc.close()


def import_jsonl(svc: MemoryService, lines: Iterable[str], *, batch: int = 256,
                 progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """The ``memory import`` format: one turn per line; a session closes when the file moves on.

    Consecutive lines of the same (user, session) are batched (one embedding call, one
    transaction); when the (user, session) changes, the previous session is ended, so rehearsal and
    consolidation run as they would live.
    """
    counts = {"turns": 0, "sessions": 0, "users": 0}
    # Embedding in batches of a few hundred texts sorted by length instead of one batch per session:
    # measured 20.9 -> 12.8 CPU seconds for 400 longchat turns. close() embeds what is left.
    old_batch, svc.embed_batch, svc._bulk = svc.embed_batch, max(svc.embed_batch, batch), True
    try:
        _import(svc, lines, batch, progress, counts)
    finally:
        svc.embed_batch, svc._bulk = old_batch, False
    for pid in list(svc._pending):
        svc.embed_pending(pid)
    return counts


def _import(svc: MemoryService, lines: Iterable[str], batch: int, progress: Callable[[int], None] | None,
            counts: dict[str, int]) -> None:
    users: set[str] = set()
    current: tuple[str, str] | None = None
    sid = ""
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal pending
        if pending and current is not None:
            svc.ingest_turns(current[0], sid, pending)
            counts["turns"] += len(pending)
            if progress:
                progress(len(pending))
        pending = []

    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"line {lineno}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict):
            raise InputError(f"line {lineno}: expected an object")
        for key in ("user", "session", "role", "text"):
            if not isinstance(rec.get(key), str) or not rec[key]:
                raise InputError(f"line {lineno}: missing or empty '{key}'")
        key = (rec["user"], rec["session"])
        if key != current:
            flush()
            if current is not None:
                svc.end_session(current[0], sid)
            current = key
            users.add(rec["user"])
            sid = svc.start_session(rec["user"], session_id=_session_id(svc, rec["user"], rec["session"]),
                                    time=rec.get("time"), label=rec["session"])
            counts["sessions"] += 1
        if rec["role"] not in ROLES:
            raise InputError(f"line {lineno}: role must be user, assistant or other")
        pending.append({"role": rec["role"], "text": rec["text"], "time": rec.get("time"), "id": rec.get("id"),
                        "speaker": rec.get("speaker")})
        if len(pending) >= batch:
            flush()
    flush()
    if current is not None:
        svc.end_session(current[0], sid)
    counts["users"] = len(users)


def _session_id(svc: MemoryService, user: str, session: str) -> str:
    # Stable per (user, session label) so re-importing a file is detected (duplicate turn ids), and
    # opaque (keyed blind): the label may contain patient text and is stored encrypted separately.
    return "s" + svc.codec.blind(f"\0session\0{user}\0{session}")[1:]


def _exported_from(folder: Any) -> str | None:
    """The model folder an embedder graph was converted from (its ``embedder.json``), so that
    ``memory status`` names the installed package behind a home's own embedder, not just a path."""
    if not folder:
        return None
    try:
        info = json.loads((Path(folder) / "embedder.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    src = info.get("source") if isinstance(info, dict) else None
    return str(src) if src else None
