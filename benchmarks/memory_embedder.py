"""The sentence embedder the benchmarks use: the device's own, so baselines and memory compare fairly.

The ONNX graph is made once by the toolchain (``export.embedder.export_embedder``, MiniLM with
pooling and normalization inside the graph) and cached under ``artifacts/bench/embedder``. It is run
through ``edgemem.memory.embedder.OnnxEmbedder`` when that class exists; before it landed the
small runner below (onnxruntime + tokenizers, the same graph) stood in, and it is kept as the
fallback so a baseline never depends on the memory package importing cleanly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "artifacts" / "bench" / "embedder"


def ensure_exported(folder: Path = DEFAULT_DIR, quantize: bool = False) -> Path:
    """Export MiniLM to ``folder`` unless a model is already there (needs the export extra)."""
    if not (folder / "model.onnx").exists():
        from export.embedder import export_embedder

        export_embedder(None, folder, quantize=quantize)
    return folder


class _OrtEmbedder:
    """Fallback runner for the toolchain's graph: sorted batches, truncation at 256 tokens."""

    def __init__(self, folder: Path, threads: int = 2, batch: int = 32) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._sess = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # MiniLM's tokenizer.json carries a padding setting; padding here would put pad tokens
        # under an all-ones mask below and pool them into the vector (measured: dense R@10 fell
        # from 0.67 to 0.47 before this line).
        self._tok.no_padding()
        self._tok.enable_truncation(256)
        self._batch = batch
        self.dim = 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), self._batch):
            idx = order[s:s + self._batch]
            enc = self._tok.encode_batch([texts[i] for i in idx])
            n = max(len(e.ids) for e in enc)
            ids = np.zeros((len(idx), n), dtype=np.int64)
            mask = np.zeros((len(idx), n), dtype=np.int64)
            for r, e in enumerate(enc):
                ids[r, :len(e.ids)] = e.ids
                mask[r, :len(e.ids)] = 1
            out[idx] = self._sess.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        return out


def load_embedder(folder: Path | None = None, threads: int = 2):  # -> interfaces.Embedder
    """The device embedder over the exported graph (edgemem's class if present, else the fallback)."""
    folder = ensure_exported(Path(folder) if folder else DEFAULT_DIR)
    if not os.environ.get("EDGEMEM_BENCH_FALLBACK_EMBEDDER"):
        try:
            from edgemem.memory.embedder import OnnxEmbedder

            try:
                return OnnxEmbedder(folder, threads=threads)
            except TypeError:
                return OnnxEmbedder(folder)
        except ImportError:
            pass
    return _OrtEmbedder(folder, threads=threads)


class Memoized:
    """The real embedder behind a table of texts already embedded by it (same graph, same vectors).

    The recall benchmark embeds every turn once for the dense baseline; the memory then asks for
    the same texts again. Serving those from the table saves an hour of a loaded 2-core machine
    and changes no vector; texts the table lacks (notes, summaries, questions) go to the model.
    Ingest *rates* are never measured through this class.
    """

    def __init__(self, real, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.real, self.dim = real, real.dim
        self.table = {t: v for t, v in zip(texts, np.asarray(vectors, dtype=np.float32))}
        self.hits = self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = [i for i, t in enumerate(texts) if t not in self.table]
        for i, t in enumerate(texts):
            v = self.table.get(t)
            if v is not None:
                out[i] = v
        if missing:
            out[missing] = self.real.embed([texts[i] for i in missing])
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        return out
