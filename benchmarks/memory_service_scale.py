"""The memory service at scale: one patient with 10k / 100k stored turns, searched end to end.

``usearch`` alone is measured by ``memory_scale``; this measures what a kiosk actually waits for:
``MemoryService.search`` (query embedding with the real MiniLM, FTS5 BM25, the HNSW index, the
short-term ring, fusion, decrypting the candidates from SQLite), after a restart, and the RSS the
service costs beyond a process that has already loaded the embedder and embedded the queries once
(so the embedder's own arena growth is not counted as the memory's): step by step (constructed,
index loaded, first search, after the searches) and the peak while opening (``VmHWM`` reset at
the baseline). Until this was split out, the figure after the searches was read *after* timing a
batch of 50 query embeddings, which grows onnxruntime's arena by ~20 MB: the 97 MB once reported
at 100k was ~77 MB of memory and ~20 MB of embedder.

Filling a patient with 100k turns through the real embedder would take hours on 2 cores, so the
turns are longchat texts made distinct with a visit number, and their vectors are the synthetic
ones of ``memory_scale.synthesize`` served by a lookup (``_Precomputed``); every text the table
does not hold (the queries) goes to the real embedder. Turns go in through ``ingest_turns`` in
sessions of ``--session-turns`` with ``end_session`` after each, so rehearsal, summaries,
consolidation and index saves all run. The ingest rate *with* embedding is measured separately
(``memory_scale --ingest``, ``memory_recall``).

Run: nice -n 10 python -m benchmarks.memory_service_scale --sizes 10000,100000 --json artifacts/bench/service-scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


class _Precomputed:
    """An embedder that answers known texts from a table and the rest with the real model.

    While filling (``pool`` given), texts the table lacks (the notes and summaries the memory
    derives) get a vector of the pool picked by a hash of the text instead: their retrieval
    quality is not what this benchmark measures, and embedding them would dominate the fill."""

    def __init__(self, real: Any, table: dict[str, np.ndarray], pool: np.ndarray | None = None,
                 dim: int = 384) -> None:
        self.real, self.table, self.pool = real, table, pool
        self.dim = real.dim if real is not None else dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = [i for i, t in enumerate(texts) if t not in self.table]
        for i, t in enumerate(texts):
            if t in self.table:
                out[i] = self.table[t]
        if missing and self.pool is not None:
            import zlib

            for i in missing:
                out[i] = self.pool[zlib.crc32(texts[i].encode()) % len(self.pool)]
        elif missing:
            out[missing] = self.real.embed([texts[i] for i in missing])
        return out


def _texts(n: int, source: Path | None = None) -> list[tuple[str, str]]:
    from .data import build_longchat
    from .memory_recall import DEFAULT_SET

    folder = source or DEFAULT_SET
    if not (folder / "turns.jsonl").exists():
        build_longchat.write(folder, *build_longchat.build())
    turns, _ = build_longchat.load(folder)
    base = [(t["role"], t["text"]) for t in turns]
    return [(base[i % len(base)][0], f"{base[i % len(base)][1]} (visit {i // len(base) + 1})") for i in range(n)]


def _codec(home: Any, encrypt: bool) -> Any:
    """The device's AES-GCM data key (created under the home) or, by default, plaintext rows."""
    from edgemem.privacy.cipher import PlainCodec

    if not encrypt:
        return PlainCodec()
    from edgemem.memory.keyfile import default_codec

    return default_codec(home)


