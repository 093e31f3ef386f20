"""Real signed bundles of the tiny Llama for the sync tests, built with the project's own graph builder.

Each bundle is what ``edgemem-export build`` produces in shape (decoder graph, tokenizer, signed
manifest with ``model.io``, ``base``, ``tokenizer_sha256`` and a ``golden`` gate measured on the
built graph), only without the fp32-vs-quantized quality run, so a test gets one in about a second.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

GOLDEN = ("I have had a headache and a mild fever for three days. Please drink plenty of fluids "
          "and rest. If the fever rises above 39 degrees, see a doctor.")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_tiny_bundle(hf_dir: Path, out: Path, key: Any, *, version: int, parent_version: int | None = None,
                      quantization: str = "int8", context_length: int = 256, profile: str = "x86-kiosk",
                      ppl_slack: float = 1.05, **overrides: Any) -> Path:
    """Build and sign a bundle folder from an HF folder; ``overrides`` replace manifest keys."""
    from tiny_model import CHATML_TEMPLATE
    from tokenizers import Tokenizer

    from edgemem import bundle
    from edgemem.engine import DecoderModel
    from edgemem.sync.smoke import perplexity
    from export.onnx_graph import build_decoder

    out.mkdir(parents=True, exist_ok=True)
    built = build_decoder(hf_dir, out, quantization=quantization, context_length=context_length)
    shutil.copyfile(hf_dir / "tokenizer.json", out / "tokenizer.json")
    ids = Tokenizer.from_file(str(out / "tokenizer.json")).encode(GOLDEN, add_special_tokens=False).ids
    ppl = perplexity(DecoderModel(str(out / "model.onnx"), built["io"]).logits(ids), ids)
    manifest = {
        "version": version,
        "parent_version": parent_version,
        "profile": profile,
        "quantization": quantization,
        "model": {"family": "llama", "architecture": built["architecture"], "io": built["io"],
                  "special_tokens": {"bos": 1, "eos": 2, "pad": 2, "im_start": 1, "im_end": 2},
                  "chat_template": CHATML_TEMPLATE, "stop_token_ids": [2]},
        "base": {"id": "tiny-llama", "sha256": _sha(hf_dir / "model.safetensors")},
        "adapter": None,
        "tokenizer_sha256": _sha(out / "tokenizer.json"),
        "golden": {"text": GOLDEN, "max_ppl": ppl * ppl_slack},
        "quality": {"passed": True, "forced": False, "golden_ppl": ppl},
    }
    manifest.update(overrides)
    bundle.write(out, manifest, key)
    return out


def signing_key(home: Any) -> Any:
    """A vendor key trusted by ``home`` (as a provisioned device would trust its vendor)."""
    from edgemem import signing_keys

    key = signing_keys.generate()
    signing_keys.trust(key.public_key(), home)
    return key


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> sha256 (to prove a refused apply touched nothing)."""
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)
