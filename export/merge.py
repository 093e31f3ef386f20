"""Merge a LoRA adapter into its base so the device runs one plain graph.

A merged model costs nothing extra per token on the device (no adapter matmuls), and the ONNX
builder only has to know the base architecture. The merged folder keeps the base's tokenizer and
``edgemem_base.json``, extended with the adapter's id and sha256 for the bundle manifest.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from edgemem.errors import EdgememError, InputError

from .base import BaseInfo, copy_tokenizer, read_info, sha256_file, write_info
from .train import ADAPTER_INFO


def adapter_identity(adapter_dir: Path) -> dict[str, str]:
    """{id, sha256} of an adapter folder (from ``edgemem_adapter.json`` or the weights)."""
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        raise InputError(f"{adapter_dir} is not a peft adapter folder (no adapter_model.safetensors)")
    digest = sha256_file(weights)
    meta_path = adapter_dir / ADAPTER_INFO
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return {"id": str(meta.get("id") or f"lora-{digest[:12]}"), "sha256": digest}


def merge(base_dir: str | os.PathLike[str], adapter_dir: str | os.PathLike[str],
          out: str | os.PathLike[str], *, overwrite: bool = False) -> BaseInfo:
    """Write base + adapter merged (fp32 safetensors) to ``out``; returns its ``BaseInfo``."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = Path(base_dir)
    adapter = Path(adapter_dir)
    dest = Path(out)
    info = read_info(base)
    ident = adapter_identity(adapter)
    meta_path = adapter / ADAPTER_INFO
    if meta_path.is_file():
        trained_on = json.loads(meta_path.read_text(encoding="utf-8")).get("base", {})
        if trained_on.get("sha256") and trained_on["sha256"] != info.sha256:
            raise InputError(f"adapter {ident['id']} was trained on base {trained_on.get('id')} "
                             f"({trained_on['sha256'][:12]}), not on {info.id} ({info.sha256[:12]})")
    if dest.exists() and any(dest.iterdir()) and not overwrite:
        raise InputError(f"{dest} already exists; pass --overwrite to replace it")
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype="float32")
    try:
        model = PeftModel.from_pretrained(model, str(adapter))
    except (ValueError, KeyError, RuntimeError) as e:
        raise InputError(f"adapter {adapter} does not fit base {base} ({e.__class__.__name__})") from None
    merged = model.merge_and_unload()
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        merged.save_pretrained(str(tmp), safe_serialization=True)
        copy_tokenizer(base, tmp)
        info.adapter = ident
        write_info(tmp, info)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        import errno

        if e.errno == errno.ENOSPC:
            raise EdgememError(f"disk full while writing {dest}; free space and retry") from None
        raise
    return info
