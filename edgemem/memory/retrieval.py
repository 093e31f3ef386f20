"""Hybrid retrieval over every tier of one patient's memory.

Retrievers, each producing a ranked list:
- dense: usearch over MiniLM embeddings of raw turns, long-term notes and session summaries;
- BM25: FTS5 over the blinded terms of the same rows;
- fuzzy: per-term Levenshtein match over the short-term ring (the paper's STM matching; the ring
  is small, so a linear scan costs microseconds);
- time: when the query names a time ("last week", "in March") the rows inside that window, and the
  summaries of sessions held then, form their own list; "recently"/"currently" adds a recency list.

Fusion is weighted reciprocal-rank fusion (each list votes ``w / (K + rank)``), then two moves that
raw-turn retrieval lacks and the long-chat baselines show are worth it:
- *provenance expansion*: a note or summary that matches lends part of its score to the turns it
  came from, so evidence phrased differently from the query still surfaces;
- *coverage collapse*: a turn already covered by a higher-ranked note's provenance does not take
  another of the k slots (its id is in that hit's ``source_ids``).
Every hit is checked against SQLite (active, this patient) before it is returned.
"""

from __future__ import annotations

import re
import time as _time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, TypeVar

import numpy as np

from ..interfaces import Embedder
from ..lru import LRU
from . import lexicon, speakers, timeparse
from .short_term import ShortTermBuffer
from .store import Store, split_key
from .text import fold, fuzzy_score, terms, unique_terms, words
from .types import KIOSK_SPEAKER, Hit
from .vectors import PatientIndex


@dataclass(frozen=True)
class RetrievalConfig:
    """Fusion weights and boosts. Frozen 2026-12-07 from ``benchmarks.memory_tune`` on the dev
    splits of three sets (longchat, two-person chats, kiosk chats; coordinate ascent, objective
    the mean margin over each set's best raw-turn baseline): w_bm25 0.5 -> 1.0, expand 0.35 ->
    0.2, w_self 0.5, w_when 1.0, dense_drop_names, neighbour 0.3 on partial sets; then, retuned on
    the full dev splits, w_bm25 back to 0.5 and the speaker list off (w_speaker 0: on dev it cost
    the two-person set 0.003 and longchat 0.015; names still leave the BM25 and dense queries).
    Run: benchmarks/results/memory-tune-dev.json, docs/memory-eval.md. Change them only the same way."""

    rrf_k: float = 60.0
    w_dense: float = 1.0
    w_bm25: float = 0.5
    w_fuzzy: float = 0.8
    w_time: float = 0.8
    w_recent: float = 1.0
    recent_floor: float = 0.5
    w_kind: float = 1.0
    w_first: float = 1.0
    tier_prior: dict[str, float] = field(default_factory=lambda: {"long": 1.15, "summary": 1.0, "turn": 1.0,
                                                                   "working": 0.9, "short": 1.05})
    expand: float = 0.2  # share of a note/summary's score lent to each of its source turns
    depth: int = 50  # candidates per retriever (>= 5 k)
    fuzzy_min: float = 0.34
    collapse: bool = True
    smalltalk: float = 0.5  # score factor for greeting/thanks turns with no content
    rerank: int = 50  # with an i8 index: exact re-rank of this many HNSW candidates
    local_idf: bool = True  # BM25 with the patient's own document frequencies (Store.bm25_local)
    w_speaker: float = 0.0  # a question naming a speaker: that speaker's own turns, best first
    w_self: float = 0.5  # a first-person question: the user role's turns, best first
    addressed: float = 1.0  # factor for another speaker's turn that names the asked-about speaker
    w_when: float = 1.0  # a "when" question: candidate turns that state a time, best first
    dense_drop_names: bool = True  # embed the question without the named speakers' names
    neighbour: float = 0.3  # share of a turn's score lent to the reply after it (half to the turns around)
    neighbour_top: int = 20  # how many of the best turns lend to their neighbours
    neighbour_span: int = 2  # lend to the turns up to this many after a match (and one before)
    neighbour_sum: bool = False  # a turn between two matches gets both loans (else the larger)


class RetrievalSources(Protocol):
    """What one search reads, and nothing more (as mem0's ``vector_stores/base.py`` names what a
    store must offer): the SQLite store, the patient's short-term ring and vector index, the
    embedder, the sessions still open and the fusion weights. ``MemoryService`` is one; retrieval
    never needs the rest of it, so it does not import it (no circle with the service)."""

    retrieval: "RetrievalConfig"
    store: Store
    embedder: Embedder | None

    def speakers(self, pid: int) -> dict[str, str]: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray | None: ...

    def index(self, pid: int) -> PatientIndex: ...

    def ring(self, pid: int) -> ShortTermBuffer: ...

    def open_session_ids(self) -> set[str]: ...


def hybrid_search(sources: RetrievalSources, pid: int, query: str, k: int, now: float | None = None,
                  cfg: RetrievalConfig | None = None, mode: str = "hybrid") -> list[Hit]:
    """``mode``: "hybrid" (everything), "dense", "bm25", "rrf" (plain dense+BM25 fusion over the
    same rows: the baselines the evaluation compares against)."""
    cfg = cfg or sources.retrieval
    now = _time.time() if now is None else now
    depth = max(cfg.depth, 5 * k)
    lists: dict[str, list[tuple[tuple[str, Any], float]]] = {}
    store = sources.store

    who: list[str] = []
    role_of: dict[str, str] = {}
    if mode == "hybrid":
        role_of = sources.speakers(pid)
        who = speakers.named(query, role_of)
    if mode in ("hybrid", "dense", "rrf") and sources.embedder is not None:
        dense_query = query
        if who and cfg.dense_drop_names:
            dense_query = speakers.without_names(query, who) or query
        qv = sources.embed([dense_query])
        if qv is not None:
            index = sources.index(pid)
            found = index.search(qv[0], max(depth, cfg.rerank if index.precision == "i8" else 0))
            if index.precision == "i8" and cfg.rerank and found:
                # i8 HNSW finds the neighbourhood; exact cosine on the stored float16 vectors orders it.
                exact = store.embeddings_for(pid, [k for k, _ in found])
                keys = [k for k, _ in found if k in exact]
                if keys:
                    mat = np.frombuffer(b"".join(exact[k] for k in keys), dtype=np.float16).reshape(len(keys), -1)
                    sims = mat.astype(np.float32) @ qv[0]
                    found = sorted(zip(keys, sims.tolist()), key=lambda x: -x[1])
            lists["dense"] = [(_ref(key), sim) for key, sim in found[:depth]]
    if mode == "hybrid" and cfg.local_idf:
        drop = [w for label in who for w in speakers.name_words(label)]
        lists["bm25"] = [(_ref(key), s) for key, s in store.bm25_local(pid, query, depth, drop=drop)]
    elif mode in ("hybrid", "bm25", "rrf"):
        lists["bm25"] = [(_ref(key), s) for key, s in store.bm25(pid, query, depth)]
    ring = sources.ring(pid) if mode == "hybrid" else None
    if ring is not None and len(ring):
        qterms = unique_terms(query)
        scored = [(("s", n.id), fuzzy_score(qterms, ring.term_set(n))) for n in ring]
        scored = [x for x in scored if x[1] >= cfg.fuzzy_min]
        scored.sort(key=lambda x: -x[1])
        lists["fuzzy"] = scored[:depth]

    hint = timeparse.parse(query, now) if mode == "hybrid" else timeparse.TimeHint()
    kinds = intent_kinds(query) if mode == "hybrid" else []

    # Materialize candidates (decrypt only what can win).
    turn_ids = {ref[1] for lst in lists.values() for ref, _ in lst if ref[0] == "t"}
    mem_ids = {ref[1] for lst in lists.values() for ref, _ in lst if ref[0] == "m"}
    if hint.window or hint.first:
        sessions = store.sessions(pid)
        chosen = [s for s in sessions if s["started"] is not None and hint.window
                  and hint.start <= s["started"] < hint.end]  # type: ignore[operator]
        if hint.first and sessions:
            chosen.append(sessions[0])  # "when we first met": the first session is in play
        want = {s["id"] for s in chosen}
        summaries = store.memories(pid, tier="summary", sessions=sorted(want))
        mem_ids.update(m["id"] for m in summaries)
        if hint.first and sessions:
            # The first visit's summary, then its patient turns, most informative first.
            first_turns = [t for t in store.turns(pid, session_id=sessions[0]["id"]) if t["role"] == "user"]
            first_turns.sort(key=lambda t: -_informative(t["text"]))
            turn_ids.update(t["id"] for t in first_turns)
            first_sum = [m for m in summaries if m["session_id"] == sessions[0]["id"]]
            lists["first"] = [(("m", m["id"]), 0.0) for m in first_sum] + [(("t", t["id"]), 0.0) for t in first_turns]
    if kinds:
        # "every medicine I told you about", "how do I like you to talk": notes of that kind, newest first.
        kind_mems = store.memories(pid, tier="long", kinds=kinds, newest_first=True, limit=depth)
        mem_ids.update(m["id"] for m in kind_mems)
        kind_list: list[tuple[tuple[str, Any], float]] = [(("m", m["id"]), 0.0) for m in kind_mems]
        if ring is not None:
            promoted = {m["id"] for m in kind_mems}
            for n in sorted(ring, key=lambda n: -n.last_access):
                if n.kind in kinds and n.promoted not in promoted:
                    kind_list.append((("s", n.id), 0.0))
        lists["kind"] = kind_list[:depth]
    items: dict[tuple[str, Any], Hit] = {}
    open_sessions = sources.open_session_ids()
    place: dict[tuple[str, Any], tuple[str, int]] = {}  # turn ref -> (session, seq)
    for t in store.turns(pid, ids=turn_ids):
        if t.get("speaker") == KIOSK_SPEAKER:
            continue  # the kiosk's own words are never recalled as memories
        place[("t", t["id"])] = (t["session_id"], t["seq"])
        tier = "working" if t["session_id"] in open_sessions else "turn"
        items[("t", t["id"])] = Hit(text=t["text"], score=0.0, tier=tier, source_ids=[t["tid"]], time=t["time"],
                                    kind=t["role"], speaker=t["speaker"])
    for m in store.memories(pid, ids=mem_ids, status="active"):
        items[("m", m["id"])] = Hit(text=m["text"], score=0.0, tier=m["tier"], source_ids=list(m["source_ids"]),
                                    memory_id=m["id"], kind=m["kind"], time=m["event_time"] or m["created"])
    if ring is not None:
        wanted = {r for name in ("fuzzy", "kind") for r, _ in lists.get(name, []) if r[0] == "s"}
        for n in ring:
            if ("s", n.id) in wanted:
                items[("s", n.id)] = Hit(text=n.text, score=0.0, tier="short", source_ids=list(n.source_ids),
                                         memory_id=n.promoted, kind=n.kind, time=n.event_time or n.created)

    weights = {"dense": cfg.w_dense, "bm25": cfg.w_bm25, "fuzzy": cfg.w_fuzzy, "kind": cfg.w_kind,
               "first": cfg.w_first}
    if mode in ("dense", "bm25"):
        weights = {mode: 1.0}
    scores: dict[tuple[str, Any], float] = {}
    why: dict[tuple[str, Any], dict[str, Any]] = {}
    for name, lst in lists.items():
        w = weights.get(name, 0.0)
        rank = 0
        for ref, raw in lst:
            if ref not in items:
                continue  # deleted/archived since indexed: never surfaces
            rank += 1
            scores[ref] = scores.get(ref, 0.0) + w / (cfg.rrf_k + rank)
            why.setdefault(ref, {})[name] = rank
    if mode == "hybrid":
        _person_lists(query, who, role_of, items, scores, why, cfg)
        if hint.window:
            inside = sorted((r for r, h in items.items() if h.time is not None and hint.start <= h.time < hint.end),  # type: ignore[operator]
                            key=lambda r: -scores.get(r, 0.0))
            for rank, ref in enumerate(inside, 1):
                scores[ref] = scores.get(ref, 0.0) + cfg.w_time / (cfg.rrf_k + rank)
                why.setdefault(ref, {})["time"] = rank
        if (hint.recent or hint.first) and scores:
            # Among the candidates that are relevant at all (half the best score or more), the newest
            # (or, for "first", the oldest) wins: "the last time I mentioned it".
            top = max(scores.values())
            relevant = [r for r in scores if scores[r] >= cfg.recent_floor * top and items[r].time is not None]
            by_time = sorted(relevant, key=lambda r: items[r].time, reverse=hint.recent)  # type: ignore[arg-type,return-value]
            for rank, ref in enumerate(by_time, 1):
                scores[ref] += cfg.w_recent / (cfg.rrf_k + rank)
                why.setdefault(ref, {})["recent" if hint.recent else "oldest"] = rank
        for ref in scores:
            scores[ref] *= cfg.tier_prior.get(items[ref].tier, 1.0)
            if ref[0] == "t" and _smalltalk(items[ref].text):
                scores[ref] *= cfg.smalltalk  # "How can I help you today?" matches every vague question
        # Provenance expansion: matching notes/summaries lend score to their source turns.
        lent: dict[str, float] = {}
        for ref, s in scores.items():
            if ref[0] in ("m", "s"):
                for tid in items[ref].source_ids:
                    lent[tid] = max(lent.get(tid, 0.0), cfg.expand * s)
        if lent:
            by_tid = {h.source_ids[0]: r for r, h in items.items() if r[0] == "t"}
            missing = [tid for tid in lent if tid not in by_tid]
            if missing:
                ids = store.turn_ids_by_tid(pid, missing)
                for t in store.turns(pid, ids=ids.values()):
                    if t.get("speaker") == KIOSK_SPEAKER:
                        continue
                    tier = "working" if t["session_id"] in open_sessions else "turn"
                    ref = ("t", t["id"])
                    place[ref] = (t["session_id"], t["seq"])
                    items[ref] = Hit(text=t["text"], score=0.0, tier=tier, source_ids=[t["tid"]], time=t["time"],
                                     kind=t["role"], speaker=t["speaker"])
                    by_tid[t["tid"]] = ref
            for tid, bonus in lent.items():
                ref = by_tid.get(tid)
                if ref is not None:
                    scores[ref] = scores.get(ref, 0.0) + bonus
                    why.setdefault(ref, {})["expanded"] = round(bonus, 5)

        if cfg.neighbour:
            _lend_to_neighbours(store, pid, items, scores, why, place, open_sessions, cfg)

    ranked = sorted(scores.items(), key=lambda x: -x[1])
    out: list[Hit] = []
    covered: set[str] = set()
    for ref, s in ranked:
        h = items[ref]
        if cfg.collapse and mode == "hybrid" and ref[0] == "t" and h.source_ids[0] in covered:
            continue
        if mode == "hybrid" and ref[0] == "s" and h.memory_id is not None and ("m", h.memory_id) in scores:
            continue  # the promoted copy of this note is already a candidate
        h.score = round(float(s), 6)
        h.why = why.get(ref, {})
        out.append(h)
        covered.update(h.source_ids)
        if len(out) >= k:
            break
    return out


