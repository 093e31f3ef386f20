"""The token-embedding lookup, done in numpy from the bundle's data file instead of in the graph.

Why outside the graph: SmolLM2 ties its embedding to the LM head, and the 8-bit table (28 MB +
scales) was an input of two nodes — ``GatherBlockQuantized`` for the lookup and ``MatMulNBits`` for
the head. onnxruntime pre-packs the head's copy into its own buffer, and the lookup read the
memory-mapped original, so the table was resident twice: with the kernel's fault-around mapping
64 KiB around every row a lookup touched, a 1,000-token conversation made ~26 MB of the mapped
table resident again (measured with ``benchmarks/engine_memory.py``). Here the graph takes
``inputs_embeds`` and the table is only the LM head's, while the lookup reads just the rows it
needs with ``pread`` (page-cache reads, which do not count in this process's RSS).

The table stays one initializer of the decoder graph, at the offset ``model.onnx`` records: the
on-device LoRA merge (``edgemem.sync.device_merge``) patches those same bytes and the lookup reads what it
wrote. Layouts (``io["embedding"]``): ``nbits`` (uint8 ``[vocab, blocks, block]`` plus float32
scales ``[vocab, blocks]``, ``w = (q - 128) * scale``, 8-bit symmetric) and ``dense`` (float rows).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import BundleError, InputError
from ..onnx_wire import external_tensors


class EmbeddingTable:
    """Rows of the decoder's embedding initializer, read on demand from the model folder."""

    def __init__(self, folder: str | os.PathLike[str], spec: Mapping[str, Any], model_file: str = "model.onnx") -> None:
        folder = Path(folder)
        tensors = external_tensors(folder / model_file)
        try:
            self.layout = str(spec["layout"])
            self.hidden = int(spec["hidden"])
            table = tensors[spec["tensor"]]
            scales = tensors[spec["scales"]] if spec.get("scales") else None
        except KeyError as e:
            raise BundleError(f"the decoder's embedding table is not where model.io says ({e})") from None
        if self.layout not in ("nbits", "dense"):
            raise BundleError(f"unknown embedding layout {self.layout!r}")
        if self.layout == "nbits" and (scales is None or int(spec.get("bits", 8)) != 8):
            raise BundleError("an nbits embedding table must be 8-bit with scales")
        self.vocab = int(table.dims[0])
        self.out_dtype = np.dtype(spec.get("dtype", "float32"))
        self._table = table
        self._scales = scales
        self._row_bytes = table.length // self.vocab
        self._scale_bytes = scales.length // self.vocab if scales is not None else 0
        self._centered = np.arange(256, dtype=np.float32) - np.float32(128.0)  # q -> q - 128, exact
        self._fds: dict[str, int] = {}
        for t in (table, scales):
            if t is not None and t.location not in self._fds:
                loc = t.location or model_file
                if "/" in loc or "\\" in loc or loc.startswith("."):
                    raise BundleError(f"model.onnx names a data file outside the bundle: {loc!r}")
                self._fds[t.location] = os.open(folder / loc, os.O_RDONLY)

    def _read(self, t: Any, row_bytes: int, ids: np.ndarray) -> bytes:
        fd = self._fds[t.location]
        base = t.offset
        return b"".join(os.pread(fd, row_bytes, base + int(i) * row_bytes) for i in ids)

    def lookup(self, ids: Sequence[int], out: np.ndarray | None = None) -> np.ndarray:
        """Embeddings ``[len(ids), hidden]`` (written into ``out`` when given)."""
        idx = np.asarray(ids, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.vocab):
            raise InputError(f"token id out of the embedding table's range 0..{self.vocab - 1}")
        if out is None:
            out = np.empty((idx.size, self.hidden), self.out_dtype)
        if idx.size == 1:  # the decode step: no de-duplication
            uniq, inverse = idx, None
        else:
            uniq, inverse = np.unique(idx, return_inverse=True)
        raw = np.frombuffer(self._read(self._table, self._row_bytes, uniq), dtype=self._table.dtype)
        if self.layout == "nbits":
            blocks = self._scale_bytes // 4
            s = np.frombuffer(self._read(self._scales, self._scale_bytes, uniq), dtype=np.float32)
            rows = (self._centered[raw].reshape(uniq.size, blocks, -1) * s.reshape(uniq.size, blocks, 1)).reshape(uniq.size, -1)
        else:
            rows = raw.reshape(uniq.size, -1)
        out[...] = (rows if inverse is None else rows[inverse.reshape(-1)]).reshape(out.shape)
        return out

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass
