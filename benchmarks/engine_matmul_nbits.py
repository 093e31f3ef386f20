"""One ``MatMulNBits`` product at 1 and at ~26 rows: what batching rows buys, by bits and block size.

Why: a follow-up prefills ~26 rows through every weight, a decode step one. On an AVX2 CPU
without VNNI, onnxruntime's 4-bit and 8-bit ``MatMulNBits`` kernels (``accuracy_level=4``: int8
activations quantized per block) gain differently from more rows, and that decides which layers
of a build cost the follow-up most. The weights are random (speed does not depend on them), the
shape defaults to SmolLM2's ``gate_up_proj`` (576 -> 3,072); best of ``--repeats`` runs in one
session per configuration, 2 threads.

    python -m benchmarks.engine_matmul_nbits [--k 576] [--n 3072] [--rows 1 26] [--json F]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from .report import emit


def weights(k: int, n: int, bits: int, block: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random packed weights ``[n, blocks, block·bits/8]``, scales and the kernel's default zero points."""
    blocks = (k + block - 1) // block
    rng = np.random.default_rng(seed)
    packed = rng.integers(0, 256, (n, blocks, block * bits // 8), dtype=np.uint8)
    scales = (rng.random(n * blocks, dtype=np.float32) * 0.01).astype(np.float32)
    zero = np.full(n * ((blocks * bits + 7) // 8), 0x88 if bits == 4 else 128, np.uint8)
    return packed, scales, zero


def session(k: int, n: int, bits: int, block: int, accuracy_level: int, threads: int) -> Any:
    """A one-node graph: ``Y = A @ dequant(B)`` over ``weights(k, n, bits, block)``."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    packed, scales, zero = weights(k, n, bits, block)
    node = helper.make_node("MatMulNBits", ["A", "B", "S", "Z"], ["Y"], domain="com.microsoft", K=k, N=n, bits=bits,
                            block_size=block, accuracy_level=accuracy_level)
    graph = helper.make_graph([node], "matmul_nbits", [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["M", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", n])],
                              [numpy_helper.from_array(packed, "B"), numpy_helper.from_array(scales, "S"),
                               numpy_helper.from_array(zero, "Z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def measure(k: int = 576, n: int = 3072, bits_list: tuple[int, ...] = (4, 8), blocks: tuple[int, ...] = (32, 64, 128),
            rows: tuple[int, ...] = (1, 26), accuracy_level: int = 4, threads: int = 2, repeats: int = 60) -> dict[str, Any]:
    """Best time per configuration, µs per row and GMAC/s."""
    out = []
    for bits in bits_list:
        for block in blocks:
            s = session(k, n, bits, block, accuracy_level, threads)
            for m in rows:
                a = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
                for _ in range(5):
                    s.run(None, {"A": a})
                ts = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    s.run(None, {"A": a})
                    ts.append(time.perf_counter() - t0)
                best = min(ts)
                out.append({"bits": bits, "block": block, "rows": m, "us": round(best * 1e6, 1),
                            "us_per_row": round(best * 1e6 / m, 1), "gmacs": round(k * n * m / best / 1e9, 1)})
    return {"k": k, "n": n, "threads": threads, "accuracy_level": accuracy_level, "repeats": repeats, "results": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=576, help="input width")
    ap.add_argument("--n", type=int, default=3072, help="output width")
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 8], choices=(4, 8))
    ap.add_argument("--blocks", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 26])
    ap.add_argument("--accuracy-level", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=60)
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    emit(measure(args.k, args.n, tuple(args.bits), tuple(args.blocks), tuple(args.rows), args.accuracy_level,
                 args.threads, args.repeats), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