def _lend_to_neighbours(store: Any, pid: int, items: dict[tuple[str, Any], Hit], scores: dict[tuple[str, Any], float],
                        why: dict[tuple[str, Any], dict[str, Any]], place: dict[tuple[str, Any], tuple[str, int]],
                        open_sessions: set[str], cfg: RetrievalConfig) -> None:
    """A turn that matches lends to the turns around it, most to the reply after it.

    In a conversation the answer is often the next turn and says none of the question's words:
    "I've started knitting you a jumper." / "What colour?" / "Bottle green." A question about
    the jumper's colour matches the first; the fact is two turns on."""
    offsets = {d: 1.0 / d for d in range(1, max(cfg.neighbour_span, 1) + 1)}
    offsets[-1] = 0.5
    best = sorted((r for r in scores if r[0] == "t" and r in place), key=lambda r: -scores[r])[:cfg.neighbour_top]
    want: dict[str, set[int]] = {}
    for ref in best:
        sid, seq = place[ref]
        want.setdefault(sid, set()).update(seq + d for d in offsets)
    if not want:
        return
    by_place = {v: r for r, v in place.items()}
    lent: dict[tuple[str, Any], float] = {}
    rows = {}
    for sid, seqs in want.items():
        for t in store.turns_at(pid, sid, sorted(seqs)):
            if t.get("speaker") == KIOSK_SPEAKER:
                continue  # the kiosk's own reply after a match is never recalled (types.KIOSK_SPEAKER)
            rows[(sid, t["seq"])] = t
    for ref in best:
        sid, seq = place[ref]
        for d, share in offsets.items():
            t = rows.get((sid, seq + d))
            if t is None:
                continue
            nref = by_place.get((sid, seq + d), ("t", t["id"]))
            if nref not in items:
                tier = "working" if sid in open_sessions else "turn"
                items[nref] = Hit(text=t["text"], score=0.0, tier=tier, source_ids=[t["tid"]], time=t["time"],
                                  kind=t["role"], speaker=t["speaker"])
                place[nref] = (sid, t["seq"])
            loan = cfg.neighbour * share * scores[ref]
            lent[nref] = lent.get(nref, 0.0) + loan if cfg.neighbour_sum else max(lent.get(nref, 0.0), loan)
    for ref, bonus in lent.items():
        scores[ref] = scores.get(ref, 0.0) + bonus
        why.setdefault(ref, {})["neighbour"] = round(bonus, 5)


