"""Follow-up attention: onnxruntime's GroupQueryAttention against a hand-written AVX2 kernel.

The roofline (``engine_roofline``) puts the follow-up's attention at ~35 % of this CPU's fp32
peak, and says 50 ms needs ~70 % of peak in both kernel classes. This probe measures, in one run,
how far a kernel that takes the 3 query heads of each KV head together gets on the same work:

* **onnxruntime**: a graph of ``--layers`` ``GroupQueryAttention`` nodes exactly as the engine
  builds them (packed QKV, past and present bound to one preallocated buffer per layer, 2 threads)
  except ``do_rotary=0`` (the kernel does not rotate; rotary is a few % of the op);
* **native**: ``native/gqa_probe.c`` (flash-style: key blocks shared by all query rows of a KV
  head, running max and sum) on the same inputs and the same cache layout, writing the new rows
  into its own copy of the caches;

alternating the two ``--runs`` times with a pause before each, and checks that their outputs
agree. onnxruntime's pool threads are told not to spin between runs (``--ort-spinning`` restores
its default): on 2 cores a spinning pool thread takes a core from the native side's next run.
It prints medians, GMAC/s, the share of the fp32 peak (``native/cpu_peak.c``, same run) and the
ratio.

    python -m benchmarks.engine_gqa_probe [--past 1017] [--followup 26] [--runs 15] [--json F]
    python -m benchmarks.engine_gqa_probe --pairs 4 --runs 20   # each side alone, fresh processes

Benchmark-only (x86-64 with AVX2 and a C compiler), never a runtime need.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .engine_roofline import _cpu_name, build_native, build_peak_library, peak_gmacs
from .report import emit

NATIVE = Path(__file__).resolve().parent / "native" / "gqa_probe.c"


def gqa_graph(layers: int, heads: int, kv_heads: int, head_dim: int, max_len: int) -> bytes:
    """``layers`` independent GroupQueryAttention nodes over one packed QKV input, as the engine's."""
    from onnx import TensorProto, helper

    width = (heads + 2 * kv_heads) * head_dim
    cache = [1, kv_heads, max_len, head_dim]
    inputs = [helper.make_tensor_value_info("qkv", TensorProto.FLOAT, [1, "S", width]),
              helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [1]),
              helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]
    outputs, nodes = [], []
    for i in range(layers):
        inputs += [helper.make_tensor_value_info(f"past_key.{i}", TensorProto.FLOAT, cache),
                   helper.make_tensor_value_info(f"past_value.{i}", TensorProto.FLOAT, cache)]
        outputs += [helper.make_tensor_value_info(f"out.{i}", TensorProto.FLOAT, [1, "S", heads * head_dim]),
                    helper.make_tensor_value_info(f"present_key.{i}", TensorProto.FLOAT, cache),
                    helper.make_tensor_value_info(f"present_value.{i}", TensorProto.FLOAT, cache)]
        nodes.append(helper.make_node(
            "GroupQueryAttention", ["qkv", "", "", f"past_key.{i}", f"past_value.{i}", "seqlens_k", "total_sequence_length"],
            [f"out.{i}", f"present_key.{i}", f"present_value.{i}"], domain="com.microsoft", name=f"gqa.{i}",
            num_heads=heads, kv_num_heads=kv_heads, do_rotary=0, scale=float(1.0 / np.sqrt(head_dim))))
    graph = helper.make_graph(nodes, "gqa_probe", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    return model.SerializeToString()


class OrtSide:
    """The engine's binding: each layer's past and present are one preallocated buffer."""

    def __init__(self, model: bytes, qkv: np.ndarray, caches: list[tuple[np.ndarray, np.ndarray]], past: int,
                 heads: int, threads: int, spinning: bool = False) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if not spinning:  # onnxruntime's pool threads otherwise spin between runs, on the native side's cores
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        head_dim = caches[0][0].shape[2]
        self.outs = [np.zeros((1, qkv.shape[0], heads * head_dim), np.float32) for _ in caches]
        b = self.session.io_binding()
        b.bind_cpu_input("qkv", qkv[None])
        b.bind_cpu_input("seqlens_k", np.array([past + qkv.shape[0] - 1], np.int32))
        b.bind_cpu_input("total_sequence_length", np.array(past + qkv.shape[0], np.int32))
        for i, (k, v) in enumerate(caches):
            for kind, arr in (("key", k), ("value", v)):
                value = ort.OrtValue.ortvalue_from_numpy(arr[None])
                b.bind_ortvalue_input(f"past_{kind}.{i}", value)
                b.bind_ortvalue_output(f"present_{kind}.{i}", value)
            b.bind_ortvalue_output(f"out.{i}", ort.OrtValue.ortvalue_from_numpy(self.outs[i]))
        self.binding = b

    def run(self) -> None:
        self.session.run_with_iobinding(self.binding)


class NativeSide:
    """``gqa_followup`` over its own copy of the caches."""

    def __init__(self, dll: ctypes.CDLL, qkv: np.ndarray, caches: list[tuple[np.ndarray, np.ndarray]], past: int,
                 heads: int, threads: int) -> None:
        fp = ctypes.POINTER(ctypes.c_float)
        n = len(caches)
        kv_heads, max_len, head_dim = caches[0][0].shape
        self.outs = [np.zeros((qkv.shape[0], heads * head_dim), np.float32) for _ in caches]
        self._keep = (qkv, caches)
        ptr = lambda a: a.ctypes.data_as(fp)
        self.args = (n, qkv.shape[0], past, heads, kv_heads, head_dim, max_len, threads,
                     (fp * n)(*[ptr(qkv)] * n), (fp * n)(*[ptr(k) for k, _ in caches]),
                     (fp * n)(*[ptr(v) for _, v in caches]), (fp * n)(*[ptr(o) for o in self.outs]))
        self.fn = dll.gqa_followup
        self.fn.restype = ctypes.c_int

    def run(self) -> None:
        if self.fn(*self.args) != 0:
            raise SystemExit("engine_gqa_probe: the native kernel refused these shapes (head_dim must be 64)")


def attention_macs(layers: int, heads: int, head_dim: int, past: int, new: int) -> float:
    """Q x K^T and P x V of a causal follow-up: query i sees past + i + 1 keys."""
    keys = sum(past + i + 1 for i in range(new))
    return float(2 * heads * head_dim * keys * layers)


def probe(past: int = 1017, followup: int = 26, layers: int = 30, heads: int = 9, kv_heads: int = 3, head_dim: int = 64,
          max_len: int = 2048, threads: int = 2, runs: int = 15, peak_repeats: int = 3, seed: int = 0,
          gap_ms: float = 50.0, ort_spinning: bool = False, side: str = "both") -> dict[str, Any]:
    """Run both sides alternately (or one, ``side``) and return medians, rates and, with both, the
    largest output difference."""
    rng = np.random.default_rng(seed)
    width = (heads + 2 * kv_heads) * head_dim
    qkv = rng.standard_normal((followup, width)).astype(np.float32)
    base = [(rng.standard_normal((kv_heads, max_len, head_dim)).astype(np.float32),
             rng.standard_normal((kv_heads, max_len, head_dim)).astype(np.float32)) for _ in range(layers)]
    ort_caches = [(k.copy(), v.copy()) for k, v in base]
    nat_caches = [(k.copy(), v.copy()) for k, v in base]
    with tempfile.TemporaryDirectory() as tmp:
        peak_dll = build_peak_library(Path(tmp))
        dll = build_native(NATIVE, Path(tmp), "engine_gqa_probe")
        runners: dict[str, OrtSide | NativeSide] = {}
        if side in ("both", "onnxruntime"):
            runners["onnxruntime"] = OrtSide(gqa_graph(layers, heads, kv_heads, head_dim, max_len), qkv, ort_caches, past,
                                             heads, threads, spinning=ort_spinning)
        if side in ("both", "native"):
            runners["native"] = NativeSide(dll, qkv, nat_caches, past, heads, threads)
        peak_before = peak_gmacs(peak_dll, 0, threads, peak_repeats)
        for r in runners.values():
            r.run()  # warm-up: arenas, page faults, thread start
        diff = cache_diff = None
        if side == "both":
            diff = max(float(np.abs(o[0] - n).max()) for o, n in zip(runners["onnxruntime"].outs, runners["native"].outs))
            cache_diff = max(float(np.abs(a[0][:, : past + followup] - b[0][:, : past + followup]).max())
                             for a, b in zip(ort_caches, nat_caches))
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(runs):
            for name, runner in runners.items():
                time.sleep(gap_ms / 1000)  # onnxruntime's pool threads spin after a run: let them park first
                t0 = time.perf_counter()
                runner.run()
                times[name].append((time.perf_counter() - t0) * 1000)
        peak_after = peak_gmacs(peak_dll, 0, threads, peak_repeats)
    peak = statistics.median(peak_before + peak_after)
    macs = attention_macs(layers, heads, head_dim, past, followup)
    sides = {}
    for name, ts in times.items():
        ms = statistics.median(ts)
        sides[name] = {"ms": round(ms, 2), "ms_min": round(min(ts), 2), "gmacs": round(macs / 1e9 / (ms / 1000), 1),
                       "share_of_fp32_peak": round(macs / 1e9 / (ms / 1000) / peak, 3)}
    return {
        "cpu": _cpu_name(), "threads": threads, "layers": layers, "past": past, "followup": followup,
        "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim, "runs": runs, "gap_ms": gap_ms,
        "ort_spinning": ort_spinning,
        "attention_gmac": round(macs / 1e9, 4),
        "fp32_peak_gmacs": {"before": peak_before, "after": peak_after, "median": round(peak, 1)},
        "sides": sides,
        "ratio_native_over_onnxruntime_ms": (round(sides["native"]["ms"] / sides["onnxruntime"]["ms"], 3)
                                             if len(sides) == 2 else None),
        "max_abs_diff_output": diff, "max_abs_diff_cache": cache_diff,
        "times_ms": {k: [round(t, 2) for t in v] for k, v in times.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--past", type=int, default=1017, help="cached tokens before the follow-up")
    ap.add_argument("--followup", type=int, default=26, help="new tokens of the follow-up")
    ap.add_argument("--layers", type=int, default=30, help="SmolLM2-135M: 30 layers, 9 heads, 3 KV heads, head_dim 64")
    ap.add_argument("--heads", type=int, default=9)
    ap.add_argument("--kv-heads", type=int, default=3)
    ap.add_argument("--max-len", type=int, default=2048, help="cache rows per layer (the bundle's context)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=15, help="alternating runs of each side; medians")
    ap.add_argument("--gap-ms", type=float, default=50.0, help="pause before each timed run (2 cores: the other side's spinning threads)")
    ap.add_argument("--ort-spinning", action="store_true",
                    help="let onnxruntime's pool threads spin between runs (its default; they then compete with the native side)")
    ap.add_argument("--side", choices=("both", "onnxruntime", "native"), default="both",
                    help="time one side alone (no output check)")
    ap.add_argument("--pairs", type=int, default=0,
                    help="instead: each side alone in a fresh process, alternating this many times (onnxruntime spinning as in the engine)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    if args.past + args.followup > args.max_len:
        raise SystemExit("engine_gqa_probe: --past + --followup exceeds --max-len")
    shape = (args.past, args.followup, args.layers, args.heads, args.kv_heads, 64, args.max_len, args.threads)
    if args.pairs:
        emit(pairs(args, shape), args.json)
        return 0
    emit(probe(*shape, args.runs, gap_ms=args.gap_ms, ort_spinning=args.ort_spinning, side=args.side), args.json)
    return 0


def pairs(args: argparse.Namespace, shape: tuple[int, ...]) -> dict[str, Any]:
    """Each side alone in a fresh process, alternating ``--pairs`` times: onnxruntime as the
    engine runs it (pool threads spinning) and the native kernel with no onnxruntime threads
    around; plus one short in-process run of both for the output check."""
    check = probe(*shape, runs=1, peak_repeats=1, gap_ms=0, side="both")
    per_pair: list[dict[str, float]] = []
    for _ in range(args.pairs):
        row = {}
        for side in ("onnxruntime", "native"):
            cmd = [sys.executable, "-m", "benchmarks.engine_gqa_probe", "--side", side, "--runs", str(args.runs),
                   "--past", str(args.past), "--followup", str(args.followup), "--layers", str(args.layers),
                   "--heads", str(args.heads), "--kv-heads", str(args.kv_heads), "--max-len", str(args.max_len),
                   "--threads", str(args.threads), "--gap-ms", "0", *(["--ort-spinning"] if side == "onnxruntime" else [])]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
            row[side] = json.loads(out.stdout)["sides"][side]["ms"]
        row["ratio"] = round(row["native"] / row["onnxruntime"], 3)
        per_pair.append(row)
    return {"mode": "pairs", "pairs": per_pair, "runs_per_side": args.runs,
            "onnxruntime_ms_median": statistics.median(r["onnxruntime"] for r in per_pair),
            "native_ms_median": statistics.median(r["native"] for r in per_pair),
            "ratio_median_pair": statistics.median(r["ratio"] for r in per_pair),
            "attention_gmac": check["attention_gmac"], "fp32_peak_gmacs": check["fp32_peak_gmacs"]["median"],
            "max_abs_diff_output": check["max_abs_diff_output"], "max_abs_diff_cache": check["max_abs_diff_cache"],
            "cpu": check["cpu"], "threads": args.threads, "past": args.past, "followup": args.followup}


if __name__ == "__main__":
    raise SystemExit(main())
