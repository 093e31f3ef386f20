"""Speed and fidelity of MiniLM ONNX variants on real memory text (the embedder gate's evidence).

The device embedder is the ingest's bound (docs/memory-eval.md, section 5). This measures each
candidate graph on the same texts in the same process, interleaved, so a shared machine's load hits
all of them alike:
* fidelity: cosine of each text's vector to the fp32 graph's, over a real sample (every distinct
  longchat turn, the questions, and the export's check sentences) — min, 0.1th percentile, mean;
* speed: texts/s and texts per CPU-second embedding the longchat turns through ``OnnxEmbedder``
  (sorted, length-bucketed batches), several rounds, best and median.

Variants are folders with ``model.onnx`` + ``tokenizer.json``; the first folder is the reference.
``--build ROOT`` first exports fp32 MiniLM to ``ROOT/fp32`` (``export.embedder``) and derives
``ROOT/opt`` (onnxruntime's offline BERT fusions), ``ROOT/dyn`` (dynamic int8, per-channel QInt8,
what ``quantize="dynamic"`` tries) and ``ROOT/nbits8`` (MatMulNBits 8-bit, block 32,
accuracy_level 4, what ``quantize="nbits8"`` writes), then measures those four:
    nice -n 10 python -m benchmarks.embedder_variants --build artifacts/embedder-variants \
        --speed-texts 1000 --rounds 2 --json artifacts/bench/embedder-variants.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .report import emit

ROOT = Path(__file__).resolve().parents[1]


def sample_texts(set_dir: Path) -> tuple[list[str], list[str]]:
    """(distinct texts for fidelity, the turn stream in file order for speed)."""
    from export.embedder import CHECK_TEXTS

    turns = [json.loads(x)["text"] for x in open(set_dir / "turns.jsonl", encoding="utf-8")]
    qs = [json.loads(x)["question"] for x in open(set_dir / "questions.jsonl", encoding="utf-8")]
    distinct = list(dict.fromkeys(turns + qs + list(CHECK_TEXTS)))
    return distinct, turns


def build_variants(root: Path) -> list[Path]:
    """fp32, opt, dyn, nbits8 under ``root`` (each with the tokenizer); returns the folders."""
    import shutil

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    from onnxruntime.transformers.optimizer import optimize_model

    from export.embedder import export_embedder

    fp32 = root / "fp32"
    if not (fp32 / "model.onnx").exists():
        export_embedder(None, fp32)
    folders = {name: root / name for name in ("opt", "dyn", "nbits8")}
    for d in folders.values():
        d.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fp32 / "tokenizer.json", d / "tokenizer.json")
    src = str(fp32 / "model.onnx")
    optimize_model(src, "bert", num_heads=12, hidden_size=384, opt_level=0).save_model_to_file(
        str(folders["opt"] / "model.onnx"))
    quantize_dynamic(src, str(folders["dyn"] / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    q = MatMulNBitsQuantizer(onnx.load(src), bits=8, block_size=32, is_symmetric=True, accuracy_level=4)
    q.process()
    onnx.save(q.model.model, str(folders["nbits8"] / "model.onnx"))
    return [fp32, *folders.values()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--build", type=Path, default=None, help="build the fp32/opt/dyn/nbits8 variants here and measure them")
    ap.add_argument("--set", type=Path, default=ROOT / "artifacts" / "longchat")
    ap.add_argument("--speed-texts", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.build is not None:
        a.folders = build_variants(a.build) + list(a.folders)
    if not a.folders:
        ap.error("give variant folders or --build ROOT")

    from edgemem.memory.embedder import OnnxEmbedder

    distinct, stream = sample_texts(a.set)
    stream = stream[: a.speed_texts]
    embs = {str(f): OnnxEmbedder(f, threads=a.threads, max_tokens=a.max_tokens) for f in a.folders}
    ref_name = str(a.folders[0])
    ref = embs[ref_name].embed(distinct)
    out: dict[str, Any] = {"load_avg_start": os.getloadavg()[0], "fidelity_texts": len(distinct),
                           "speed_texts": len(stream), "threads": a.threads, "max_tokens": a.max_tokens,
                           "variants": {}}
    for name, e in embs.items():
        vecs = ref if name == ref_name else e.embed(distinct)
        cos = np.sum(vecs * ref, axis=1)
        worst = int(np.argmin(cos))
        out["variants"][name] = {"cos_min": round(float(cos.min()), 5),
                                 "cos_p001": round(float(np.percentile(cos, 0.1)), 5),
                                 "cos_mean": round(float(cos.mean()), 5), "worst_text": distinct[worst][:80],
                                 "size_mb": round((Path(name) / "model.onnx").stat().st_size / 1e6, 1),
                                 "wall": [], "cpu": []}
        e.embed(stream[:64])  # warm-up
    for _ in range(a.rounds):
        for name, e in embs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            e.embed(stream)
            v = out["variants"][name]
            v["wall"].append(time.perf_counter() - t0)
            v["cpu"].append(time.process_time() - c0)
    for name, v in out["variants"].items():
        n = len(stream)
        v["texts_per_s_best"] = round(n / min(v["wall"]), 1)
        v["texts_per_s_median"] = round(n / float(np.median(v["wall"])), 1)
        v["texts_per_cpu_s"] = round(n / float(np.median(v["cpu"])), 1)
        del v["wall"], v["cpu"]
    out["load_avg_end"] = os.getloadavg()[0]
    emit(out, a.json, indent=1)


if __name__ == "__main__":
    sys.exit(main())
