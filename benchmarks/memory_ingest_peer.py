"""Memory ingest and search through ``MemoryService``, against the embedder alone in the same run.

The machine is shared and its load moves absolute figures by several times, so every figure comes
with its peer measured in the same process, on the same texts, interleaved:
* ``embed_only``: MiniLM (``OnnxEmbedder``) over the turn texts in batches of 256 — the floor any
  ingest with embedding pays;
* ``import``: ``import_jsonl`` (the ``edgemem memory import`` path: one transaction and one
  embedding call per batch, sessions closed as the file moves on, so rehearsal, summaries and
  consolidation are included) — turns/s and its ratio to ``embed_only``; with ``--compare-roles``
  the same import again embedding every turn's text (``import_all_roles``, what the service did
  before it stopped embedding the assistant's turns), on a fresh home, in the same run;
* ``live``: ``start_session``/``add_turn`` one turn at a time/``end_session`` (what a kiosk does);
* ``search``: hybrid ``search(user, question, 10)`` after a restart, p50/p99 ms, with the bare
  query embedding as its peer (a hybrid search always pays one);
* RSS of the process before and after (VmRSS, MB);
* CPU seconds alongside wall seconds for the two ingest figures: on a loaded shared machine the
  wall figures drift several-fold, CPU time much less.

Run: nice -n 10 python -m benchmarks.memory_ingest_peer --turns 2000 --json artifacts/bench/ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .report import emit

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", type=Path, default=ROOT / "artifacts" / "longchat")
    ap.add_argument("--embedder", type=Path, default=None, help="exported MiniLM folder (exported if missing)")
    ap.add_argument("--turns", type=int, default=2000)
    ap.add_argument("--live-turns", type=int, default=300)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--embed-roles", default=None, help="turn roles the memory embeds (default: the service's)")
    ap.add_argument("--compare-roles", action="store_true",
                    help="also import with every role embedded (user,assistant,other), as the peer of the default")
    ap.add_argument("--peer-embedder", type=Path, default=None,
                    help="another exported embedder (e.g. MiniLM when --embedder is a student): the same import "
                         "with each, alternated --rounds times on fresh homes, medians and their ratio")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)

    from edgemem.home import Home
    from edgemem.memory.embedder import OnnxEmbedder
    from edgemem.memory.service import MemoryService, import_jsonl
    from edgemem.privacy.cipher import DataKey

    if not (a.set / "turns.jsonl").exists():
        from .data import build_longchat

        build_longchat.write(a.set, *build_longchat.build())
    turns = [json.loads(x) for x in open(a.set / "turns.jsonl", encoding="utf-8")][: a.turns]
    users = {t["user"] for t in turns}
    qs = [json.loads(x) for x in open(a.set / "questions.jsonl", encoding="utf-8")]
    qs = [q for q in qs if q["user"] in users][: a.queries]
    folder = a.embedder
    if folder is None:
        from .memory_embedder import ensure_exported

        folder = ensure_exported()
    emb = OnnxEmbedder(folder, threads=a.threads)
    texts = [t["text"] for t in turns]
    out: dict[str, Any] = {"turns": len(turns), "patients": len(users), "queries": len(qs),
                           "load_avg_start": os.getloadavg()[0], "rss_start_mb": round(rss_mb(), 1)}
    emb.embed(texts[:32])  # warm-up

    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), 256):
        emb.embed(texts[i:i + 256])
    embed_s, embed_cpu = time.perf_counter() - t0, time.process_time() - c0

    key = DataKey.generate()
    roles = {"embed_roles": a.embed_roles.split(",")} if a.embed_roles else {}
    out["embed_roles"] = a.embed_roles or "service default"
    with tempfile.TemporaryDirectory(prefix="edgemem-ingest-") as tmp:
        if a.peer_embedder is not None:
            peer = OnnxEmbedder(a.peer_embedder, threads=a.threads)
            peer.embed(texts[:32])
            runs: dict[str, list[tuple[float, float]]] = {"peer": [], "this": []}
            for r in range(a.rounds):
                for name, e in (("peer", peer), ("this", emb)):
                    svc = MemoryService(Home(Path(tmp) / f"cmp-{name}-{r}").ensure(), e, DataKey.generate(),
                                        "x86-kiosk", **roles)
                    t0, c0 = time.perf_counter(), time.process_time()
                    import_jsonl(svc, [json.dumps(t) for t in turns], batch=256)
                    svc.close()
                    runs[name].append((len(turns) / (time.perf_counter() - t0), len(turns) / (time.process_time() - c0)))
            med = {n: (float(np.median([x[0] for x in v])), float(np.median([x[1] for x in v]))) for n, v in runs.items()}
            out["compare"] = {
                "embedder": str(folder), "peer_embedder": str(a.peer_embedder), "rounds": a.rounds,
                "import_turns_per_s": round(med["this"][0], 1), "peer_import_turns_per_s": round(med["peer"][0], 1),
                "ratio_turns_per_s": round(med["this"][0] / med["peer"][0], 2),
                "import_turns_per_cpu_s": round(med["this"][1], 1),
                "peer_import_turns_per_cpu_s": round(med["peer"][1], 1),
                "runs": {n: [[round(w, 1), round(c, 1)] for w, c in v] for n, v in runs.items()},
            }
        if a.compare_roles:  # first, so the default's home is the one searched below
            svc = MemoryService(Home(Path(tmp) / "home-all").ensure(), emb, DataKey.generate(), "x86-kiosk",
                                embed_roles=("user", "assistant", "other"))
            t0, c0 = time.perf_counter(), time.process_time()
            import_jsonl(svc, [json.dumps(t) for t in turns], batch=256)
            svc.close()
            all_s, all_cpu = time.perf_counter() - t0, time.process_time() - c0
            out["import_all_roles_turns_per_s"] = round(len(turns) / all_s, 1)
            out["import_all_roles_turns_per_cpu_s"] = round(len(turns) / all_cpu, 1)
        home = Home(Path(tmp) / "home").ensure()
        svc = MemoryService(home, emb, key, "x86-kiosk", **roles)
        t0, c0 = time.perf_counter(), time.process_time()
        counts = import_jsonl(svc, [json.dumps(t) for t in turns], batch=256)
        svc.close()
        import_s, import_cpu = time.perf_counter() - t0, time.process_time() - c0
        out["rss_after_import_mb"] = round(rss_mb(), 1)
        if a.compare_roles:
            out["import_vs_all_roles"] = round(all_s / import_s, 3)

        # Live path on a second home, the first --live-turns turns.
        live = turns[: a.live_turns]
        home2 = Home(Path(tmp) / "home2").ensure()
        svc2 = MemoryService(home2, emb, DataKey.generate(), "x86-kiosk", **roles)
        t0 = time.perf_counter()
        cur = None
        sid = ""
        add_s = 0.0
        for t in live:
            k = (t["user"], t["session"])
            if k != cur:
                if cur is not None:
                    svc2.end_session(cur[0], sid)
                sid = svc2.start_session(t["user"])
                cur = k
            s = time.perf_counter()
            svc2.add_turn(t["user"], sid, t["role"], t["text"], time=t["time"])
            add_s += time.perf_counter() - s
        if cur is not None:
            svc2.end_session(cur[0], sid)
        svc2.close()
        live_s = time.perf_counter() - t0

        # Search after a restart; the bare query embedding is the peer.
        svc = MemoryService(home, emb, key, "x86-kiosk", **roles)
        for q in qs[:5]:
            svc.search(q["user"], q["question"], 10, reinforce=False)  # load each index once
        lat, elat = [], []
        for q in qs:
            s = time.perf_counter()
            emb.embed([q["question"]])
            elat.append(time.perf_counter() - s)
            s = time.perf_counter()
            svc.search(q["user"], q["question"], 10, reinforce=False, now=q.get("time"))
            lat.append(time.perf_counter() - s)
        svc.close()
        disk = sum(p.stat().st_size for p in home.root.rglob("*") if p.is_file())

    out.update({
        "embed_only_texts_per_s": round(len(texts) / embed_s, 1),
        "import_turns_per_s": round(len(turns) / import_s, 1),
        "import_vs_embed_only": round(embed_s / import_s, 3),
        # CPU seconds (all threads) move much less with the machine's load than wall time does.
        "embed_only_texts_per_cpu_s": round(len(texts) / embed_cpu, 1),
        "import_turns_per_cpu_s": round(len(turns) / import_cpu, 1),
        "import_counts": counts,
        "live_turns_per_s": round(len(live) / live_s, 1),
        "live_add_turn_ms_mean": round(add_s / len(live) * 1e3, 2),
        "search_p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 2),
        "search_p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 2),
        "query_embed_p50_ms": round(float(np.percentile(elat, 50)) * 1e3, 2),
        "search_vs_query_embed_p50": round(float(np.percentile(lat, 50) / np.percentile(elat, 50)), 2),
        "disk_mb": round(disk / 1e6, 2),
        "rss_end_mb": round(rss_mb(), 1),
        "load_avg_end": os.getloadavg()[0],
    })
    emit(out, a.json, indent=1)


if __name__ == "__main__":
    sys.exit(main())
