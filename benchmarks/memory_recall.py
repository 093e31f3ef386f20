"""Evidence recall on long multi-session chats: BM25, dense, RRF over raw turns vs edgemem's memory.

Run (about 10 minutes on 2 cores, most of it embedding and importing):
    nice -n 10 python -m benchmarks.memory_recall --json artifacts/bench/recall.json
It builds the longchat set if missing (benchmarks/data/build_longchat.py, seed 7), then

* baselines: one index per patient over that patient's raw turns; each question is searched in its
  own patient's index; hits are turns;
* edgemem: every patient's sessions are fed through ``MemoryService`` exactly as a kiosk would see
  them (``start_session``, ``add_turn`` per turn with its timestamp, ``end_session`` when the
  session is over, so rehearsal and consolidation run), on a fresh home; then a new
  ``MemoryService`` on the same home (a restart) answers ``search(user, question, k, now=asked)``;
  the set's turn ids are passed as the memory's turn ids, so each hit's ``source_ids`` are
  compared with the evidence directly.

Any folder in the same format is accepted (``--set DIR``: ``turns.jsonl`` {user, session, id,
speaker, role, text, time} and ``questions.jsonl`` {qid, user, type, question, answer, evidence,
stale, time}); the sets the project keeps are under ``benchmarks/data/memsets/`` (README there).

Splits (``--split dev|test|all``): whole conversations are held out, never single questions, so
that no turn a dev question was tuned on is evidence for a test question. The set's ``user`` ids
(one per conversation or patient) go to dev or test by the parity of
``sha256(SPLIT_SALT + user)``, each on its own, so a split never moves when a set grows; the
salt was picked from the ids alone so that the sets as planned split in exact halves. Weights are chosen on dev (``benchmarks.memory_tune``), then test is reported once.

Metrics are defined in ``benchmarks.memory_retrievers``. Figures go to stdout (a table) and, with
``--json``, to a file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .data import build_longchat
from .memory_retrievers import BM25, Dense, RankedHit, aggregate, rrf, score_question

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT / "artifacts" / "longchat"
CACHE = ROOT / "artifacts" / "bench"


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (onnxruntime's too): on a shared, loaded machine a
    fairer figure of the work done than wall time."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def code_version() -> str:
    """The commit measured, with '+dirty' when edgemem/memory has uncommitted changes."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "edgemem/memory"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def embed_cached(embedder: Any, texts: Sequence[str], tag: str) -> np.ndarray:
    """Embed each distinct text once across runs: vectors are kept by the sha256 of the text in
    ``CACHE/textvecs-<tag>.npz`` (a split or a new set re-embeds only the texts it adds)."""
    import zipfile

    path = CACHE / f"textvecs-{tag}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        try:
            with np.load(path) as z:
                known = dict(zip(z["keys"].tolist(), z["vecs"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            known = {}
    keys = [hashlib.sha256(t.encode("utf-8")).hexdigest()[:24] for t in texts]
    missing = list(dict.fromkeys(i for i, k in enumerate(keys) if k not in known))
    if missing:
        first = {}
        for i in missing:
            first.setdefault(keys[i], i)
        idx = list(first.values())
        vecs = np.asarray(embedder.embed([texts[i] for i in idx]), dtype=np.float32)
        known.update({keys[i]: v for i, v in zip(idx, vecs)})
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(known)), vecs=np.stack(list(known.values())))
        tmp.replace(path)
    return np.stack([known[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)


# Chosen once, before any figure was looked at, from the conversation ids alone (p000-p023,
# tp-a-1..4 + tp-b-1..4, kp-1..14): the first salt of the form that halves each set exactly.
SPLIT_SALT = "edgemem/memsplit/23/"


def split_of(user: str) -> str:
    """"dev" or "test" for one conversation (one ``user``), from the parity of a salted sha256 of
    its id alone: a conversation's split never changes when a set gains conversations."""
    return "dev" if int(hashlib.sha256((SPLIT_SALT + user).encode("utf-8")).hexdigest(), 16) % 2 == 0 else "test"


def split_users(users: Sequence[str]) -> dict[str, list[str]]:
    """{"dev": [...], "test": [...]} of the distinct ``users``."""
    out: dict[str, list[str]] = {"dev": [], "test": []}
    for u in sorted(set(users)):
        out[split_of(u)].append(u)
    return out


def load_set(folder: Path, split: str = "all") -> tuple[list[dict], list[dict]]:
    """Turns and questions of one set, restricted to a split's conversations.

    Sets other than longchat answer in free prose, so ``answer_literal`` marks the questions whose
    answer string occurs in an evidence turn (only those count for answer@10). ``folder`` may name
    several folders joined by commas (``twoperson_a,twoperson_b``: one set from two writers)."""
    folders = [Path(f) for f in str(folder).split(",")]
    turns: list[dict] = []
    questions: list[dict] = []
    for f in folders:
        t, q = build_longchat.load(f)
        turns += t
        questions += q
    meta = folders[0] / "meta.json"
    longchat = len(folders) == 1 and meta.exists() and "seed" in json.loads(meta.read_text(encoding="utf-8"))
    if not longchat:
        text = {t["id"]: t["text"].lower() for t in turns}
        for q in questions:
            a = str(q.get("answer") or "").lower().strip()
            q["answer_literal"] = bool(a) and any(a in text.get(e, "") for e in q["evidence"])
    if split != "all":
        keep = set(split_users([t["user"] for t in turns])[split])
        turns = [t for t in turns if t["user"] in keep]
        questions = [q for q in questions if q["user"] in keep]
    return turns, questions


def retrieval_config(spec: str | None) -> Any:
    """A ``RetrievalConfig`` from a JSON object (inline or a file), or the frozen default."""
    from edgemem.memory.retrieval import RetrievalConfig

    if not spec:
        return RetrievalConfig()
    p = Path(spec)
    d = json.loads(p.read_text(encoding="utf-8")) if p.exists() else json.loads(spec)
    return RetrievalConfig(**d)


def run_baselines(turns: list[dict], questions: list[dict], embedder: Any, k: int) -> dict[str, list[dict]]:
    """Per-question metric rows for bm25, dense and rrf."""
    t_vecs = embed_cached(embedder, [t["text"] for t in turns], "minilm")
    q_vecs = embed_cached(embedder, [q["question"] for q in questions], "minilm")
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


def import_into_memory(service: Any, turns: list[dict], live: bool = True, progress: bool = True) -> None:
    """Feed turns session by session through the API, keeping the set's turn ids as the memory's.

    ``live``: one ``add_turn`` per turn (each embedded on arrival, as at the kiosk); otherwise one
    ``ingest_turns`` batch per session (the ``memory import`` path). Either way ``end_session``
    runs when a session is over, so rehearsal, summaries and consolidation happen as they would.
    """
    sessions: list[list[dict]] = []
    for t in turns:
        if not sessions or (sessions[-1][0]["user"], sessions[-1][0]["session"]) != (t["user"], t["session"]):
            sessions.append([])
        sessions[-1].append(t)
    n = 0
    t0 = time.perf_counter()
    for sess in sessions:
        user = sess[0]["user"]
        sid = service.start_session(user, time=sess[0]["time"], label=sess[0]["session"])
        if live:
            for t in sess:
                service.add_turn(user, sid, t["role"], t["text"], time=t["time"], turn_id=t["id"],
                                 speaker=t.get("speaker"))
        else:
            service.ingest_turns(user, sid, [{"role": t["role"], "text": t["text"], "time": t["time"],
                                              "id": t["id"], "speaker": t.get("speaker")} for t in sess])
        service.end_session(user, sid)
        n += len(sess)
        if progress:
            print(f"\r  imported {n}/{len(turns)} turns ({n / (time.perf_counter() - t0):.0f}/s)",
                  end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)


def open_service(home: Path, embedder: Any, profile_name: str = "x86-kiosk", **kwargs: Any) -> Any:
    from edgemem.home import Home
    from edgemem.memory import MemoryService
    from edgemem.privacy.cipher import PlainCodec
    from edgemem.profiles import load

    return MemoryService(Home(home).ensure(), embedder, PlainCodec(), load(profile_name), **kwargs)


def run_edgemem(turns: list[dict], questions: list[dict], embedder: Any, k: int, home: Path,
                profile_name: str = "x86-kiosk", modes: Sequence[str] = ("hybrid",),
                live: bool = True, **service_kwargs: Any) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Import everything, restart, search every question (at the question's time, without the
    reinforcement a real recall gives, so questions do not influence each other).
    ``service_kwargs`` go to ``MemoryService`` (e.g. ``embed_roles``)."""
    svc = open_service(home, embedder, profile_name, **service_kwargs)
    t0, c0 = time.perf_counter(), _cpu_s()
    import_into_memory(svc, turns, live=live)
    import_s, import_cpu = time.perf_counter() - t0, _cpu_s() - c0
    svc.close()
    svc = open_service(home, embedder, profile_name, **service_kwargs)  # a restart: nothing may live only in RAM
    rows: dict[str, list[dict]] = {m: [] for m in modes}
    lat: list[float] = []
    tiers: dict[str, int] = defaultdict(int)
    for mode in modes:
        for q in questions:
            s = time.perf_counter()
            hits = svc.search(q["user"], q["question"], k, now=q["time"], reinforce=False, mode=mode)
            if mode == "hybrid":
                lat.append(time.perf_counter() - s)
            ranked = []
            for h in hits:
                if mode == "hybrid":
                    tiers[str(h.tier)] += 1
                ranked.append(RankedHit(str(h.text), [str(x) for x in (h.source_ids or [])]))
            rows[mode].append({"qid": q["qid"], "type": q["type"], **score_question(q, ranked, k)})
    svc.close()
    facts: dict[str, Any] = {"import_s": round(import_s, 1), "turns_per_s": round(len(turns) / import_s, 1),
                             "import_cpu_s": round(import_cpu, 1),
                             "turns_per_cpu_s": round(len(turns) / max(import_cpu, 1e-9), 1),
                             "loadavg": os.getloadavg(),
                             "live": live, "hit_tiers": dict(tiers)}
    if lat:
        facts.update(search_p50_ms=round(float(np.percentile(lat, 50)) * 1e3, 2),
                     search_p99_ms=round(float(np.percentile(lat, 99)) * 1e3, 2))
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
    ap.add_argument("--set", type=Path, default=DEFAULT_SET,
                    help="folder with turns.jsonl + questions.jsonl, or several joined by commas "
                         "(default: the longchat set, built if missing)")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="all",
                    help="which conversations: dev (choose weights on it), test (report once), all")
    ap.add_argument("--retrieval", default=None,
                    help="RetrievalConfig overrides as JSON (inline or a file); default: the frozen defaults")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--patients", type=int, default=0, help="use only the first N patients (0 = all)")
    ap.add_argument("--no-edgemem", action="store_true", help="baselines only")
    ap.add_argument("--paraphrase", action="store_true",
                    help="ask the questions in the builder's held-out wordings (build_longchat.PARAPHRASES)")
    ap.add_argument("--home", type=Path, default=None, help="home for the memory (default: a temporary folder)")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--batch-import", action="store_true", help="one ingest_turns call per session instead of add_turn per turn")
    ap.add_argument("--modes", default="hybrid,rrf,bm25,dense",
                    help="MemoryService.search modes to score (hybrid is edgemem; the others are its own single retrievers over the same rows)")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures here")
    ap.add_argument("--embed-roles", default=None,
                    help="turn roles the memory embeds, comma-separated (default: the service's, user,other; "
                         "user,assistant,other is what it did before)")
    ap.add_argument("--no-memo", action="store_true",
                    help="let the memory re-embed turns the baseline already embedded (slow; for ingest timing)")
    ap.add_argument("--embedder", type=Path, default=None,
                    help="an exported embedder folder for the memory (e.g. a distilled student); the "
                         "baselines keep MiniLM, and every text is embedded by it (implies --no-memo)")
    a = ap.parse_args(argv)

    if not (a.set / "turns.jsonl").exists() and a.set == DEFAULT_SET:
        build_longchat.write(a.set, *build_longchat.build())
    for f in str(a.set).split(","):
        if not (Path(f) / "turns.jsonl").exists():
            raise SystemExit(f"error: no turns.jsonl in {f}")
    turns, questions = load_set(a.set, a.split)
    if a.paraphrase:
        questions = build_longchat.paraphrase(questions)
    if a.patients:
        keep = sorted({t["user"] for t in turns})[: a.patients]
        turns = [t for t in turns if t["user"] in keep]
        questions = [q for q in questions if q["user"] in keep]
    from .memory_embedder import load_embedder

    embedder = load_embedder()
    out: dict[str, Any] = {"set": str(a.set), "split": a.split,
                           "users": sorted({t["user"] for t in turns}), "k": a.k, "turns": len(turns),
                           "questions": len(questions),
                           "patients": len({t["user"] for t in turns}), "code": code_version(),
                           "embed_roles": a.embed_roles or "service default"}
    results: dict[str, dict[str, dict[str, float]]] = {}
    t0 = time.perf_counter()
    for name, rows in run_baselines(turns, questions, embedder, a.k).items():
        results[name] = aggregate(rows)
    out["baselines_s"] = round(time.perf_counter() - t0, 1)
    if not a.no_edgemem:
        mem_embedder = embedder
        if a.embedder is not None:
            from edgemem.memory.embedder import OnnxEmbedder

            mem_embedder = OnnxEmbedder(a.embedder, threads=2)
            out["memory_embedder"] = {"folder": str(a.embedder),
                                      **(json.loads((a.embedder / "embedder.json").read_text()).get("student", {})
                                         if (a.embedder / "embedder.json").exists() else {})}
        elif not a.no_memo:
            from .memory_embedder import Memoized

            texts = [t["text"] for t in turns]
            mem_embedder = Memoized(embedder, texts, embed_cached(embedder, texts, "minilm"))
        with tempfile.TemporaryDirectory(prefix="edgemem-recall-") as tmp:
            home = a.home or Path(tmp)
            rows, facts = run_edgemem(turns, questions, mem_embedder, a.k, home, a.profile,
                                      modes=a.modes.split(","), live=not a.batch_import,
                                      retrieval=retrieval_config(a.retrieval),
                                      **({"embed_roles": a.embed_roles.split(",")} if a.embed_roles else {}))
        if hasattr(mem_embedder, "hits"):
            facts["memoized_embeddings"] = {"hits": mem_embedder.hits, "misses": mem_embedder.misses}
        for mode, r in rows.items():
            results["edgemem" if mode == "hybrid" else f"mem-{mode}"] = aggregate(r)
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