def _person_lists(query: str, who: list[str], role_of: dict[str, str], items: dict[tuple[str, Any], Hit],
                  scores: dict[tuple[str, Any], float], why: dict[tuple[str, Any], dict[str, Any]],
                  cfg: RetrievalConfig) -> None:
    """Votes for who said it and for turns that say when (module docstring of ``speakers``).

    Each is one more ranked list over the candidates already in play, ordered by the score they
    have so far, so it reorders what matched rather than bringing in what did not."""
    extra: list[tuple[str, float, list[tuple[str, Any]]]] = []
    turns = sorted((r for r in scores if r[0] == "t"), key=lambda r: -scores[r])
    if who and cfg.w_speaker:
        extra.append(("speaker", cfg.w_speaker, [r for r in turns if items[r].speaker in who]))
    elif cfg.w_self and speakers.first_person(query):
        users = {label for label, role in role_of.items() if role == "user"}
        extra.append(("self", cfg.w_self, [r for r in turns if items[r].kind == "user" or items[r].speaker in users]))
    if cfg.w_when and _WHEN_Q.search(fold(query)):
        extra.append(("when", cfg.w_when, [r for r in turns if _says_when(items[r].text)]))
    for name, w, lst in extra:
        for rank, ref in enumerate(lst, 1):
            scores[ref] += w / (cfg.rrf_k + rank)
            why.setdefault(ref, {})[name] = rank
    if who and cfg.addressed != 1.0:
        names = {w for label in who for w in speakers.name_words(label)} - speakers.GENERIC
        for ref in turns:
            if items[ref].speaker not in who and names & set(_words(items[ref].text)):
                scores[ref] *= cfg.addressed  # "Wow, Caroline, that's awesome!" is not Caroline's news
                why.setdefault(ref, {})["addressed"] = cfg.addressed


_WHEN_Q = re.compile(r"^\s*(when|what (day|date|month|year|time))\b|\b(how long ago|what date|which (day|month|year))\b")
_WHEN_T = re.compile(r"\b(yesterday|today|tonight|tomorrow|last (night|week|weekend|month|year|monday|tuesday|wednesday|"
                     r"thursday|friday|saturday|sunday|spring|summer|autumn|fall|winter)|this (morning|week|weekend|month)|"
                     r"ago|on (monday|tuesday|wednesday|thursday|friday|saturday|sunday)|since|"
                     r"january|february|march|april|june|july|august|september|october|november|december|"
                     r"\d{1,2}(st|nd|rd|th)|\d{4}|next (week|month|weekend)|weekend|birthday|christmas|easter)\b")



def _says_when(text: str) -> bool:
    return bool(_WHEN_T.search(fold(text)))


def _words(text: str) -> list[str]:
    return words(text)


_INTENTS: list[tuple[str, "re.Pattern[str]"]] = [
    ("medication", re.compile(r"\b(medicines?|medications?|meds|drugs?|pills?|tablets?|prescriptions?|prescribed|"
                              r"what do i take|what i take|am i taking|i'm taking|inhaler)\b")),
    ("allergy", re.compile(r"\b(allerg\w*|react\w*( badly)? to|bad reactions?|can't (have|take)|intoleran\w*|"
                           r"sensitive to)\b")),
    ("condition", re.compile(r"\b(conditions?|diagnos\w*|chronic|diseases?|illness\w*)\b")),
    ("symptom", re.compile(r"\b(symptoms?|complaints?)\b")),
    ("preference", re.compile(r"\b(prefer\w*|talk to me|speak to me|answer me|style|how (do|should) you (answer|talk|reply)|"
                              r"like (you|it) to)\b")),
    ("personal", re.compile(r"\b(about myself|about me|who am i|my (job|work|age|family))\b")),
    ("history", re.compile(r"\b(surgery|surgeries|operations?|medical history|history)\b")),
]


