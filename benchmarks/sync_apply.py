"""Device-side sync figures for a real bundle: update sizes, apply and rollback times.

    python benchmarks/sync_apply.py --bundle V1 --base BASE_HF --key VENDOR.key [--adapter ADAPTER]

``V1`` is a bundle built by ``edgemem-export build`` from ``BASE_HF`` and signed with
``VENDOR.key``. Without ``--adapter`` a rank-8 LoRA on all linear layers (peft's default init,
with ``B`` drawn small and non-zero, as after training) is made here: sizes and device times do
not depend on what the adapter learned, and training SmolLM2 on 2 busy cores takes tens of
minutes (``benchmarks/sync_loop.py`` runs the loop with real training). Steps, all timed:

1. host: adapter-only update against V1 (``export.adapter_update.build_update``);
2. host: a full bundle V2 of the same size (V1's files re-signed as version 2: a full update
   ships every file, whatever the weights hold);
3. device (fresh home): install V1; apply V2 (full); roll back; apply the adapter-only update
   (merged on the device); roll back again.

Prints JSON: bytes of each, the ratio (target <= 0.05), every apply's phases and smoke figures,
rollback times (target for an apply: <= 60 s for SmolLM2 here).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def random_adapter(base_hf: Path, out: Path, rank: int = 8, seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base_hf), dtype=torch.float32)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets, lora_dropout=0.0))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 1e-3)
    model.save_pretrained(str(out))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--base", type=Path, required=True)
    ap.add_argument("--key", type=Path, required=True)
    ap.add_argument("--adapter", type=Path)
    ap.add_argument("--work", type=Path)
    args = ap.parse_args(argv)

    from edgemem import bundle, signing_keys
    from edgemem.home import Home
    from edgemem.sync import adapter as adapter_mod
    from edgemem.sync import apply as apply_mod
    from export.adapter_update import build_update

    work = args.work or Path(tempfile.mkdtemp(prefix="edgemem-sync-apply-"))
    vendor = signing_keys.load_private_key(args.key)
    host = Home(work / "host").ensure()
    signing_keys.trust(vendor.public_key(), host)
    fig: dict[str, Any] = {}
    t = time.perf_counter()
    ad = args.adapter or random_adapter(args.base, work / "adapter")
    fig["adapter_make_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    upd = build_update(args.bundle, ad, args.base, work / "update", key=vendor, version=3, home=host)
    fig["adapter_update_build_seconds"] = round(time.perf_counter() - t, 1)
    v2 = work / "v2"
    shutil.copytree(args.bundle, v2)
    m1 = bundle.read_manifest(v2)
    bundle.write(v2, {**{k: v for k, v in m1.data.items() if k not in ("signature", "files")},
                      "version": 2, "parent_version": m1.version}, vendor)
    full = sum(int(e["size"]) for e in bundle.read_manifest(v2).files.values())
    small = sum(int(e["size"]) for e in upd.files.values())
    fig.update(full_bundle_bytes=full, adapter_update_bytes=small, adapter_update_ratio=round(small / full, 5),
               adapter=upd["adapter"], reference_ppl=upd["golden"]["reference_ppl"], max_ppl=upd["golden"]["max_ppl"])

    device = Home(work / "device").ensure()
    signing_keys.trust(vendor.public_key(), device)
    r = apply_mod.apply(args.bundle, device)
    fig["apply_first_install"] = r.to_dict()
    r = apply_mod.apply(v2, device)
    fig["apply_full"] = r.to_dict()
    fig["rollback_after_full"] = apply_mod.rollback(device)
    r = adapter_mod.apply_update(work / "update", device)
    fig["apply_adapter"] = r.to_dict()
    fig["rollback_after_adapter"] = apply_mod.rollback(device)
    print(json.dumps(fig, indent=1))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return fig


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