def fill(home: Path, n: int, session_turns: int, embedder: Any, real_vecs: np.ndarray, seed: int,
         source: Path | None = None, encrypt: bool = False) -> dict[str, Any]:
    from edgemem.home import Home
    from edgemem.memory import MemoryService
    from edgemem.profiles import load

    from .memory_scale import synthesize

    rows = _texts(n, source)
    vecs = synthesize(real_vecs, n, seed=seed)
    emb = _Precomputed(embedder, {t: v for (_, t), v in zip(rows, vecs)}, pool=real_vecs)
    h = Home(home).ensure()
    svc = MemoryService(h, emb, _codec(h, encrypt), load("x86-kiosk"), synchronous="NORMAL")
    t0 = time.perf_counter()
    clock = 1_700_000_000.0
    for s in range(0, n, session_turns):
        sid = svc.start_session("scale", time=clock)
        chunk = rows[s:s + session_turns]
        svc.ingest_turns("scale", sid, [{"role": r, "text": t, "time": clock + i * 30, "id": f"t{s + i}"}
                                        for i, (r, t) in enumerate(chunk)])
        svc.end_session("scale", sid)
        clock += 86400 * 3
        print(f"\r  filled {min(n, s + session_turns)}/{n}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    fill_s = time.perf_counter() - t0
    svc.close()
    disk = sum(p.stat().st_size for p in Path(home).rglob("*") if p.is_file())
    return {"fill_s": round(fill_s, 1), "fill_turns_per_s_no_embedding": round(n / fill_s, 1),
            "disk_mb": round(disk / 2**20, 1)}


_CHILD = r"""
import json, sys, time, numpy as np
sys.path.insert(0, sys.argv[4])
def status():
    out = {}
    for l in open('/proc/self/status'):
        if l.startswith(('VmRSS:', 'VmHWM:')): out[l.split(':')[0]] = int(l.split()[1]) / 1024
    return out
def rss():
    return status()['VmRSS']
def reset_peak():  # VmHWM := VmRSS (Linux >= 4.0), so the next peak is the service's own
    try:
        open('/proc/self/clear_refs', 'w').write('5')
    except OSError:
        pass
from edgemem.home import Home
from edgemem.memory import MemoryService
from edgemem.profiles import load
from benchmarks.memory_service_scale import _codec
queries = json.loads(open(sys.argv[2]).read())
if sys.argv[5]:  # no model on this machine: the queries' vectors were computed elsewhere
    from benchmarks.memory_service_scale import _Precomputed
    z = np.load(sys.argv[5])
    emb = _Precomputed(None, {t: v for t, v in zip(z["question_texts"], z["questions"])}, pool=z["turns"])
else:
    from benchmarks.memory_embedder import load_embedder
    emb = load_embedder()
# Warm the embedder on the very queries, one at a time as the service asks: its arena then holds
# what these queries need before the baseline is read, so growth after it is the memory's.
for q in queries[: int(sys.argv[3])]:
    emb.embed([q])
before = rss()
reset_peak()
home = Home.resolve(sys.argv[1]).ensure()
svc = MemoryService(home, emb, _codec(home, sys.argv[6] == "1"), load("x86-kiosk"))
constructed = rss()
pid = svc.store.patient("scale", create=False)
idx = svc.index(pid)  # load (or rebuild) and catch up
index_loaded = rss()
svc.search("scale", queries[0], 10, reinforce=False)
opened, peak_open = rss(), status()['VmHWM']
lat = []
for q in queries[: int(sys.argv[3])]:
    t = time.perf_counter()
    svc.search("scale", q, 10, reinforce=False)
    lat.append(time.perf_counter() - t)
after, peak = rss(), status()['VmHWM']  # before the batch embedding below, which grows the embedder's arena
t = time.perf_counter(); qv = emb.embed(queries[:50]); emb_ms = (time.perf_counter() - t) / 50 * 1e3
print(json.dumps({"p50_ms": float(np.percentile(lat, 50)) * 1e3, "p99_ms": float(np.percentile(lat, 99)) * 1e3,
                  "query_embed_ms": emb_ms, "rss_embedder_loaded_mb": before,
                  "rss_service_constructed_mb": constructed - before, "rss_index_loaded_mb": index_loaded - before,
                  "index_held_mb": idx.memory_bytes() / 2**20,
                  "rss_service_open_mb": opened - before, "rss_peak_open_mb": peak_open - before,
                  "rss_after_searches_mb": after - before, "rss_peak_mb": peak - before}))
"""


def measure(home: Path, queries: list[str], n_queries: int, no_model_vectors: str = "",
            pin: str = "", encrypt: bool = False) -> dict[str, Any]:
    """Restart (a fresh process), open the service, search; ``pin`` limits that process to CPUs."""
    cpus = {int(x) for x in pin.split(",")} if pin else None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(queries, f)
    try:
        out = subprocess.run([sys.executable, "-c", _CHILD, str(home), f.name, str(n_queries), str(ROOT), no_model_vectors,
                              "1" if encrypt else "0"],
                             capture_output=True, text=True,
                             preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return {k: round(v, 2) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def service_scale(sizes: list[int], real: np.ndarray, real_q: np.ndarray, embedder: Any,
                  a: argparse.Namespace) -> list[dict[str, Any]]:
    if getattr(a, "no_model", False):
        queries = [str(x) for x in np.load(a.vectors)["question_texts"]]
    else:
        from .data import build_longchat
        from .memory_recall import DEFAULT_SET

        _, questions = build_longchat.load(DEFAULT_SET)
        queries = [q["question"] for q in questions]
    out = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="edgemem-svc-scale-") as tmp:
            row: dict[str, Any] = {"n": n}
            row.update(fill(Path(tmp), n, getattr(a, "session_turns", 1000), embedder, real, a.seed + n,
                            getattr(a, "set", None), getattr(a, "encrypt", False)))
            print(json.dumps(row), file=sys.stderr, flush=True)
            row.update(measure(Path(tmp), queries, getattr(a, "service_queries", 200),
                               str(a.vectors) if getattr(a, "no_model", False) else "", getattr(a, "pin", ""),
                               getattr(a, "encrypt", False)))
            row["codec"] = "aes-gcm" if getattr(a, "encrypt", False) else "plain"
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="MemoryService search latency and RSS at 10k/100k stored turns.")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--session-turns", type=int, default=1000)
    ap.add_argument("--service-queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--vectors", type=Path, default=None, help=".npz from memory_scale --save-vectors (skip embedding)")
    ap.add_argument("--no-model", action="store_true",
                    help="no embedder on this machine: --vectors must hold question_texts too (see --save-vectors)")
    ap.add_argument("--pin", default="", help="CPUs the measuring process is pinned to, e.g. 0,1")
    ap.add_argument("--set", type=Path, default=None, help="longchat folder whose texts fill the memory")
    ap.add_argument("--encrypt", action="store_true",
                    help="AES-GCM rows and index file (the device's default) instead of PlainCodec")
    ap.add_argument("--save-vectors", type=Path, default=None, help="write turns/questions/question_texts .npz and exit")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    from .memory_scale import real_vectors

    if a.save_vectors:
        from .data import build_longchat
        from .memory_embedder import load_embedder
        from .memory_recall import DEFAULT_SET

        real, real_q = real_vectors(load_embedder())
        _, qs = build_longchat.load(DEFAULT_SET)
        np.savez(a.save_vectors, turns=real, questions=real_q, question_texts=np.array([q["question"] for q in qs]))
        return
    if a.no_model:
        embedder = None
    else:
        from .memory_embedder import load_embedder

        embedder = load_embedder()
    if a.vectors:
        z = np.load(a.vectors)
        real, real_q = z["turns"], z["questions"]
    else:
        real, real_q = real_vectors(embedder)
    rows = service_scale([int(x) for x in a.sizes.split(",")], real, real_q, embedder, a)
    res = {"sizes": rows, "loadavg": os.getloadavg()}
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
