"""Build a signed adapter-only update: a peft LoRA adapter for a bundle the device already runs.

The device merges the LoRA factors into its quantized decoder itself (``edgemem.sync.device_merge``, no
torch), so the update carries only ``lora.npz`` (float16 factors, a few MB) and a signed manifest.
What the device cannot do is judge quality against the float model, so that is measured here: the
same adapter is merged in float (``export.merge``, peft's own merge), built into a decoder with the
bundle's quantization (``export.onnx_graph``), and scored on the bundle's golden text. The
update's ``golden`` gate is that build's perplexity (times 1 + the profile's allowed increase)
and its greedy argmax: the device's own merge must land inside it or the update is refused there.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgemem import bundle as bundle_mod
from edgemem import profiles
from edgemem.errors import BundleError, InputError
from edgemem.home import Home
from edgemem.sync.adapter import KIND, LORA_FILE, decoder_hashes, save_lora
from edgemem.sync.device_merge import LoraWeight

PEFT_PREFIX = "base_model.model."


def read_peft_adapter(adapter_dir: str | os.PathLike[str]) -> tuple[dict[str, LoraWeight], dict[str, Any]]:
    """A peft adapter folder -> {HF weight name: LoraWeight} and facts for the manifest."""
    from safetensors.numpy import load_file

    d = Path(adapter_dir)
    try:
        cfg = json.loads((d / "adapter_config.json").read_text(encoding="utf-8"))
        tensors = load_file(str(d / "adapter_model.safetensors"))
    except (OSError, ValueError) as e:
        raise InputError(f"{d} is not a peft LoRA adapter folder ({e})") from None
    if cfg.get("peft_type", "LORA") != "LORA":
        raise InputError(f"{d}: only LoRA adapters can be shipped as adapter-only updates")
    if cfg.get("fan_in_fan_out") or cfg.get("use_dora") or cfg.get("bias", "none") != "none":
        raise InputError(f"{d}: fan_in_fan_out, DoRA and trained biases are not supported on the device")
    r = int(cfg["r"])
    alpha = float(cfg.get("lora_alpha", r))
    scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    out: dict[str, LoraWeight] = {}
    for key, a in tensors.items():
        if ".lora_A." not in key:
            continue
        b_key = key.replace(".lora_A.", ".lora_B.")
        if b_key not in tensors:
            raise InputError(f"{d}: {key} has no matching lora_B")
        name = key.removeprefix(PEFT_PREFIX).replace(".lora_A.weight", ".weight").replace(".lora_A.default.weight", ".weight")
        out[name] = LoraWeight(a=a.astype(np.float32), b=tensors[b_key].astype(np.float32), scale=scale)
    if not out:
        raise InputError(f"{d}: no LoRA weights found")
    facts = {"rank": r, "alpha": alpha, "scale": scale, "targets": len(out),
             "target_modules": sorted({n.split(".")[-2] for n in out})}
    return out, facts


def _reference_gate(base: bundle_mod.Manifest, base_dir: Path, base_hf: Path, adapter_dir: Path,
                    work: Path) -> dict[str, Any]:
    """Merge in float, quantize like the bundle, and score the golden text."""
    from tokenizers import Tokenizer

    from edgemem.engine import DecoderModel
    from edgemem.sync.smoke import perplexity

    from .merge import merge
    from .onnx_graph import build_decoder

    golden = base.golden or {}
    if not golden.get("text"):
        raise BundleError(f"{base_dir}: the base bundle has no golden text to gate the update on")
    merged = work / "merged-hf"
    merge(base_hf, adapter_dir, merged)
    dec = work / "decoder"
    built = build_decoder(merged, dec, quantization=base.quantization,
                          context_length=int(base.architecture["context_length"]))
    ids = Tokenizer.from_file(str(base_dir / "tokenizer.json")).encode(golden["text"], add_special_tokens=False).ids
    logits = DecoderModel(str(dec / "model.onnx"), built["io"]).logits(ids)
    return {"ppl": perplexity(logits, ids), "argmax": [int(t) for t in logits.argmax(-1)], "tokens": len(ids)}


def build_update(base_bundle: str | os.PathLike[str], adapter_dir: str | os.PathLike[str],
                 base_hf: str | os.PathLike[str], out: str | os.PathLike[str], *, key: Any,
                 version: int | None = None, home: Home | None = None,
                 max_ppl_increase: float | None = None, min_agreement: float | None = None) -> bundle_mod.Manifest:
    """Write a signed adapter-only update for ``base_bundle`` into the folder ``out``."""
    home = home or Home.resolve()
    base_dir = Path(base_bundle)
    outp = Path(out)
    if not base_dir.is_dir():
        raise InputError(f"{base_dir}: pass the base bundle as a folder")
    from edgemem import signing_keys as keys_mod

    trusted = keys_mod.trusted_keys(home)
    trusted[keys_mod.key_id(key.public_key())] = key.public_key()
    base = bundle_mod.verify(base_dir, trusted, home)
    if base.get("kind") == KIND:
        raise InputError(f"{base_dir} is an adapter update, not a bundle")
    lora, facts = read_peft_adapter(adapter_dir)
    weights = base.io.get("weights") or {}
    missing = [n for n in lora if n not in weights]
    if missing:
        raise InputError(f"adapter targets {missing[0]}, which the bundle's decoder does not store")
    try:
        prof = profiles.load(base.profile, home.root)
        d_ppl, d_agree = prof.max_ppl_increase, prof.min_agreement
    except Exception:  # a profile this host lacks: fall back to the quantization's defaults
        d_ppl, d_agree = profiles.DEFAULT_GATE.get(base.quantization, (0.08, 0.9))
    tol = d_ppl if max_ppl_increase is None else max_ppl_increase
    agree = d_agree if min_agreement is None else min_agreement
    with tempfile.TemporaryDirectory(prefix="edgemem-adapter-") as tmp:
        ref = _reference_gate(base, base_dir, Path(base_hf), Path(adapter_dir), Path(tmp))
    if outp.exists() and any(outp.iterdir()):
        raise InputError(f"{outp} already exists and is not empty")
    outp.mkdir(parents=True, exist_ok=True)
    save_lora(outp / LORA_FILE, lora)
    from .merge import adapter_identity

    ident = adapter_identity(Path(adapter_dir))
    manifest = {
        "kind": KIND,
        "version": int(version if version is not None else base.version + 1),
        "parent_version": base.version,
        "profile": base.profile,
        "quantization": base.quantization,
        "model": {"family": base.model.get("family"), "architecture": base.architecture},
        "base": base["base"],
        "tokenizer_sha256": base.get("tokenizer_sha256"),
        "adapter": {**ident, **facts},
        "applies_to": {"version": base.version, "files": decoder_hashes(base_dir, base)},
        "golden": {"text": base.golden["text"], "max_ppl": ref["ppl"] * (1 + tol),  # type: ignore[index]
                   "argmax": ref["argmax"], "min_agreement": agree, "reference_ppl": ref["ppl"]},
        "quality": {"reference": "off-device float merge, quantized like the bundle",
                    "reference_ppl": ref["ppl"], "golden_tokens": ref["tokens"],
                    "thresholds": {"max_ppl_increase": tol, "min_agreement": agree}},
    }
    if manifest["version"] <= base.version:
        raise InputError(f"update version {manifest['version']} must be newer than the bundle's {base.version}")
    return bundle_mod.write(outp, manifest, key)
