"""Build a real signed bundle (decoder graph + tokenizer + manifest) from an HF folder, for tests.

The product bundle is assembled by ``export.build`` (quality gate, embedder, golden text); the
engine's tests need only what the engine reads, signed with a throwaway key that the test's home
folder trusts, so verification runs for real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from edgemem import bundle, signing_keys
from edgemem.home import Home
from export.onnx_graph import build_decoder


def make_bundle(hf_dir: Path, out: Path, home: Home, *, quantization: str = "int8", context_length: int = 256) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    result = build_decoder(hf_dir, out, quantization=quantization, context_length=context_length)
    shutil.copy(hf_dir / "tokenizer.json", out / "tokenizer.json")
    tconf = json.loads((hf_dir / "tokenizer_config.json").read_text())
    key = signing_keys.generate()
    home.ensure()
    signing_keys.trust(key.public_key(), home)
    manifest = {
        "version": 1, "parent_version": None, "profile": "x86-kiosk", "quantization": quantization,
        "model": {"family": "llama", "architecture": result["architecture"], "io": result["io"],
                  "special_tokens": {"bos": 1, "eos": 2, "pad": 2, "im_start": 1, "im_end": 2},
                  "chat_template": tconf["chat_template"], "stop_token_ids": [2]},
        "base": {"id": "tiny-random-llama", "sha256": bundle.sha256_file(hf_dir / "model.safetensors")},
        "adapter": None, "tokenizer_sha256": bundle.sha256_file(out / "tokenizer.json"),
        "quality": None, "golden": None, "embedder": None,
    }
    bundle.write(out, manifest, key)
    return out
