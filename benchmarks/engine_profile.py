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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path, help="bundle folder (manifest.json + model.onnx); not verified")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--followup", type=int, default=0, help="profile a prefill of this many tokens after --past cached ones")
    ap.add_argument("--past", type=int, default=1017)
    ap.add_argument("--by-projection", action="store_true", help="split MatMulNBits by the weight it multiplies (qkv, o, gate_up, down, LM head)")
    args = ap.parse_args()
    import onnxruntime as ort

    from edgemem.engine import model as M
    from edgemem.engine.session import session_options

    io = json.loads((args.bundle / "manifest.json").read_text())["model"]["io"]

    def profiled(path: Path, **_: object) -> ort.InferenceSession:
        so = session_options(threads=args.threads)
        so.enable_profiling = True
        so.profile_file_prefix = "/tmp/edgemem-engine-profile"
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    M.create_session = profiled  # type: ignore[assignment]
    dm = M.DecoderModel(args.bundle / "model.onnx", io, threads=args.threads)
    window = None
    if args.followup:
        import numpy as np

        rng = np.random.RandomState(0)
        dm.feed([int(t) for t in rng.randint(100, 40000, args.past)])
        t0 = time.perf_counter_ns()
        dm.feed([int(t) for t in rng.randint(100, 40000, args.followup)])
        window = (t0, time.perf_counter_ns())
    else:
        tok = int(dm.feed(list(range(1000, 1024))).argmax())
        for _ in range(args.steps):
            tok = int(dm.step(tok).argmax())
    trace = dm.session.end_profiling()
    events = json.load(open(trace))
    if window is not None:  # only the follow-up's run: the last model_run of the trace
        run = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"][-1]
        events = [e for e in events if run["ts"] <= e.get("ts", -1) <= run["ts"] + run["dur"]]
        print(json.dumps({"followup_wall_ms": round((window[1] - window[0]) / 1e6, 2),
                          "model_run_ms": round(run["dur"] / 1000, 2)}))
    by: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            name = e["name"]
            key = e["args"].get("op_name", "?") + ("(offset)" if any(t in name for t in ("/Offsets", "BlockSums", "AddOffsets")) else "")
            if args.by_projection and key == "MatMulNBits":  # which weight: qkv, o, gate_up, down or the LM head
                key += ":" + _projection(name)
            by[key] += e["dur"]
            calls[key] += 1
    os.remove(trace)
    total = sum(by.values()) or 1
    out = {k: {"share": round(v / total, 4), "calls": calls[k], "us_per_call": round(v / calls[k], 1)}
           for k, v in by.most_common()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
