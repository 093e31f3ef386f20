"""Decode-step cost of one bundle against another (e.g. fp16 vs fp32 KV cache), A/B in fresh processes.

    python benchmarks/engine_kv_ab.py artifacts/engine-rss2/bundle-int8 artifacts/engine-rss2/bundle-int8-kv16 \\
        --home artifacts/engine-rss2/home --pairs 4 --threads 1

Each pair runs A then B, each in its own process: 64 greedy decode steps after a 50-token prompt
and after a 1,000-token one (random ids), timed in CPU time per step (and wall time). With one
thread the CPU time counts only the work, so the B/A ratio of a pair holds up on a busy machine far
better than tokens/s do; the medians of the pair ratios are printed. A quiet
``edgemem bench --compare llama-cpp`` is still what decides the decode target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(bundle: str, home: str, threads: int) -> dict:
    import numpy as np

    from edgemem.engine.engine import Engine

    e = Engine.from_bundle(bundle, home=home, threads=threads)
    m = e.model
    rng = np.random.RandomState(0)
    out = {}
    for name, plen in (("short", 50), ("long", 1000)):
        m.reset()
        tok = int(np.argmax(m.feed([int(t) for t in rng.randint(100, 40000, size=plen)])))
        for _ in range(4):
            tok = int(np.argmax(m.step(tok)))
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(64):
            tok = int(np.argmax(m.step(tok)))
        out[name] = {"cpu_ms": (time.process_time() - c0) / 64e-3, "wall_ms": (time.perf_counter() - w0) / 64e-3}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--home", required=True)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one(args.a, args.home, args.threads)))
        return
    ratios: dict[str, list[float]] = {"short": [], "long": []}
    for i in range(args.pairs):
        res = []
        for bundle in (args.a, args.b):
            cmd = [sys.executable, __file__, bundle, bundle, "--home", args.home, "--threads", str(args.threads), "--child"]
            res.append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1]))
        for k in ratios:
            ratios[k].append(res[1][k]["cpu_ms"] / res[0][k]["cpu_ms"])
        print(f"pair {i + 1}: " + "  ".join(f"{k} A {res[0][k]['cpu_ms']:.2f} B {res[1][k]['cpu_ms']:.2f} ms cpu/step"
                                           for k in ratios), file=sys.stderr)
    print(json.dumps({"b_over_a_cpu_per_step": {k: [round(r, 3) for r in v] for k, v in ratios.items()},
                      "median": {k: round(statistics.median(v), 3) for k, v in ratios.items()},
                      "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
