"""Where the engine's peak RSS comes from, step by step, in one fresh process.

    python benchmarks/engine_memory.py /work/main/artifacts/engine-bench/bundle-int8 \
        --home /work/main/artifacts/engine-bench/home

Runs what ``edgemem bench`` runs on the engine side (a first turn with 64 new tokens, then a
~1,000-token conversation and a ~26-token follow-up on top of it) and prints, after each step,
the process's VmRSS and VmHWM and the resident memory split into anonymous memory (heap, the
KV cache, onnxruntime's pre-packed weights) and file-backed mappings (the shared libraries and the
model's data file), plus the largest mappings. RSS does not depend on the machine's load, so this
is the figure to iterate on; ``edgemem bench --compare llama-cpp`` gives the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def status() -> dict[str, float]:
    out: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1024.0
    return out


def top_mappings(n: int = 6) -> list[tuple[float, str]]:
    """The largest resident mappings (MB, name); anonymous ones are summed as '[anon]'."""
    sizes: dict[str, float] = {}
    name = ""
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:
                name = os.path.basename(head[5]) if len(head) >= 6 else "[anon]"
            elif head[0] == "Rss:":
                sizes[name] = sizes.get(name, 0.0) + int(head[1]) / 1024.0
    return sorted(((v, k) for k, v in sizes.items()), reverse=True)[:n]


def report(step: str, rows: list[dict], verbose: bool) -> None:
    s = status()
    row = {"step": step, **{k: round(v, 1) for k, v in s.items()}}
    rows.append(row)
    print(f"{step:<34} RSS {s['VmRSS']:6.1f}  HWM {s['VmHWM']:6.1f}  anon {s['RssAnon']:6.1f}  file {s['RssFile']:6.1f}",
          file=sys.stderr)
    if verbose:
        for mb, name in top_mappings():
            print(f"    {mb:7.1f} MB  {name}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--home", type=Path, help="EDGEMEM_HOME that trusts the bundle's key")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--verbose", action="store_true", help="also list the largest mappings after each step")
    args = ap.parse_args()
    if args.home:
        os.environ["EDGEMEM_HOME"] = str(args.home)
    rows: list[dict] = []
    report("python started", rows, args.verbose)
    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401

    from edgemem.engine.bench import workload
    from edgemem.engine.engine import Engine
    from edgemem.interfaces import GenerationConfig

    report("imports (numpy, onnxruntime, ...)", rows, args.verbose)
    t = time.perf_counter()
    engine = Engine.from_bundle(args.bundle, home=os.environ.get("EDGEMEM_HOME"), threads=args.threads)
    load_s = time.perf_counter() - t
    report("bundle verified + session loaded", rows, args.verbose)
    work = workload(lambda m, g: engine.render_chat(m, g), min(1000, (engine.context_length - args.new_tokens) // 2))
    gen = GenerationConfig(max_new_tokens=args.new_tokens, temperature=0.0)
    for _ in engine.stream_prompt(work["prompts"][0], gen, ignore_stop_tokens=True):
        pass
    report(f"first turn ({len(work['prompts'][0])} + {args.new_tokens} tokens)", rows, args.verbose)
    engine.model.reset()
    for _ in engine.stream_prompt(work["followup_prefix"], GenerationConfig(max_new_tokens=1), ignore_stop_tokens=True):
        pass
    report(f"{len(work['followup_prefix'])}-token conversation", rows, args.verbose)
    for _ in engine.stream_prompt(work["followup"], GenerationConfig(max_new_tokens=args.new_tokens), ignore_stop_tokens=True):
        pass
    report(f"follow-up (+{len(work['followup']) - len(work['followup_prefix'])} tokens, {args.new_tokens} new)", rows,
           args.verbose)
    print(json.dumps({"load_s": round(load_s, 3), "steps": rows, "peak_rss_mb": rows[-1]["VmHWM"]}))


if __name__ == "__main__":
    main()
