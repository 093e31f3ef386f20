"""Probe: the follow-up prefill on per-column 8-bit QGEMM instead of block-wise MatMulNBits.

On AVX2 without VNNI, onnxruntime's 8-bit ``MatMulNBits`` gets almost no batching gain from
several rows, and a follow-up turn's prefill is ~3/4 that kernel (docs/engine.md). This rewrites a
bundle's 120 layer ``MatMulNBits`` nodes (the LM head stays) into ``DynamicQuantizeMatMul`` with
per-column weights — ``u8u8`` (weights uint8 with zero point 128: no ``vpmaddubsw`` saturation
without VNNI) or ``s8-7bit`` (int8 weights in [-63, 63], the ``reduce_range`` trick) — and
measures, against the original in the same run:

* perplexity on 12 held-out MaLP dialogues (<= 700 tokens each, chat template), teacher-forced in
  the engine's prefill chunks, with the first token fed alone (``isolate_first``: activations are
  quantized per tensor over a chunk, and the first position carries SmolLM2's massive
  activations) and without (``plain``);
* decode tokens/s (64 greedy steps after 50 tokens, 3 runs) and the follow-up prefill (26 tokens
  after 1,017 cached, 7 runs).

    python -m benchmarks.engine_qgemm_probe --bundle DIR [--variant u8u8|s8-7bit] [--pairs 3] [--json F]

Not a shipped path: see docs/engine.md ("Tried: per-column QGEMM for the prefill").
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .report import emit


def convert(src: Path, dst: Path, variant: str) -> int:
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src / "model.onnx"), load_external_data=True)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    nodes, drop, add = [], set(), []
    for n in g.node:
        if n.op_type != "MatMulNBits" or n.input[1] == "model.embed_tokens.weight":
            nodes.append(n)
            continue
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        k, nn, blk = at["K"], at["N"], at["block_size"]
        if at["bits"] != 8 or len(n.input) != 3:
            raise SystemExit(f"{n.name}: only symmetric 8-bit MatMulNBits is converted")
        q = numpy_helper.to_array(inits[n.input[1]]).reshape(nn, k // blk, blk).astype(np.float32)
        sc = numpy_helper.to_array(inits[n.input[2]]).reshape(nn, k // blk)
        w = ((q - 128.0) * sc[..., None]).reshape(nn, k)
        top = 127.0 if variant == "u8u8" else 63.0
        s = np.maximum(np.abs(w).max(1), 1e-12) / top
        qi = np.clip(np.round(w / s[:, None]), -top, top)
        if variant == "u8u8":
            wq, zp = (qi + 128).astype(np.uint8).T.copy(), np.full(nn, 128, np.uint8)
        else:
            wq, zp = qi.astype(np.int8).T.copy(), np.zeros(nn, np.int8)
        base = n.input[1]
        add += [numpy_helper.from_array(wq, base + "_kn"), numpy_helper.from_array(s.astype(np.float32), base + "_colscale"),
                numpy_helper.from_array(zp, base + "_colzp")]
        drop.update(n.input[1:3])
        nodes.append(helper.make_node("DynamicQuantizeMatMul", [n.input[0], base + "_kn", base + "_colscale",
                                      base + "_colzp"], list(n.output), name=n.name + "_dq", domain="com.microsoft"))
    keep = [t for t in g.initializer if t.name not in drop] + add
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.node[:]
    g.node.extend(nodes)
    dst.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(dst / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.onnx.data", size_threshold=1024)
    for f in ("manifest.json", "tokenizer.json"):
        shutil.copy(src / f, dst / f)
    return sum(1 for n in nodes if n.op_type == "DynamicQuantizeMatMul")


def measure(folder: Path) -> dict[str, Any]:
    """In this process: perplexity (both chunkings), decode, follow-up prefill."""
    from benchmarks.ablation import load_engine
    from benchmarks.data import malp
    from edgemem.engine.sampler import log_softmax
    from edgemem.interfaces import ChatMessage

    eng = load_engine(folder, False, "x86-kiosk")
    m = eng.model
    seqs = []
    for _, turns in malp.heldout_dialogues()[:12]:
        msgs = [ChatMessage("user" if t.role == "user" else "assistant", t.text) for t in turns[:8]]
        seqs.append(eng.render_chat(msgs, add_generation_prompt=False)[:700])
    out: dict[str, Any] = {}
    for mode in ("isolate_first", "plain"):
        tot, n = 0.0, 0
        for ids in seqs:
            m.reset()
            if mode == "isolate_first":
                rows = np.concatenate([np.asarray(m.feed(ids[:1], all_logits=True)),
                                       np.asarray(m.feed(ids[1:-1], all_logits=True))])
            else:
                rows = np.asarray(m.feed(ids[:-1], all_logits=True))
            lp = log_softmax(rows)
            tot -= float(lp[np.arange(len(ids) - 1), ids[1:]].sum())
            n += len(ids) - 1
        out[f"ppl_{mode}"] = round(float(np.exp(tot / n)), 4)
    out["ppl_tokens"] = n
    rng = np.random.RandomState(0)
    ids = [int(t) for t in rng.randint(100, 40000, size=50)]
    dec = []
    for _ in range(3):
        m.reset()
        m.feed(ids[:1])
        tok = int(np.argmax(m.feed(ids[1:])))
        t0 = time.perf_counter()
        for _ in range(64):
            tok = int(np.argmax(m.step(tok)))
        dec.append(64 / (time.perf_counter() - t0))
    m.reset()
    m.feed([1])
    m.feed([int(t) for t in rng.randint(100, 40000, size=1016)])
    f = []
    for _ in range(7):
        m.rewind(1017)
        t0 = time.perf_counter()
        m.feed([int(t) for t in rng.randint(100, 40000, size=26)])
        f.append((time.perf_counter() - t0) * 1e3)
    out["decode_tok_s"] = [round(x, 1) for x in dec]
    out["followup_ms_median"] = round(sorted(f)[3], 1)
    out["followup_ms_min"] = round(min(f), 1)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Follow-up prefill on per-column QGEMM: quality and speed vs the bundle.")
    ap.add_argument("--bundle", type=Path, required=True, help="an int8 bundle (8-bit symmetric MatMulNBits)")
    ap.add_argument("--variant", choices=("u8u8", "s8-7bit"), default="u8u8")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # child process
    a = ap.parse_args(argv)
    if a.measure is not None:
        import json

        print(json.dumps(measure(a.measure)))
        return
    work = a.work or Path(tempfile.mkdtemp(prefix="edgemem-qgemm-"))
    converted = convert(a.bundle, work / a.variant, a.variant)

    def child(folder: Path) -> dict[str, Any]:  # each in a fresh process: no shared arena or cache
        import json

        r = subprocess.run([sys.executable, "-m", "benchmarks.engine_qgemm_probe", "--bundle", str(a.bundle),
                            "--measure", str(folder)], capture_output=True, text=True, check=True)
        return json.loads(r.stdout.strip().splitlines()[-1])

    # Alternate original / probe in fresh processes: this machine's speed drifts between minutes.
    pairs = [(child(a.bundle), child(work / a.variant)) for _ in range(a.pairs)]
    orig, probe = pairs[-1]
    follow = [o["followup_ms_median"] / p["followup_ms_median"] for o, p in pairs]
    decode = [float(np.median(p["decode_tok_s"]) / np.median(o["decode_tok_s"])) for o, p in pairs]
    emit({"bundle": str(a.bundle), "variant": a.variant, "converted_nodes": converted,
          "ppl_original": orig["ppl_isolate_first"], "ppl_qgemm_isolate_first": probe["ppl_isolate_first"],
          "ppl_qgemm_plain": probe["ppl_plain"],
          "ppl_increase_isolate_first": round(probe["ppl_isolate_first"] / orig["ppl_isolate_first"] - 1, 4),
          "followup_ms_original": [o["followup_ms_median"] for o, _ in pairs],
          "followup_ms_qgemm": [p["followup_ms_median"] for _, p in pairs],
          "decode_tok_s_original": [float(np.median(o["decode_tok_s"])) for o, _ in pairs],
          "decode_tok_s_qgemm": [float(np.median(p["decode_tok_s"])) for _, p in pairs],
          "followup_speedup_per_pair": [round(x, 2) for x in follow],
          "decode_ratio_per_pair": [round(x, 3) for x in decode],
          "followup_speedup_median": round(float(np.median(follow)), 2),
          "decode_ratio_median": round(float(np.median(decode)), 3)},
         a.json, indent=2)


if __name__ == "__main__":
    main()
