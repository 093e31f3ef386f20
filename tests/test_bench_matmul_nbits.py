"""The MatMulNBits row-batching benchmark times the product it says it times."""

from __future__ import annotations

import numpy as np

from benchmarks.engine_matmul_nbits import measure, session, weights


def test_matmul_nbits_benchmark_times_the_product_it_claims() -> None:
    """The one-node graph computes A @ dequant(B) (4- and 8-bit), and every configuration is timed."""
    k, n, block = 64, 8, 32
    a = np.random.default_rng(1).standard_normal((3, k)).astype(np.float32)
    for bits in (4, 8):
        packed, scales, _ = weights(k, n, bits, block)
        if bits == 4:  # two values a byte, low nibble first; zero point 8
            q = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(n, -1).astype(np.float32) - 8
        else:
            q = packed.reshape(n, -1).astype(np.float32) - 128
        w = q * np.repeat(scales.reshape(n, -1), block, axis=1)
        y = session(k, n, bits, block, 4, 1).run(None, {"A": a})[0]
        np.testing.assert_allclose(y, a @ w.T, rtol=0.05, atol=0.02 * float(np.abs(a @ w.T).max()))
    r = measure(k, n, (4,), (32,), (1, 3), repeats=2, threads=1)
    assert [(x["rows"], x["bits"]) for x in r["results"]] == [(1, 4), (3, 4)] and all(x["us"] > 0 for x in r["results"])
