"""GPTQ rounding onto onnxruntime's native 4-bit grid (``MatMulNBits`` with uint8 zero points).

Why: SmolLM2 ships as GGUF Q4_1 (``w = d·q + min``, a *float* block minimum). The exact copy of that
grid (``edgemem.quant.quantize_offset``) needs an offset term beside every ``MatMulNBits`` (block
sums, a thin MatMul and an Add: a quarter of the decode step's kernel time), and
``MatMulNBits`` with an integer zero point is 1.3–1.4× faster than the 8-bit build on an AVX2
CPU without VNNI. But re-rounding the Q4_1 weights onto an integer-zero-point grid shifts whole
blocks by up to half a step: +16 % perplexity with round-to-nearest. GPTQ (Frantar et al. 2022)
rounds one input column at a time and spreads each column's rounding error over the columns not
yet rounded, weighted by the inverse Hessian ``H = E[x xᵀ]`` of the layer's inputs on calibration
text, so the *outputs* stay close, not the weights; on SmolLM2 that took the cost to about +3 %.

Off-device only. ``hessians`` runs the HF model with torch; ``quantize`` is numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgemem import quant

BITS = 4
QMAX = (1 << BITS) - 1
# Scales tried per block, as fractions of the min-max scale: the least-squared-error one is kept
# (a block's extreme weights may be clipped when that helps the other 31).
SCALE_FRACTIONS = np.linspace(0.7, 1.15, 19, dtype=np.float32)


def block_grid(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scale [n], zero point [n]) for one block of columns ``w`` [n, block]: min-max, then a
    search over scales and zero points for the least squared error of round-to-nearest."""
    lo, hi = w.min(axis=1), w.max(axis=1)
    base = np.maximum((hi - lo) / QMAX, 1e-12).astype(np.float32)
    best_err = np.full(w.shape[0], np.inf, np.float32)
    best_s, best_z = base.copy(), np.zeros_like(base)
    for f in SCALE_FRACTIONS:
        s = base * f
        z0 = np.rint(-lo / s)
        for dz in (-1.0, 0.0, 1.0):
            z = np.clip(z0 + dz, 0, QMAX)
            q = np.clip(np.rint(w / s[:, None]) + z[:, None], 0, QMAX)
            err = (((q - z[:, None]) * s[:, None] - w) ** 2).sum(axis=1)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            best_s = np.where(better, s, best_s)
            best_z = np.where(better, z, best_z)
    return best_s.astype(np.float32), best_z.astype(np.float32)


def quantize(weight: np.ndarray, hessian: np.ndarray | None, *, block: int = 32, damp: float = 0.01,
             lazy: int = 128) -> quant.QuantizedMatrix:
    """``weight`` [n, k] -> 4-bit ``QuantizedMatrix`` with zero points, GPTQ-rounded under
    ``hessian`` [k, k] (``E[x xᵀ]`` of the layer's input). ``None`` = round-to-nearest on the same
    grids (what a layer no calibration text reached gets).

    Each block's grid is chosen when GPTQ reaches its first column, from the weights as the
    earlier columns' errors have already updated them (the ``groupsize`` variant of the paper).
    ``lazy`` columns are rounded before their update is applied to the rest in one product.
    """
    w = np.array(weight, dtype=np.float32)
    n, k = w.shape
    if k % block:
        raise ValueError(f"k={k} is not a multiple of the block size {block}")
    kb = k // block
    q = np.zeros((n, k), np.uint8)
    scales = np.zeros((n, kb), np.float32)
    zps = np.zeros((n, kb), np.float32)
    if hessian is None:
        for b in range(kb):
            cols = slice(b * block, (b + 1) * block)
            s, z = block_grid(w[:, cols])
            scales[:, b], zps[:, b] = s, z
            q[:, cols] = np.clip(np.rint(w[:, cols] / s[:, None]) + z[:, None], 0, QMAX)
        return _pack(q, scales, zps, block, k)
    h = np.array(hessian, dtype=np.float64)
    dead = np.diag(h) == 0  # an input channel calibration never lit: its weights cannot matter
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += damp * float(np.mean(np.diag(h))) * np.eye(k)
    # Upper Cholesky factor of H^-1: row j holds how column j's error propagates to later columns.
    hinv = np.linalg.cholesky(np.linalg.inv(h)).T.astype(np.float32)
    s = z = np.zeros(n, np.float32)
    for i1 in range(0, k, lazy):
        i2 = min(i1 + lazy, k)
        wb = w[:, i1:i2].copy()
        errs = np.zeros_like(wb)
        hb = hinv[i1:i2, i1:i2]
        for j in range(i2 - i1):
            col = i1 + j
            if col % block == 0:
                end = col + block - i1
                s, z = block_grid(wb[:, j:end])
                scales[:, col // block], zps[:, col // block] = s, z
            qi = np.clip(np.rint(wb[:, j] / s) + z, 0, QMAX)
            q[:, col] = qi
            err = (wb[:, j] - (qi - z) * s) / hb[j, j]
            wb[:, j + 1:] -= np.outer(err, hb[j, j + 1:])
            errs[:, j] = err
        w[:, i2:] -= errs @ hinv[i1:i2, i2:]
    return _pack(q, scales, zps, block, k)


def _pack(q: np.ndarray, scales: np.ndarray, zps: np.ndarray, block: int, k: int) -> quant.QuantizedMatrix:
    n = q.shape[0]
    blocks = q.reshape(n, k // block, block)
    return quant.QuantizedMatrix(packed=np.ascontiguousarray(quant._pack4(blocks)), scales=scales,
                                 zero_points=np.ascontiguousarray(quant._pack4(zps.astype(np.uint8))),
                                 bits=BITS, block=block, k=k)


def input_key(weight_name: str) -> str:
    """Weights that read the same input share one Hessian: q/k/v, and gate/up."""
    for a, b in (("k_proj", "q_proj"), ("v_proj", "q_proj"), ("up_proj", "gate_proj")):
        weight_name = weight_name.replace(a, b)
    return weight_name


def hessians(hf_dir: Path, texts: Sequence[Sequence[int]], *, threads: int | None = None) -> dict[str, np.ndarray]:
    """``E[x xᵀ]`` of every decoder-layer linear's input over ``texts`` (token id lists), keyed by
    ``input_key(<HF weight name>)``. Runs the float HF model with torch (off-device)."""
    import torch
    from transformers import AutoModelForCausalLM

    if threads:
        torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32).eval()
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    hooks = []
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear) or ".layers." not in name:
            continue
        key = input_key(name + ".weight")
        if key != name + ".weight":
            continue  # k/v/up read the same input as q/gate

        def hook(_m: object, inputs: tuple[torch.Tensor, ...], _out: object, key: str = key) -> None:
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()
            sums[key] = sums.get(key, 0) + x.T @ x  # type: ignore[operator]
            counts[key] = counts.get(key, 0) + int(x.shape[0])

        hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        for ids in texts:
            model(torch.tensor([list(ids)]))
    for h in hooks:
        h.remove()
    return {k: (v / counts[k]).float().numpy() for k, v in sums.items()}


def quantize_parts(parts: Sequence[tuple[str, np.ndarray]], hs: Mapping[str, np.ndarray]) -> quant.QuantizedMatrix:
    """The fused rows of several HF weights (q, k, v) quantized with their input's Hessian."""
    return quant.concat_rows([quantize(w, hs.get(input_key(name))) for name, w in parts])
