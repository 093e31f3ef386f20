"""Scale benchmark of the long-term memory's vector side: 10k, 100k and 1M memories.

What is measured, per size (defaults: usearch HNSW, cosine, i8, connectivity 16, expansion_add 128,
expansion_search 64, 2 threads for building, 1 thread per search because a kiosk asks one query):
* build rate (vectors/s, batch add with threads=2), index file size on disk;
* single-query search latency p50/p99 over 1,000 queries, and recall@10 against exact brute-force
  float32 cosine over the same vectors (numpy), the ground truth;
* RSS of the index in a fresh process (restore from disk, run the queries) beyond the same process
  before loading it: the memory the index costs a device, in RAM and memory-mapped (``view``);
* ingest with embedding (``--ingest N``): real longchat turns through the device's MiniLM ONNX
  embedder and into the index, one turn at a time (live) and in batches of 32 (an import);
* through the memory service (``--service``): ``MemoryService.search`` p50/p99 at each size up to
  100k (the whole hybrid path: query embedding, BM25, vector search, fusion).

The vectors. 10k-1M real embeddings would take hours to compute on 2 cores, so the corpus is
made from the real ones: ~7k MiniLM embeddings of the longchat turns, each synthetic vector
``normalize(r_i + a * r_j + s * g)`` (i, j random real vectors, a ~ U(0, 0.5), g Gaussian of norm
~1, s = 0.6 by default). That keeps the clustered, low-intrinsic-dimension shape of sentence
embeddings (uniform random 384-d vectors are the known worst case of every HNSW and unlike any
text; ``--noise`` large approaches them). Queries: the 277 real longchat question vectors, then
synthetic ones from another seed. Everything is seeded.

Run:  nice -n 10 python -m benchmarks.memory_scale --sizes 10000,100000,1000000 --json artifacts/bench/scale.json
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
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_ALL_CPUS = set(os.sched_getaffinity(0))  # taken at import, before any pinning


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def real_vectors(embedder: Any | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(turn vectors, question vectors) of the longchat set, embedded once and cached."""
    from .data import build_longchat
    from .memory_recall import DEFAULT_SET, embed_cached

    if not (DEFAULT_SET / "turns.jsonl").exists():
        build_longchat.write(DEFAULT_SET, *build_longchat.build())
    turns, questions = build_longchat.load(DEFAULT_SET)
    if embedder is None:
        from .memory_embedder import load_embedder

        embedder = load_embedder()
    return (embed_cached(embedder, [t["text"] for t in turns], "minilm"),
            embed_cached(embedder, [q["question"] for q in questions], "minilm"))


