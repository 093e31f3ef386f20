"""Block quantization of weight matrices in onnxruntime's ``MatMulNBits`` layout, in numpy.

Why numpy and why here (not in ``export/``): the decoder graph stores its linear weights as
``MatMulNBits`` blobs, and the device itself has to rewrite them when it merges a LoRA adapter
(dequantize -> add ``B @ A * scale`` -> requantize) without torch. The export toolchain and the
device therefore share this one implementation, so a weight quantized off-device and one
re-quantized on the device are bit-for-bit the same format.

Layout (onnxruntime ``com.microsoft.MatMulNBits``): a weight ``W`` of shape ``[N, K]`` (HF's
``[out_features, in_features]``) is cut into blocks of ``block`` values along K. Each block has a
float32 scale; asymmetric blocks also have a zero point. Values are unsigned:
``w = (q - zero_point) * scale``. 8-bit symmetric blocks use the implicit zero point 128; 4-bit
values are packed two to a byte, low nibble first, and 4-bit zero points are packed the same way
across the blocks of a row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BITS = (4, 8)


@dataclass(frozen=True)
class QuantizedMatrix:
    """A ``[n, k]`` matrix quantized block-wise along k, ready to be a ``MatMulNBits`` input."""

    packed: np.ndarray  # uint8 [n, k_blocks, block * bits / 8]
    scales: np.ndarray  # float32 [n, k_blocks]
    zero_points: np.ndarray | None  # uint8 [n, ceil(k_blocks * bits / 8)] or None (symmetric)
    bits: int
    block: int
    k: int
    offsets: np.ndarray | None = None  # float32 [n, k_blocks] added after (q - zp) * scale, or None

    @property
    def n(self) -> int:
        return int(self.packed.shape[0])

    @property
    def symmetric(self) -> bool:
        return self.zero_points is None


def _check(bits: int, block: int, k: int) -> None:
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS}, got {bits}")
    if block < 16 or block & (block - 1):
        raise ValueError(f"block must be a power of two >= 16, got {block}")
    if k % block:
        raise ValueError(f"k={k} is not a multiple of the block size {block}")


def _pack4(values: np.ndarray) -> np.ndarray:
    """Pack uint8 values < 16 pairwise along the last axis, the first one in the low nibble."""
    if values.shape[-1] % 2:
        values = np.concatenate([values, np.zeros(values.shape[:-1] + (1,), np.uint8)], axis=-1)
    return (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)


def _unpack4(packed: np.ndarray, count: int) -> np.ndarray:
    out = np.empty(packed.shape[:-1] + (packed.shape[-1] * 2,), np.uint8)
    out[..., 0::2] = packed & 0x0F
    out[..., 1::2] = packed >> 4
    return out[..., :count]


def _round(x: np.ndarray, dither: np.ndarray | None) -> np.ndarray:
    """Nearest integer, or with ``dither`` (uniform [0, 1) noise of ``x``'s shape) stochastic
    rounding: up with probability equal to the fractional part (the on-device merge's requantize)."""
    return np.rint(x) if dither is None else np.floor(x + dither)


def quantize_offset(weight: np.ndarray, *, bits: int = 4, block: int = 32,
                    dither: np.ndarray | None = None) -> QuantizedMatrix:
    """GGUF Q4_1-style blocks: ``w = q * d + min`` with a float ``min`` per block.

    ``MatMulNBits`` only takes integer zero points, which cannot express an arbitrary float block
    minimum (a float zero point exists but runs ~50x slower here). So the blocks are stored with
    the implicit zero point ``2**(bits-1)`` and the remainder goes into ``offsets``:
    ``w = (q - 2**(bits-1)) * d + offset`` with ``offset = min + 2**(bits-1) * d``. The graph adds
    ``blocksum(x) @ offsets.T`` to the MatMulNBits output. A weight that already lies on such a
    grid (the de-quantized Q4_1 SmolLM2 ships as) comes back exactly.
    """
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D weight, got shape {w.shape}")
    n, k = w.shape
    _check(bits, block, k)
    blocks = w.reshape(n, k // block, block)
    qmax = (1 << bits) - 1
    lo, hi = blocks.min(axis=-1), blocks.max(axis=-1)
    scales = ((hi - lo) / float(qmax)).astype(np.float32)
    inv = np.divide(1.0, scales, out=np.zeros_like(scales), where=scales > 0)
    q = np.clip(_round((blocks - lo[..., None]) * inv[..., None], dither), 0, qmax).astype(np.uint8)
    half = 1 << (bits - 1)
    offsets = (lo + half * scales).astype(np.float32)
    packed = _pack4(q) if bits == 4 else q
    return QuantizedMatrix(packed=np.ascontiguousarray(packed), scales=scales, zero_points=None,
                           bits=bits, block=block, k=k, offsets=offsets)


def quantize(weight: np.ndarray, *, bits: int, block: int = 32, symmetric: bool | None = None,
             dither: np.ndarray | None = None) -> QuantizedMatrix:
    """Quantize ``weight`` [n, k] (float) block-wise along k with an integer grid.

    ``dither`` [n, k // block, block] makes the rounding stochastic (``_round``); the zero points
    are always rounded to the nearest.

    ``symmetric`` defaults to True for 8 bits (as GGUF Q8_0) and False for 4 bits. For weights
    that came from a Q4_1 GGUF, ``quantize_offset`` reproduces them exactly.
    """
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D weight, got shape {w.shape}")
    n, k = w.shape
    _check(bits, block, k)
    if symmetric is None:
        symmetric = bits == 8
    kb = k // block
    blocks = w.reshape(n, kb, block)
    qmax = (1 << bits) - 1
    if symmetric:
        half = 1 << (bits - 1)
        absmax = np.abs(blocks).max(axis=-1)
        scales = absmax / float(half - 1)
        inv = np.divide(1.0, scales, out=np.zeros_like(scales), where=scales > 0)
        q = np.clip(_round(blocks * inv[..., None], dither) + half, 0, qmax).astype(np.uint8)
        zp = None
        if bits == 4:
            # MatMulNBits' implicit 4-bit zero point is 8; keep it implicit.
            pass
    else:
        lo = np.minimum(blocks.min(axis=-1), 0.0)
        hi = np.maximum(blocks.max(axis=-1), 0.0)
        scales = (hi - lo) / float(qmax)
        inv = np.divide(1.0, scales, out=np.zeros_like(scales), where=scales > 0)
        zpv = np.clip(np.rint(-lo * inv), 0, qmax).astype(np.uint8)
        q = np.clip(_round(blocks * inv[..., None], dither) + zpv[..., None], 0, qmax).astype(np.uint8)
        zp = _pack4(zpv) if bits == 4 else zpv
    packed = _pack4(q) if bits == 4 else q
    return QuantizedMatrix(packed=np.ascontiguousarray(packed), scales=scales.astype(np.float32),
                           zero_points=zp, bits=bits, block=block, k=k)


def zero_points_of(q: QuantizedMatrix) -> np.ndarray:
    """Unpacked zero points [n, k_blocks] (the implicit ``2**(bits-1)`` when symmetric)."""
    kb = q.k // q.block
    if q.zero_points is None:
        return np.full((q.n, kb), 1 << (q.bits - 1), np.uint8)
    if q.bits == 4:
        return _unpack4(q.zero_points, kb)
    return q.zero_points


def dequantize(q: QuantizedMatrix) -> np.ndarray:
    """Back to float32 [n, k]."""
    kb = q.k // q.block
    values = _unpack4(q.packed, q.block) if q.bits == 4 else q.packed
    zp = zero_points_of(q).astype(np.float32)
    w = (values.astype(np.float32) - zp[..., None]) * q.scales[..., None]
    if q.offsets is not None:
        w = w + q.offsets[..., None]
    return w.reshape(q.n, kb * q.block)


def concat_rows(parts: list[QuantizedMatrix]) -> QuantizedMatrix:
    """Stack matrices quantized with the same settings along n (e.g. q, k, v into one qkv)."""
    first = parts[0]
    key = lambda p: (p.bits, p.block, p.k, p.symmetric, p.offsets is None)  # noqa: E731
    if any(key(p) != key(first) for p in parts):
        raise ValueError("can only concatenate matrices with the same bits, block, k, symmetry and offsets")
    zp = None if first.symmetric else np.concatenate([p.zero_points for p in parts])  # type: ignore[misc]
    off = None if first.offsets is None else np.concatenate([p.offsets for p in parts])  # type: ignore[misc]
    return QuantizedMatrix(packed=np.concatenate([p.packed for p in parts]),
                           scales=np.concatenate([p.scales for p in parts]),
                           zero_points=zp, bits=first.bits, block=first.block, k=first.k, offsets=off)


def slice_rows(q: QuantizedMatrix, start: int, stop: int) -> QuantizedMatrix:
    """Rows ``start:stop`` (blocks run along k, so rows are independent)."""
    zp = None if q.zero_points is None else q.zero_points[start:stop]
    off = None if q.offsets is None else q.offsets[start:stop]
    return QuantizedMatrix(packed=q.packed[start:stop], scales=q.scales[start:stop], zero_points=zp,
                           bits=q.bits, block=q.block, k=q.k, offsets=off)
