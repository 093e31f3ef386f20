"""Merge LoRA weights into a bundle's quantized decoder on the device, with numpy only.

An adapter-only update carries, per targeted HF weight ``W [out, in]``, the LoRA factors
``A [r, in]`` and ``B [out, r]`` and a ``scale`` (alpha / r). The device computes
``W' = W + scale * B @ A`` for the rows the graph stores for ``W`` and writes them back in the
graph's own layout (``model.io["weights"]`` says which tensor and which rows):

* ``nbits`` (MatMulNBits, int8/int4): quantization blocks run along ``in``, so rows are
  independent; only ``W``'s rows are dequantized, updated and re-quantized (``edgemem.quant``, the
  same code the toolchain quantizes with), then their bytes are written back.
* ``dense_kn`` / ``dense`` (fp32/fp16 builds): the float rows or columns are updated in place.

The merged tensors have the same shapes and byte lengths, so ``model.onnx`` keeps its structure:
bytes are patched at the offsets the graph records (``onnx_wire``), in a copy of the files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .. import quant
from ..errors import BundleError
from ..onnx_wire import ExternalTensor, external_tensors


@dataclass(frozen=True)
class LoraWeight:
    """The LoRA factors of one HF weight."""

    a: np.ndarray  # [r, in]
    b: np.ndarray  # [out, r]
    scale: float

    def delta(self) -> np.ndarray:
        return (self.b.astype(np.float32) @ self.a.astype(np.float32)) * np.float32(self.scale)


class _Patcher:
    """Reads and writes initializer bytes of a (copied) model folder in place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tensors = external_tensors(folder / "model.onnx")
        self._files: dict[str, Any] = {}

    def _file(self, t: ExternalTensor) -> Any:
        loc = t.location or "model.onnx"
        if "/" in loc or "\\" in loc or loc.startswith("."):
            raise BundleError(f"model.onnx names an external data file outside the bundle: {loc!r}")
        if loc not in self._files:
            self._files[loc] = open(self.folder / loc, "r+b")
        return self._files[loc]

    def get(self, name: str) -> ExternalTensor:
        t = self.tensors.get(name)
        if t is None:
            raise BundleError(f"cannot merge: the decoder has no stored tensor {name!r}")
        return t

    def read(self, name: str, row_start: int = 0, row_stop: int | None = None) -> np.ndarray:
        """Rows ``row_start:row_stop`` of an initializer (first axis), as a numpy array."""
        t = self.get(name)
        row_bytes = t.length // t.dims[0]
        stop = t.dims[0] if row_stop is None else row_stop
        f = self._file(t)
        f.seek(t.offset + row_start * row_bytes)
        raw = f.read((stop - row_start) * row_bytes)
        return np.frombuffer(raw, dtype=t.dtype).reshape((stop - row_start,) + t.dims[1:]).copy()

    def write(self, name: str, array: np.ndarray, row_start: int = 0) -> None:
        t = self.get(name)
        data = np.ascontiguousarray(array, dtype=t.dtype).tobytes()
        row_bytes = t.length // t.dims[0]
        if len(data) % row_bytes or row_start * row_bytes + len(data) > t.length:
            raise BundleError(f"cannot merge: new bytes for {name!r} do not fit its stored shape")
        f = self._file(t)
        f.seek(t.offset + row_start * row_bytes)
        f.write(data)

    def close(self) -> None:
        for f in self._files.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        self._files.clear()


def requantize_dithered(w: np.ndarray, *, bits: int, block: int, symmetric: bool, seed: int,
                        offset: bool = False) -> quant.QuantizedMatrix:
    """Block-quantize like ``quant.quantize`` but round stochastically (seeded, reproducible).

    Why: the device only has the *quantized* base weights. A LoRA delta is mostly smaller than
    half a quantization step, so ``round(deq(q(W)) + delta)`` snaps back to the old integers and the
    adapter vanishes (measured on SmolLM2 int8: golden perplexity stayed at the base's 13.6 where
    the float merge gives 21.1). Rounding up with probability equal to the fractional part keeps
    ``delta`` in expectation, at the cost of noise of about one more quantization step.
    """
    x = np.asarray(w, dtype=np.float32)
    n, k = x.shape
    dither = np.random.default_rng(seed).random((n, k // block, block), dtype=np.float32)
    if offset:  # the float-block-minimum layout of quant.quantize_offset, rounded stochastically
        return quant.quantize_offset(x, bits=bits, block=block, dither=dither)
    return quant.quantize(x, bits=bits, block=block, symmetric=symmetric, dither=dither)


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def _merge_nbits(p: _Patcher, tensor: str, spec: Mapping[str, Any], qinfo: Mapping[str, Any], delta: np.ndarray) -> None:
    bits, block = int(spec.get("bits", qinfo["bits"])), int(qinfo["block"])
    start, rows, k = int(spec["row_offset"]), int(spec["rows"]), int(spec["cols"])
    stop = start + rows
    packed = p.read(tensor, start, stop)
    scales = p.read(tensor + "_scales", start, stop)
    zp_name = tensor + "_zero_points"
    zps = p.read(zp_name, start, stop) if zp_name in p.tensors else None
    # int4 builds store a float block minimum as '<tensor>_offsets' [N, K/block] (GGUF Q4_1 style).
    off_name = tensor + "_offsets"
    offs = p.read(off_name, start, stop) if spec.get("offsets") or off_name in p.tensors else None
    q = quant.QuantizedMatrix(packed=packed, scales=scales, zero_points=zps, bits=bits, block=block, k=k, offsets=offs)
    w = quant.dequantize(q) + delta
    if offs is not None:
        nq = requantize_dithered(w, bits=bits, block=block, symmetric=False, seed=_seed(f"{tensor}:{start}"),
                                 offset=True)
        p.write(off_name, nq.offsets, start)  # type: ignore[arg-type]
    else:
        nq = requantize_dithered(w, bits=bits, block=block, symmetric=zps is None, seed=_seed(f"{tensor}:{start}"))
    p.write(tensor, nq.packed, start)
    p.write(tensor + "_scales", nq.scales, start)
    if zps is not None:
        assert nq.zero_points is not None
        p.write(zp_name, nq.zero_points, start)


def _merge_dense_kn(p: _Patcher, tensor: str, spec: Mapping[str, Any], delta: np.ndarray) -> None:
    # Stored transposed, [in, out_total]: W's rows are a column range; rewrite the whole tensor.
    w = p.read(tensor)
    start, rows = int(spec["row_offset"]), int(spec["rows"])
    w[:, start:start + rows] = (w[:, start:start + rows].astype(np.float32) + delta.T).astype(w.dtype)
    p.write(tensor, w)


def _merge_dense(p: _Patcher, tensor: str, spec: Mapping[str, Any], delta: np.ndarray) -> None:
    start, rows = int(spec["row_offset"]), int(spec["rows"])
    w = p.read(tensor, start, start + rows)
    p.write(tensor, (w.astype(np.float32) + delta).astype(w.dtype), start)


def merge_into(folder: Path, io: Mapping[str, Any],
               lora: Mapping[str, LoraWeight | Sequence[LoraWeight]]) -> dict[str, int]:
    """Merge ``lora`` (HF weight name -> factors) into the decoder files in ``folder``, in place.

    A weight may get several factor pairs whose deltas are summed: replacing an adapter merged
    earlier is one pass with the old pair at ``-scale`` and the new one at ``+scale``.
    ``folder`` must be a private copy (the staging folder of an apply). Returns a count per layout.
    """
    weights = io.get("weights") or {}
    qinfo = io.get("quantization") or {}
    p = _Patcher(Path(folder))
    counts: dict[str, int] = {}
    try:
        for hf_name, pairs in sorted(lora.items()):
            spec = weights.get(hf_name)
            if spec is None:
                raise BundleError(f"cannot merge: the decoder graph does not store {hf_name!r}")
            rows, cols = int(spec["rows"]), int(spec["cols"])
            pairs = [pairs] if isinstance(pairs, LoraWeight) else list(pairs)
            for lw in pairs:
                if lw.a.shape[1] != cols or lw.b.shape[0] != rows or lw.a.shape[0] != lw.b.shape[1]:
                    raise BundleError(f"cannot merge: LoRA factors for {hf_name} have shapes {lw.b.shape} @ "
                                      f"{lw.a.shape}, the weight is [{rows}, {cols}]")
            layout = spec["layout"]
            delta = sum((lw.delta() for lw in pairs[1:]), pairs[0].delta())
            if layout == "nbits":
                _merge_nbits(p, spec["tensor"], spec, qinfo, delta)
            elif layout == "dense_kn":
                _merge_dense_kn(p, spec["tensor"], spec, delta)
            elif layout == "dense":
                _merge_dense(p, spec["tensor"], spec, delta)
            else:
                raise BundleError(f"cannot merge into {hf_name}: layout {layout!r} is not supported on the device")
            counts[layout] = counts.get(layout, 0) + 1
    finally:
        p.close()
    return counts