def synthesize(real: np.ndarray, n: int, seed: int, noise: float = 0.6, chunk: int = 200_000) -> np.ndarray:
    """n unit vectors shaped like ``real`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    d = real.shape[1]
    out = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        i = rng.integers(0, len(real), m)
        j = rng.integers(0, len(real), m)
        a = rng.uniform(0, 0.5, (m, 1)).astype(np.float32)
        g = rng.standard_normal((m, d), dtype=np.float32) / np.float32(np.sqrt(d))
        v = real[i] + a * real[j] + np.float32(noise) * g
        out[s:s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int, chunk: int = 100_000) -> np.ndarray:
    """Brute-force cosine top-k (unit vectors: dot product), in chunks to bound memory."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for s in range(0, len(base), chunk):
        sc = queries @ base[s:s + chunk].T
        kk = min(k, sc.shape[1])
        part = np.argpartition(-sc, kk - 1, axis=1)[:, :kk]
        cand_s = np.concatenate([best_s, np.take_along_axis(sc, part, 1)], axis=1)
        cand_i = np.concatenate([best_i, part + s], axis=1)
        o = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, o, 1), np.take_along_axis(cand_i, o, 1)
    return best_i


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of |found top-k ∩ true top-k| / k."""
    k = truth.shape[1]
    return float(np.mean([len(set(f[:k].tolist()) & set(t.tolist())) / k for f, t in zip(found, truth)]))


def make_index(ndim: int, dtype: str, connectivity: int, expansion_add: int, expansion_search: int) -> Any:
    from edgemem.memory.vectors import usearch_index  # onnxruntime first: the embedder may load it later

    Index = usearch_index()

    return Index(ndim=ndim, metric="cos", dtype=dtype, connectivity=connectivity,
                 expansion_add=expansion_add, expansion_search=expansion_search)


class FlatStore:
    """Exact float32 vectors in a flat file, read row by row with pread.

    The re-ranking step's source of exact vectors. pread goes through the page cache, which the
    kernel can drop under pressure, so unlike a second in-RAM copy it costs the process no RSS;
    on the device the same role is played by the vectors SQLite keeps as the source of truth.
    """

    def __init__(self, path: Path, vectors: np.ndarray | None = None, dim: int = 384) -> None:
        if vectors is not None:
            np.ascontiguousarray(vectors, dtype=np.float32).tofile(path)
            dim = vectors.shape[1]
        self.dim, self.row = dim, dim * 4
        self.fd = os.open(path, os.O_RDONLY)

    def get(self, keys: np.ndarray) -> np.ndarray:
        buf = b"".join(os.pread(self.fd, self.row, int(k) * self.row) for k in keys)
        return np.frombuffer(buf, dtype=np.float32).reshape(len(keys), self.dim)

    def close(self) -> None:
        os.close(self.fd)


def search_one_by_one(index: Any, queries: np.ndarray, k: int, rerank: int = 0,
                      store: FlatStore | None = None) -> tuple[np.ndarray, list[float]]:
    """One query at a time (a kiosk asks one); with ``rerank`` > k, fetch that many candidates
    from the (quantized) index and order them by exact cosine from ``store``."""
    keys = np.zeros((len(queries), k), dtype=np.int64)
    lat: list[float] = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        m = index.search(q, max(k, rerank), threads=1)
        got = np.asarray(m.keys, dtype=np.int64)
        if rerank > k and store is not None and len(got):
            exact = store.get(got) @ q
            got = got[np.argsort(-exact, kind="stable")]
        lat.append(time.perf_counter() - t)
        got = got[:k]
        keys[i, :len(got)] = got
    return keys, lat


def _pct(lat: list[float], p: float) -> float:
    return round(float(np.percentile(lat, p)) * 1e3, 3)


_RSS_CHILD = r"""
import json, os, sys, time, numpy as np
from usearch.index import Index
def rss(field='VmRSS:'):
    for l in open('/proc/self/status'):
        if l.startswith(field): return int(l.split()[1]) / 1024
q = np.load(sys.argv[2])
fd = os.open(sys.argv[5], os.O_RDONLY); rr = int(sys.argv[6])
before = rss(); before_anon = rss('RssAnon:'); before_file = rss('RssFile:')
idx = Index.restore(sys.argv[1], view=sys.argv[3] == 'view')
idx.expansion_search = int(sys.argv[4])
loaded = rss()
for v in q:
    keys = idx.search(v, max(10, rr), threads=1).keys
    if rr > 10:
        vec = np.frombuffer(b"".join(os.pread(fd, 1536, int(k) * 1536) for k in keys), dtype=np.float32)
        keys = keys[np.argsort(-(vec.reshape(len(keys), -1) @ v))][:10]
print(json.dumps({"before_mb": before, "loaded_mb": loaded, "after_search_mb": rss(),
                  "anon_mb": rss('RssAnon:'), "file_mb": rss('RssFile:'), "before_anon_mb": before_anon, "before_file_mb": before_file}))
