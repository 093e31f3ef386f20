"""The attention probe's hand kernel computes causal grouped-query attention, as onnxruntime does."""

from __future__ import annotations

import ctypes
import json
import platform
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.engine_gqa_probe import NATIVE, NativeSide, attention_macs, main
from benchmarks.engine_roofline import build_native

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or not (shutil.which("cc") or shutil.which("gcc")),
    reason="the probe is AVX2 C: x86-64 with a C compiler only")


def _reference(qkv: np.ndarray, k: np.ndarray, v: np.ndarray, past: int, heads: int, kv_heads: int) -> np.ndarray:
    """Causal GQA in numpy: query head n reads KV head n // (heads / kv_heads)."""
    S, hd = qkv.shape[0], k.shape[2]
    q = qkv[:, : heads * hd].reshape(S, heads, hd)
    out = np.zeros((S, heads, hd), np.float64)
    for n in range(heads):
        h = n // (heads // kv_heads)
        for i in range(S):
            seen = past + i + 1
            s = k[h, :seen].astype(np.float64) @ q[i, n] / np.sqrt(hd)
            p = np.exp(s - s.max())
            out[i, n] = (p / p.sum()) @ v[h, :seen]
    return out.reshape(S, heads * hd)


def test_native_kernel_matches_numpy_and_writes_the_new_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    heads, kv_heads, hd, max_len, past, S = 6, 2, 64, 96, 37, 7  # 14 rows a KV head: one short unit
    qkv = rng.standard_normal((S, (heads + 2 * kv_heads) * hd)).astype(np.float32)
    caches = [(rng.standard_normal((kv_heads, max_len, hd)).astype(np.float32),
               rng.standard_normal((kv_heads, max_len, hd)).astype(np.float32)) for _ in range(2)]
    before = [(k.copy(), v.copy()) for k, v in caches]
    side = NativeSide(build_native(NATIVE, tmp_path, "test"), qkv, caches, past, heads, threads=2)
    side.run()
    for (k, v), (k0, v0), out in zip(caches, before, side.outs):
        new_k = qkv[:, heads * hd:(heads + kv_heads) * hd].reshape(S, kv_heads, hd).transpose(1, 0, 2)
        new_v = qkv[:, (heads + kv_heads) * hd:].reshape(S, kv_heads, hd).transpose(1, 0, 2)
        assert np.array_equal(k[:, past:past + S], new_k) and np.array_equal(v[:, past:past + S], new_v)
        assert np.array_equal(k[:, :past], k0[:, :past]) and np.array_equal(k[:, past + S:], k0[:, past + S:])
        np.testing.assert_allclose(out, _reference(qkv, k, v, past, heads, kv_heads), atol=2e-5)


def test_native_kernel_refuses_other_head_sizes(tmp_path: Path) -> None:
    dll = build_native(NATIVE, tmp_path, "test")
    dll.gqa_followup.restype = ctypes.c_int
    assert dll.gqa_followup(1, 1, 0, 2, 1, 32, 8, 1, None, None, None, None) == -1


def test_probe_runs_both_sides_and_they_agree(tmp_path: Path) -> None:
    out = tmp_path / "gqa.json"
    assert main(["--past", "50", "--followup", "5", "--layers", "2", "--max-len", "64", "--runs", "2",
                 "--gap-ms", "0", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["max_abs_diff_output"] < 1e-4 and r["max_abs_diff_cache"] == 0.0
    assert set(r["sides"]) == {"onnxruntime", "native"} and all(s["ms"] > 0 for s in r["sides"].values())
    assert r["attention_gmac"] == round(attention_macs(2, 9, 64, 50, 5) / 1e9, 4)



def test_pairs_mode_times_each_side_alone_in_its_own_process(tmp_path: Path) -> None:
    out = tmp_path / "pairs.json"
    assert main(["--pairs", "1", "--runs", "1", "--past", "30", "--followup", "3", "--layers", "1", "--max-len", "40",
                 "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["mode"] == "pairs" and len(r["pairs"]) == 1
    pair = r["pairs"][0]
    assert pair["onnxruntime"] > 0 and pair["native"] > 0 and pair["ratio"] == round(pair["native"] / pair["onnxruntime"], 3)
    assert r["max_abs_diff_output"] < 1e-4
