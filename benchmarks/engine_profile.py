"""Where a decode step's kernel time goes: onnxruntime's profiler over N greedy steps.

    python benchmarks/engine_profile.py /tmp/edgemem-engine-bench/bundle-int4 --steps 40

Groups kernel time by op type; the ops that implement the int4 offset term (block sums, the
offsets product and its Add) are reported separately as "(offset)".
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path, help="bundle folder (manifest.json + model.onnx); not verified")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
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
    tok = int(dm.feed(list(range(1000, 1024))).argmax())
    for _ in range(args.steps):
        tok = int(dm.step(tok).argmax())
    trace = dm.session.end_profiling()
    by: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    for e in json.load(open(trace)):
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            name = e["name"]
            key = e["args"].get("op_name", "?") + ("(offset)" if any(t in name for t in ("/Offsets", "BlockSums", "AddOffsets")) else "")
            by[key] += e["dur"]
            calls[key] += 1
    os.remove(trace)
    total = sum(by.values()) or 1
    out = {k: {"share": round(v / total, 4), "calls": calls[k]} for k, v in by.most_common()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