"""


def index_rss(path: Path, queries: np.ndarray, view: bool, expansion_search: int, store: Path,
              rerank: int) -> dict[str, float]:
    """RSS cost of the saved index in a fresh process: loaded, and after answering the queries."""
    with tempfile.NamedTemporaryFile(suffix=".npy", delete=False) as f:
        np.save(f, queries)
    try:
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(path), f.name, "view" if view else "load",
                              str(expansion_search), str(store), str(rerank)], capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    r = json.loads(out.stdout)
    # A viewed index is a file mapping: the pages searches touch count in RSS as *file* pages the
    # kernel can drop under pressure (RssFile), unlike the anonymous memory a loaded copy holds.
    return {"loaded_mb": round(r["loaded_mb"] - r["before_mb"], 1),
            "after_search_mb": round(r["after_search_mb"] - r["before_mb"], 1),
            "after_search_anon_mb": round(r["anon_mb"] - r["before_anon_mb"], 1),
            "after_search_file_mb": round(r["file_mb"] - r["before_file_mb"], 1)}


def bench_size(n: int, real: np.ndarray, real_q: np.ndarray, a: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    base = synthesize(real, n, seed=a.seed + n, noise=a.noise)
    queries = np.concatenate([real_q, synthesize(real, max(0, a.queries - len(real_q)), seed=a.seed - 1, noise=a.noise)])[: a.queries]
    gen_s = time.perf_counter() - t0
    all_cpus, pinned = _ALL_CPUS, _pin_set(a)
    os.sched_setaffinity(0, all_cpus)  # ground truth and building may use every core; timing may not
    t0 = time.perf_counter()
    truth = exact_topk(base, queries, 10)
    exact_s = time.perf_counter() - t0
    row: dict[str, Any] = {"n": n, "synth_s": round(gen_s, 1), "exact_s": round(exact_s, 1),
                           "exact_ms_per_query": round(exact_s / len(queries) * 1e3, 2)}
    keep = a.index_dir is not None
    folder = a.index_dir if keep else workdir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"index-{n}-{a.dtype}-c{a.connectivity}-a{a.expansion_add}-s{a.seed}-z{a.noise}.usearch"
    if keep and path.exists():  # the same corpus (seeded) and build parameters: reuse the build
        idx = make_index(base.shape[1], a.dtype, a.connectivity, a.expansion_add, a.expansion_search[0])
        idx.load(str(path))
        row.update(build_reused=str(path.name))
        os.sched_setaffinity(0, pinned)
    else:
        idx = make_index(base.shape[1], a.dtype, a.connectivity, a.expansion_add, a.expansion_search[0])
        t0 = time.perf_counter()
        idx.add(np.arange(n, dtype=np.int64), base, threads=a.build_threads or a.threads)
        build_s = time.perf_counter() - t0
        row.update(build_s=round(build_s, 1), build_per_s=round(n / build_s),
                   build_threads=a.build_threads or a.threads)
        os.sched_setaffinity(0, pinned)
        idx.save(str(path))
    row["disk_mb"] = round(path.stat().st_size / 2**20, 1)
    row["memory_usage_mb"] = round(idx.memory_usage / 2**20, 1)
    store_path = workdir / f"vectors-{n}.f32"
    store = FlatStore(store_path, base)
    row["search"] = {}
    for ef in a.expansion_search:
        idx.expansion_search = ef
        for rr in a.rerank:
            search_one_by_one(idx, queries[:50], 10, rr, store)  # warm caches
            keys, lat = search_one_by_one(idx, queries, 10, rr, store)
            row["search"][f"ef{ef}-rerank{rr}"] = {"p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
                                                   "recall_at_10": round(recall_at_k(keys, truth), 4)}
    del idx, base
    store.close()
    ef, rr = a.expansion_search[-1], a.rerank[-1]
    row["rss"] = {"ram": index_rss(path, queries, False, ef, store_path, rr),
                  "view": index_rss(path, queries, True, ef, store_path, rr), "ef": ef, "rerank": rr}
    if not keep:
        path.unlink()
    store_path.unlink()
    return row


def _pin_set(a: argparse.Namespace) -> set[int]:
    """The CPUs searches and RSS probes run on: ``--pin 0,1`` emulates a 2-core board on a bigger host."""
    if not a.pin:
        return set(_ALL_CPUS)
    return {int(x) for x in a.pin.split(",")}


def bench_ingest(embedder: Any, texts: list[str], a: argparse.Namespace) -> dict[str, Any]:
    """Turns/s from text to indexed vector: live (one by one) and batched (an import)."""
    out: dict[str, Any] = {"turns": len(texts), "mean_chars": round(float(np.mean([len(t) for t in texts])), 1)}
    embedder.embed(texts[:8])  # warm up the session
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    idx = make_index(embedder.dim, a.dtype, a.connectivity, a.expansion_add, a.expansion_search[0])
    t0, c0 = time.perf_counter(), cpu()
    for i, t in enumerate(texts):
        idx.add(i, embedder.embed([t])[0])
    out["live_turns_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
    out["live_turns_per_cpu_s"] = round(len(texts) / (cpu() - c0), 1)
    idx = make_index(embedder.dim, a.dtype, a.connectivity, a.expansion_add, a.expansion_search[0])
    t0, c0 = time.perf_counter(), cpu()
    for s in range(0, len(texts), 32):
        v = embedder.embed(texts[s:s + 32])
        idx.add(np.arange(s, s + len(v), dtype=np.int64), v, threads=a.threads)
    out["batch32_turns_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
    out["batch32_turns_per_cpu_s"] = round(len(texts) / (cpu() - c0), 1)
    out["loadavg"] = os.getloadavg()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="usearch + memory scale benchmark (10k/100k/1M).")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dtype", default="i8", choices=["f32", "f16", "i8"])
    ap.add_argument("--connectivity", type=int, default=16)
    ap.add_argument("--expansion-add", type=int, default=128)
    ap.add_argument("--expansion-search", default="64", help="comma list; each is measured")
    ap.add_argument("--rerank", default="0", help="comma list of candidate counts re-ranked exactly (0 = none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build-threads", type=int, default=0, help="threads for building only (default: --threads)")
    ap.add_argument("--pin", default="", help="CPU list that searches are pinned to, e.g. 0,1 (default: no pinning)")
    ap.add_argument("--save-vectors", type=Path, default=None, help="write the real vectors as .npz (for --vectors elsewhere) and exit")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--noise", type=float, default=0.6)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--ingest", type=int, default=0, help="measure ingest with embedding on N real turns")
    ap.add_argument("--service", action="store_true", help="also measure MemoryService.search at sizes <= 100k")
    ap.add_argument("--vectors", type=Path, default=None, help=".npz with 'turns' and 'questions' (skip embedding)")
    ap.add_argument("--index-dir", type=Path, default=None,
                    help="keep built indexes here and reuse one whose corpus and build parameters match "
                         "(a 1M build takes tens of minutes on 2 cores)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    a.expansion_search = [int(x) for x in a.expansion_search.split(",")]
    a.rerank = [int(x) for x in a.rerank.split(",")]
    sizes = [int(x) for x in a.sizes.split(",") if x]

    embedder = None
    if a.vectors:
        z = np.load(a.vectors)
        real, real_q = z["turns"], z["questions"]
    else:
        from .memory_embedder import load_embedder

        embedder = load_embedder()
        real, real_q = real_vectors(embedder)
        if a.save_vectors:
            a.save_vectors.parent.mkdir(parents=True, exist_ok=True)
            np.savez(a.save_vectors, turns=real, questions=real_q)
            return
    result: dict[str, Any] = {"params": {k: v for k, v in vars(a).items() if k not in ("json", "vectors", "index_dir")},
                              "cpu_count": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                              "loadavg": os.getloadavg(), "sizes": []}
    result["params"]["vectors"] = str(a.vectors) if a.vectors else "longchat MiniLM + synthetic"
    with tempfile.TemporaryDirectory(prefix="edgemem-scale-") as tmp:
        for n in sizes:
            row = bench_size(n, real, real_q, a, Path(tmp))
            result["sizes"].append(row)
            print(json.dumps(row), flush=True)
    if a.ingest:
        from .data import build_longchat
        from .memory_recall import DEFAULT_SET

        if embedder is None:
            from .memory_embedder import load_embedder

            embedder = load_embedder()
        turns, _ = build_longchat.load(DEFAULT_SET)
        rng = np.random.default_rng(a.seed)
        texts = [turns[i]["text"] for i in rng.choice(len(turns), a.ingest, replace=False)]
        result["ingest"] = bench_ingest(embedder, texts, a)
        user_texts = [t["text"] for t in turns if t["role"] == "user"]
        result["ingest_user_turns"] = bench_ingest(embedder, [user_texts[i] for i in rng.choice(len(user_texts), a.ingest, replace=False)], a)
        print(json.dumps({"ingest": result["ingest"], "ingest_user_turns": result["ingest_user_turns"]}), flush=True)
    if a.service:
        from .memory_service_scale import service_scale

        result["service"] = service_scale([n for n in sizes if n <= 100_000], real, real_q, embedder, a)
        print(json.dumps({"service": result["service"]}), flush=True)
    result["loadavg_end"] = os.getloadavg()
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
