"""Where a decode step's kernel time goes: onnxruntime's profiler over N greedy steps.

    python benchmarks/engine_profile.py /tmp/edgemem-engine-bench/bundle-int4 --steps 40
    python benchmarks/engine_profile.py /tmp/edgemem-engine-bench/bundle-int8 --followup 26 --past 1017

The second form profiles one follow-up prefill instead: ``--past`` tokens fed first (not
profiled), then ``--followup`` new tokens in one run, as ``edgemem bench``'s follow-up turn does.

Groups kernel time by op type; the ops that implement the int4 offset term (block sums, the
offsets product and its Add) are reported separately as "(offset)".
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _projection(node_name: str) -> str:
    """The weight a MatMulNBits node multiplies by, from its name (``model.layers.3.mlp.down_proj/...``)."""
    for part in ("qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"):
        if part in node_name:
            return part
    return "other"


def kernel_times(bundle: Path, *, threads: int = 2, steps: int = 40, followup: int = 0, past: int = 1017,
                 by_projection: bool = False) -> tuple[dict[str, float], dict[str, int], dict[str, float]]:
    """Profile a bundle's decode steps (or one follow-up prefill) with onnxruntime's profiler.

    Returns kernel microseconds and call counts by op type (``MatMulNBits:<weight>`` when
    ``by_projection``), and for a follow-up its wall and ``model_run`` milliseconds. A function so
    the roofline benchmark reads the same figures this script prints.
    """
    import onnxruntime as ort

    from edgemem.engine import model as M
    from edgemem.engine.session import session_options

    model_info = json.loads((bundle / "manifest.json").read_text())["model"]
    io, vocab = model_info["io"], int(model_info["architecture"]["vocab"])
    low, high = min(100, vocab // 4), min(40000, vocab)  # ordinary token ids, inside a tiny test model's table too

    def profiled(path: Path, **_: object) -> ort.InferenceSession:
        so = session_options(threads=threads)
        so.enable_profiling = True
        so.profile_file_prefix = "/tmp/edgemem-engine-profile"
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    original = M.create_session
    M.create_session = profiled  # type: ignore[assignment]
    try:
        dm = M.DecoderModel(bundle / "model.onnx", io, threads=threads)
    finally:
        M.create_session = original  # type: ignore[assignment]
    window = None
    if followup:
        import numpy as np

        rng = np.random.RandomState(0)
        dm.feed([int(t) for t in rng.randint(low, high, past)])
        t0 = time.perf_counter_ns()
        dm.feed([int(t) for t in rng.randint(low, high, followup)])
        window = (t0, time.perf_counter_ns())
    else:
        tok = int(dm.feed([low + i for i in range(24)]).argmax())
        for _ in range(steps):
            tok = int(dm.step(tok).argmax())
    trace = dm.session.end_profiling()
    events = json.load(open(trace))
    run_ms: dict[str, float] = {}
    if window is not None:  # only the follow-up's run: the last model_run of the trace
        run = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"][-1]
        events = [e for e in events if run["ts"] <= e.get("ts", -1) <= run["ts"] + run["dur"]]
        run_ms = {"followup_wall_ms": round((window[1] - window[0]) / 1e6, 2), "model_run_ms": round(run["dur"] / 1000, 2)}
    by: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            name = e["name"]
            key = e["args"].get("op_name", "?") + ("(offset)" if any(t in name for t in ("/Offsets", "BlockSums", "AddOffsets")) else "")
            if by_projection and key == "MatMulNBits":  # which weight: qkv, o, gate_up, down or the LM head
                key += ":" + _projection(name)
            by[key] += e["dur"]
            calls[key] += 1
    os.remove(trace)
    return dict(by), dict(calls), run_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path, help="bundle folder (manifest.json + model.onnx); not verified")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--followup", type=int, default=0, help="profile a prefill of this many tokens after --past cached ones")
    ap.add_argument("--past", type=int, default=1017)
    ap.add_argument("--by-projection", action="store_true", help="split MatMulNBits by the weight it multiplies (qkv, o, gate_up, down, LM head)")
    args = ap.parse_args()
    by, calls, run_ms = kernel_times(args.bundle, threads=args.threads, steps=args.steps, followup=args.followup,
                                     past=args.past, by_projection=args.by_projection)
    if run_ms:
        print(json.dumps(run_ms))
    total = sum(by.values()) or 1
    out = {k: {"share": round(v / total, 4), "calls": calls[k], "us_per_call": round(v / calls[k], 1)}
           for k, v in sorted(by.items(), key=lambda kv: -kv[1])}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