_SMALLTALK = re.compile(r"\b(thank\w*|you're welcome|goodbye|bye|good (morning|afternoon|evening|day)|hello|hi|"
                        r"how (can|may) i (help|assist)|take care|have a (nice|good|great) day|appreciate|"
                        r"feel free|reach out|any (other|further) (questions|concerns)|get well soon)\b")


_T = TypeVar("_T")


def _per_text(size: int = 4096) -> Callable[[Callable[[str], _T]], Callable[[str], _T]]:
    """Memoize a per-turn text feature, keyed by the text's hash (the cache holds no patient text).

    Every query re-scores its candidate turns (``_smalltalk``) and "first visit" questions every
    patient turn of the first session (``_informative``): 44% of search time in a profile, on
    turns that come back query after query. Bounded (LRU): ~0.4 MB per 4,096 entries."""

    def wrap(fn: Callable[[str], _T]) -> Callable[[str], _T]:
        cache: LRU[int, _T] = LRU(size)

        def cached(text: str) -> _T:
            key = hash(text)
            if key in cache:
                return cache.get(key)  # type: ignore[return-value]
            return cache.put(key, fn(text))

        cached.__doc__ = fn.__doc__
        return cached

    return wrap


@_per_text()
def _smalltalk(text: str) -> bool:
    """A greeting or thanks with at most a few content words besides."""
    f = fold(text)
    if not _SMALLTALK.search(f):
        return False

    if any(lexicon.find(k, f) for k in ("symptom", "condition", "medication", "allergen")):
        return False
    return len(set(terms(text))) <= 12


@_per_text()
def _informative(text: str) -> float:
    """How much a patient turn says: lexicon terms and distinct content words, minus pleasantries."""
    f = fold(text)
    lex = sum(len(lexicon.find(k, f)) for k in ("symptom", "condition", "medication", "allergen"))
    personal = 2.0 if re.search(r"\b(years? old|work(s|ing)? as|live[sd]? in|i am a|i'm a|my name)\b", f) else 0.0
    return 2.0 * lex + personal + min(len(set(terms(text))), 15) * 0.2 - (3.0 if _smalltalk(text) else 0.0)


def intent_kinds(query: str) -> list[str]:
    """Which note kinds a question is about ("list every medicine I told you" -> medication)."""
    q = fold(query)
    return [kind for kind, pat in _INTENTS if pat.search(q)]


def _ref(key: int) -> tuple[str, int]:
    kind, i = split_key(key)
    return ("t", i) if kind == "turn" else ("m", i)
