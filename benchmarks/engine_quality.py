"""Perplexity and greedy agreement of the fp32 / int8 / int4 decoder builds against fp32.

    python benchmarks/engine_quality.py --hf /tmp/edgemem-engine-bench/smollm2-hf \
        --text /work/shared/data/malp/README.md --tokens 600

(``benchmarks/engine_smollm2.py`` creates the HF folder from the shipped GGUF.) Teacher-forced
logits come from ``DecoderModel.logits``, the same path the quality gate and the on-device smoke
test use; perplexity as in ``edgemem.sync.smoke.perplexity``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hf", type=Path, required=True)
    ap.add_argument("--text", type=Path, required=True)
    ap.add_argument("--tokens", type=int, default=600)
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgemem-engine-quality"))
    ap.add_argument("--quantizations", default="fp32,int8,int4")
    args = ap.parse_args()
    from tokenizers import Tokenizer

    from edgemem.engine import DecoderModel
    from edgemem.sync.smoke import perplexity
    from export.onnx_graph import build_decoder

    tok = Tokenizer.from_file(str(args.hf / "tokenizer.json"))
    ids = tok.encode(args.text.read_text(encoding="utf-8")[: args.tokens * 12], add_special_tokens=False).ids[: args.tokens]
    out, ref = {}, None
    for q in args.quantizations.split(","):
        d = args.work / q
        r = build_decoder(args.hf, d, quantization=q, context_length=max(1024, len(ids)))
        logits = DecoderModel(d / "model.onnx", r["io"], threads=2).logits(ids)
        if ref is None:
            ref = logits
        out[q] = {"ppl": round(perplexity(logits, ids), 4),
                  "agreement": round(float((logits.argmax(-1) == ref.argmax(-1)).mean()), 4),
                  "data_mb": round((d / "model.onnx.data").stat().st_size / 2**20, 1)}
        print(q, out[q], file=sys.stderr)
    print(json.dumps({"tokens": len(ids), "reference": args.quantizations.split(",")[0], "builds": out}, indent=1))


if __name__ == "__main__":
    main()
