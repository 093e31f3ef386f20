"""Evidence recall on long multi-session chats: BM25, dense, RRF over raw turns vs edgemem's memory.

Run (about 10 minutes on 2 cores, most of it embedding and importing):
    nice -n 10 python -m benchmarks.memory_recall --json artifacts/bench/recall.json
It builds the longchat set if missing (benchmarks/data/build_longchat.py, seed 7), then

* baselines: one index per patient over that patient's raw turns; each question is searched in its
  own patient's index; hits are turns;
* edgemem: every patient's sessions are fed through ``MemoryService`` exactly as a kiosk would see
  them (``start_session``, ``add_turn`` per turn with its timestamp, ``end_session`` when the
  session is over, so rehearsal and consolidation run), on a fresh home; then a new
  ``MemoryService`` on the same home (a restart) answers ``search(user, question, k)``; each hit's
  ``source_ids`` (turn ids returned by ``add_turn``) are mapped back to the set's turn ids.

Metrics are defined in ``benchmarks.memory_retrievers``. Figures go to stdout (a table) and, with
``--json``, to a file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .data import build_longchat
from .memory_retrievers import BM25, Dense, RankedHit, aggregate, rrf, score_question

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "artifacts" / "longchat"
CACHE = ROOT / "artifacts" / "bench"


def _parse_time(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=__import__("datetime").timezone.utc)


def embed_cached(embedder: Any, texts: Sequence[str], tag: str) -> np.ndarray:
    """Embed once per distinct text list; the cache key is the sha256 of the texts."""
    h = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"vec-{tag}-{h}.npy"
    if path.exists():
        return np.load(path)
    vecs = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def run_baselines(turns: list[dict], questions: list[dict], embedder: Any, k: int) -> dict[str, list[dict]]:
    """Per-question metric rows for bm25, dense and rrf."""
    t_vecs = embed_cached(embedder, [t["text"] for t in turns], "turns")
    q_vecs = embed_cached(embedder, [q["question"] for q in questions], "questions")
    by_user: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(turns):
        by_user[t["user"]].append(i)
    rows: dict[str, list[dict]] = {"bm25": [], "dense": [], "rrf": []}
    indexes: dict[str, tuple[BM25, Dense]] = {}
    pool = max(k, 100)  # how deep each list goes into the fusion
    for qi, q in enumerate(questions):
        idx = by_user[q["user"]]
        if q["user"] not in indexes:
            indexes[q["user"]] = (BM25([turns[i]["text"] for i in idx]), Dense(t_vecs[idx]))
        bm, de = indexes[q["user"]]
        lists = {"bm25": bm.rank(q["question"], pool), "dense": de.rank_vector(q_vecs[qi], pool)}
        lists["rrf"] = rrf([lists["bm25"], lists["dense"]], pool)
        for name, lst in lists.items():
            hits = [RankedHit(turns[idx[j]]["text"], [turns[idx[j]]["id"]]) for j in lst]
            rows[name].append({"qid": q["qid"], "type": q["type"], **score_question(q, hits, k)})
    return rows


def import_into_memory(service: Any, turns: list[dict], progress: bool = True) -> dict[str, str]:
    """Feed turns session by session through the live API; return memory turn id -> set turn id."""
    id_map: dict[str, str] = {}
    cur: tuple[str, str] | None = None
    sid: Any = None
    n = 0
    t0 = time.perf_counter()
    for t in turns:
        key = (t["user"], t["session"])
        if key != cur:
            if cur is not None:
                service.end_session(cur[0], sid)
            sid = service.start_session(t["user"])
            cur = key
        tid = service.add_turn(t["user"], sid, t["role"], t["text"], time=_parse_time(t["time"]))
        id_map[str(tid)] = t["id"]
        n += 1
        if progress and n % 500 == 0:
            print(f"  imported {n}/{len(turns)} turns ({n / (time.perf_counter() - t0):.0f}/s)", file=sys.stderr)
    if cur is not None:
        service.end_session(cur[0], sid)
    return id_map


def open_service(home: Path, embedder: Any, profile_name: str = "x86-kiosk") -> Any:
    from edgemem.home import Home
    from edgemem.memory import MemoryService
    from edgemem.privacy.cipher import PlainCodec
    from edgemem.profiles import load

    return MemoryService(Home(home).ensure(), embedder, PlainCodec(), load(profile_name))


def run_edgemem(turns: list[dict], questions: list[dict], embedder: Any, k: int, home: Path,
                profile_name: str = "x86-kiosk") -> tuple[list[dict], dict[str, Any]]:
    """Import everything live, restart, search every question; rows plus timing facts."""
    svc = open_service(home, embedder, profile_name)
    t0 = time.perf_counter()
    id_map = import_into_memory(svc, turns)
    import_s = time.perf_counter() - t0
    svc.close()
    svc = open_service(home, embedder, profile_name)  # a restart: nothing may live only in RAM
    rows = []
    lat = []
    tiers: dict[str, int] = defaultdict(int)
    for q in questions:
        s = time.perf_counter()
        hits = svc.search(q["user"], q["question"], k)
        lat.append(time.perf_counter() - s)
        ranked = []
        for h in hits:
            tiers[str(getattr(h, "tier", "?"))] += 1
            src = [id_map.get(str(x), str(x)) for x in (getattr(h, "source_ids", None) or [])]
            ranked.append(RankedHit(str(h.text), src))
        rows.append({"qid": q["qid"], "type": q["type"], **score_question(q, ranked, k)})
    svc.close()
    facts = {"import_s": round(import_s, 1), "turns_per_s": round(len(turns) / import_s, 1),
             "search_p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 2),
             "search_p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 2), "hit_tiers": dict(tiers)}
    return rows, facts


def table(results: dict[str, dict[str, dict[str, float]]], metric: str) -> str:
    systems = list(results)
    types = sorted({t for r in results.values() for t in r if t != "all"})
    lines = [f"| {metric} | " + " | ".join(systems) + " | n |", "|---" * (len(systems) + 2) + "|"]
    for t in ["all"] + types:
        vals = [results[s].get(t, {}).get(metric) for s in systems]
        n = results[systems[0]].get(t, {}).get("n", 0)
        lines.append(f"| {t} | " + " | ".join("—" if v is None else f"{v:.3f}" for v in vals) + f" | {n} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Evidence recall@k: BM25 / dense / RRF baselines vs edgemem memory.")
    ap.add_argument("--set", type=Path, default=DEFAULT_SET, help="folder of a built longchat set (built if missing)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--patients", type=int, default=0, help="use only the first N patients (0 = all)")
    ap.add_argument("--no-edgemem", action="store_true", help="baselines only")
    ap.add_argument("--home", type=Path, default=None, help="home for the memory (default: a temporary folder)")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures here")
    a = ap.parse_args(argv)

    if not (a.set / "turns.jsonl").exists():
        build_longchat.write(a.set, *build_longchat.build())
    turns, questions = build_longchat.load(a.set)
    if a.patients:
        keep = sorted({t["user"] for t in turns})[: a.patients]
        turns = [t for t in turns if t["user"] in keep]
        questions = [q for q in questions if q["user"] in keep]
    from .memory_embedder import load_embedder

    embedder = load_embedder()
    out: dict[str, Any] = {"k": a.k, "turns": len(turns), "questions": len(questions),
                           "patients": len({t["user"] for t in turns})}
    results: dict[str, dict[str, dict[str, float]]] = {}
    t0 = time.perf_counter()
    for name, rows in run_baselines(turns, questions, embedder, a.k).items():
        results[name] = aggregate(rows)
    out["baselines_s"] = round(time.perf_counter() - t0, 1)
    if not a.no_edgemem:
        with tempfile.TemporaryDirectory(prefix="edgemem-recall-") as tmp:
            home = a.home or Path(tmp)
            rows, facts = run_edgemem(turns, questions, embedder, a.k, home, a.profile)
        results["edgemem"] = aggregate(rows)
        out["edgemem"] = facts
    out["results"] = results
    for m in ("recall", "all", "answer", "fresh"):
        print(f"\n{table(results, m)}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({s: results[s]["all"] for s in results}))


if __name__ == "__main__":
    main()
