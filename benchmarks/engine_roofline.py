"""Roofline of a follow-up turn: how far the engine's kernels are from what this CPU can compute.

The follow-up target (50 ms to the first token for ~20 new tokens after ~1,000 cached ones) is an
absolute figure, so whether a build can meet it depends on the cores as much as on the engine.
This benchmark puts three numbers side by side, all measured in the same run:

* the CPU's peak multiply-accumulate rates at ``--threads`` threads (``native/cpu_peak.c``, built
  with the system C compiler): fp32 FMA, what attention runs on, and the AVX2 u8 x s8 sequence
  (``vpmaddubsw`` + ``vpmaddwd``, no VNNI), what the 8-bit and 4-bit weight matmuls run on;
* the work a follow-up needs, counted from the bundle's architecture: weight MACs (every projection
  for every new token, the LM head for the last one) and attention MACs (each new query against
  every cached key and the new ones before it, for Q x K and for P x V);
* the kernel time onnxruntime spends on each, from its profiler over the follow-up (median of
  ``--runs`` fresh sessions, ``engine_profile.kernel_times``).

From those it prints each class's achieved rate and share of peak, the floor (every MAC at peak,
the small ops as measured) and the share of peak both kernel classes would need for ``--target-ms``.

    python -m benchmarks.engine_roofline --bundle DIR [--past 1017] [--followup 26] [--runs 3] [--json F]

x86-64 with AVX2 only (the peak loops are AVX2); benchmark-only, never a runtime need.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .engine_profile import kernel_times
from .report import emit

NATIVE = Path(__file__).resolve().parent / "native" / "cpu_peak.c"
KINDS = {"fp32_fma": 0, "int8_maddubs": 1}


def build_native(source: Path, workdir: Path, tool: str = "engine_roofline") -> ctypes.CDLL:
    """Compile one ``native/*.c`` probe into ``workdir`` (AVX2 + FMA) and load it; SystemExit with
    one line if there is no compiler, the machine is not x86-64, or the build fails."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit(f"{tool}: no C compiler (cc/gcc) found; set CC")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        raise SystemExit(f"{tool}: the native probes are AVX2; this machine is {platform.machine()}")
    lib = workdir / f"lib{source.stem}.so"
    r = subprocess.run([cc, "-O3", "-mavx2", "-mfma", "-shared", "-fPIC", "-o", str(lib), str(source), "-lpthread", "-lm"],
                       capture_output=True, text=True, check=False)
    if r.returncode:
        raise SystemExit(f"{tool}: {cc} failed: {r.stderr.strip().splitlines()[-1] if r.stderr else r.returncode}")
    return ctypes.CDLL(str(lib))


def build_peak_library(workdir: Path) -> ctypes.CDLL:
    """Compile ``cpu_peak.c`` into ``workdir`` and load it; SystemExit with one line if that fails."""
    dll = build_native(NATIVE, workdir)
    dll.cpu_peak_gmacs.restype = ctypes.c_double
    dll.cpu_peak_gmacs.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long]
    return dll


def peak_gmacs(dll: ctypes.CDLL, kind: int, threads: int, repeats: int = 5, seconds: float = 0.25) -> list[float]:
    """GMAC/s of one peak loop, ``repeats`` times, each run sized to about ``seconds``."""
    iters = 1_000_000
    while True:  # size the loop so timer and thread start-up are noise
        t0 = time.perf_counter()
        dll.cpu_peak_gmacs(kind, threads, iters)
        if time.perf_counter() - t0 > seconds / 4:
            break
        iters *= 4
    iters = int(iters * seconds / max(time.perf_counter() - t0, 1e-3))
    return [round(dll.cpu_peak_gmacs(kind, threads, iters), 1) for _ in range(repeats)]


def followup_macs(arch: dict[str, int], past: int, new: int) -> dict[str, float]:
    """Multiply-accumulates of one follow-up prefill, by the kernel class that does them."""
    h, inter, hd = arch["hidden"], arch["intermediate"], arch["head_dim"]
    heads, kv, layers, vocab = arch["heads"], arch["kv_heads"], arch["layers"], arch["vocab"]
    per_token_layer = {
        "qkv_proj": h * (heads + 2 * kv) * hd,
        "o_proj": heads * hd * h,
        "gate_up_proj": h * 2 * inter,
        "down_proj": inter * h,
    }
    out = {k: float(v * new * layers) for k, v in per_token_layer.items()}
    out["lm_head"] = float(h * vocab)  # logits for the last new token only
    keys = sum(past + i + 1 for i in range(new))  # causal: query i sees the past and the new ones up to itself
    out["attention"] = float(2 * heads * hd * keys * layers)  # Q x K^T and P x V
    return out


def classify(op: str) -> str:
    """The roofline class of a profiled op: weights, attention or other."""
    if op.startswith(("MatMulNBits", "DynamicQuantizeMatMul", "MatMulInteger", "MatMul", "Gemm")):
        return "weights"
    if op in ("GroupQueryAttention", "MultiHeadAttention", "Attention"):
        return "attention"
    return "other"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True, help="bundle folder (manifest.json + model.onnx); not verified")
    ap.add_argument("--past", type=int, default=1017, help="cached tokens before the follow-up")
    ap.add_argument("--followup", type=int, default=26, help="new tokens of the follow-up (a 20-token turn + the template)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="profiled follow-ups, each in a fresh session; medians")
    ap.add_argument("--target-ms", type=float, default=50.0)
    ap.add_argument("--peak-repeats", type=int, default=5, help="runs of each peak loop, before and after the profile")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    manifest = args.bundle / "manifest.json"
    if not manifest.is_file():
        raise SystemExit(f"engine_roofline: {args.bundle} has no manifest.json")
    meta = json.loads(manifest.read_text())
    arch = meta["model"]["architecture"]

    with tempfile.TemporaryDirectory() as tmp:
        dll = build_peak_library(Path(tmp))
        peaks_before = {k: peak_gmacs(dll, v, args.threads, args.peak_repeats) for k, v in KINDS.items()}
        runs = []
        for _ in range(args.runs):
            by, _calls, run_ms = kernel_times(args.bundle, threads=args.threads, followup=args.followup,
                                              past=args.past, by_projection=True)
            runs.append((by, run_ms))
        peaks_after = {k: peak_gmacs(dll, v, args.threads, args.peak_repeats) for k, v in KINDS.items()}

    peak = {k: round(statistics.median(peaks_before[k] + peaks_after[k]), 1) for k in KINDS}
    macs = followup_macs(arch, args.past, args.followup)
    ops = sorted({k for by, _ in runs for k in by})
    op_ms = {k: statistics.median(by.get(k, 0) for by, _ in runs) / 1000 for k in ops}
    ms = {"weights": 0.0, "attention": 0.0, "other": 0.0}
    for k, v in op_ms.items():
        ms[classify(k)] += v
    work = {"weights": sum(v for k, v in macs.items() if k != "attention"), "attention": macs["attention"]}
    rate = {"weights": peak["int8_maddubs"], "attention": peak["fp32_fma"]}
    classes: dict[str, Any] = {}
    for c in ("weights", "attention"):
        floor = work[c] / (rate[c] * 1e9) * 1000
        classes[c] = {"gmac": round(work[c] / 1e9, 6), "kernel_ms": round(ms[c], 2),
                      "achieved_gmacs": round(work[c] / 1e9 / (ms[c] / 1000), 1) if ms[c] else None,
                      "peak_gmacs": rate[c], "share_of_peak": round(floor / ms[c], 3) if ms[c] else None,
                      "floor_ms": round(floor, 4)}
    classes["other"] = {"kernel_ms": round(ms["other"], 2)}
    floor_total = classes["weights"]["floor_ms"] + classes["attention"]["floor_ms"] + ms["other"]
    budget = args.target_ms - ms["other"]
    needed = (classes["weights"]["floor_ms"] + classes["attention"]["floor_ms"]) / budget if budget > 0 else None
    result = {
        "bundle": str(args.bundle), "quantization": meta.get("quantization"),
        "cpu": _cpu_name(), "threads": args.threads, "past": args.past, "followup": args.followup,
        "peak_gmacs": {"before": peaks_before, "after": peaks_after, "median": peak},
        "model_run_ms": [r.get("model_run_ms") for _, r in runs],
        "kernel_ms_total": round(sum(ms.values()), 2),
        "classes": classes,
        "op_ms": {k: round(v, 2) for k, v in sorted(op_ms.items(), key=lambda kv: -kv[1])},
        "floor_ms": round(floor_total, 2),
        "target_ms": args.target_ms,
        "share_of_peak_needed_for_target": round(needed, 3) if needed else None,
    }
    emit(result, args.json)
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
