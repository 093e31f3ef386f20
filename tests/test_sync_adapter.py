"""Adapter-only updates: a peft LoRA shipped as megabytes, merged on the device without torch,
inside the quality gate of an off-device float merge of the same adapter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgemem import bundle, keys
from edgemem.home import Home
from edgemem.sync import adapter, apply, slots
from sync_bundles import build_tiny_bundle, tree_digest

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_adapter(hf_dir: Path, out: Path, seed: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(LlamaForCausalLM.from_pretrained(str(hf_dir)),
                           LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, lora_dropout=0.0))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero; a trained adapter has moved it
                p.normal_(0.0, 0.04)
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def case(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from export.base import BaseInfo, write_info
    from export.adapter_update import build_update

    root = tmp_path_factory.mktemp("adapter")
    vendor = keys.generate()
    base_hf = root / "base-hf"
    shutil.copytree(tiny_llama_dir, base_hf)
    write_info(base_hf, BaseInfo(id="tiny-llama", sha256="t" * 64, source="test", family="llama",
                                 special_tokens={"bos": 1, "eos": 2}, chat_template="", stop_token_ids=[2]))
    v1 = build_tiny_bundle(tiny_llama_dir, root / "v1", vendor, version=1)
    host_home = Home(root / "host").ensure()
    updates = {}
    for version, seed in ((2, 1), (3, 2)):
        ad = make_adapter(tiny_llama_dir, root / f"adapter{seed}", seed)
        updates[version] = root / f"update-v{version}"
        build_update(v1, ad, base_hf, updates[version], key=vendor, version=version, home=host_home)
    other = build_tiny_bundle(tiny_llama_dir, root / "other", vendor, version=7, context_length=128)
    foreign = root / "update-foreign"
    build_update(other, root / "adapter1", base_hf, foreign, key=vendor, version=8, home=host_home)
    return {"vendor": vendor, "v1": v1, "updates": updates, "foreign": foreign}


@pytest.fixture
def home(case: dict) -> Home:
    h = Home.resolve(None).ensure()
    keys.trust(case["vendor"].public_key(), h)
    apply.apply(case["v1"], h)
    return h


def test_update_is_small_signed_and_carries_the_gate(case: dict) -> None:
    up = case["updates"][2]
    m = bundle.verify(up, [case["vendor"].public_key()])
    assert m["kind"] == adapter.KIND and set(m.files) == {"lora.npz"}
    assert m["applies_to"]["files"] == adapter.decoder_hashes(case["v1"], bundle.read_manifest(case["v1"]))
    g = m["golden"]
    assert g["max_ppl"] > g["reference_ppl"] and len(g["argmax"]) > 10 and 0 < g["min_agreement"] <= 1
    full = sum(e["size"] for e in bundle.read_manifest(case["v1"]).files.values())
    assert m.files["lora.npz"]["size"] < full  # the SmolLM2 ratio is measured by benchmarks/sync_loop.py


def test_device_merge_lands_inside_the_off_device_gate(home: Home, case: dict) -> None:
    res = adapter.apply_update(case["updates"][2], home)
    assert res.version == 2 and res.previous_version == 1
    assert res.smoke["golden_ppl"] <= res.smoke["max_ppl"]
    assert res.smoke["agreement"] >= res.smoke["min_agreement"]
    active = slots.active_bundle(home)
    m = bundle.verify(active, None, home)  # signed by this device's merge key, trusted here only
    assert m["derived"]["merged_into_version"] == 1 and m["adapter"]["rank"] == 4
    assert m.files["model.onnx.data"]["sha256"] != bundle.read_manifest(case["v1"]).files["model.onnx.data"]["sha256"]
    # The vendor-signed update it came from travels with it and still verifies.
    assert json.loads((active / "adapter" / "update.json").read_text())["signature"]["key_id"] == keys.key_id(case["vendor"].public_key())
    # A device provisioned elsewhere does not trust this device's key.
    with pytest.raises(Exception, match="does not trust"):
        bundle.verify(active, [case["vendor"].public_key()])


def test_second_update_replaces_the_first_adapter(home: Home, case: dict) -> None:
    adapter.apply_update(case["updates"][2], home)
    res = adapter.apply_update(case["updates"][3], home)  # built against v1; the device has v1 + adapter 1
    assert res.version == 3
    assert res.smoke["agreement"] >= res.smoke["min_agreement"]
    assert bundle.verify(slots.active_bundle(home), None, home)["derived"]["merged_into_version"] == 2


def test_update_for_another_bundle_is_refused_untouched(home: Home, case: dict) -> None:
    before = tree_digest(home.bundles)
    with pytest.raises(Exception, match="not on this device"):
        adapter.apply_update(case["foreign"], home)
    assert tree_digest(home.bundles) == before


def test_device_merge_imports_no_torch(home: Home, case: dict) -> None:
    code = (
        "import sys\n"
        "from edgemem.cli.main import run\n"
        f"rc = run(['sync', 'apply', {str(case['updates'][2])!r}])\n"
        "bad = [m for m in ('torch', 'transformers', 'peft', 'optimum') if m in sys.modules]\n"
        "assert rc == 0, rc\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**__import__("os").environ,
                       "EDGEMEM_HOME": str(home.root)})
    assert r.returncode == 0, r.stderr
    assert slots.status(home)["active_version"] == 2


# Production and the device-merge key (issue 18): a production profile refuses bundles signed by
# a key on the device, and a device merge is signed by one. It is served when its vendor-signed
# origin checks out (sync.provenance), and refused when that fails or the profile says "refuse".
def _served(home: Home, bundle_dir: Path | None = None, allow: bool = False, **profile: Any) -> tuple[int, dict]:
    import dataclasses

    import httpx

    from edgemem.profiles import load
    from edgemem.serve.config import ServeConfig
    from edgemem.serve.runtime import Runtime
    from edgemem.serve.server import BackgroundServer, free_port

    prof = dataclasses.replace(load("x86-kiosk"), production=True, **profile)
    # These tiny bundles carry no sentence embedder: the server runs without a memory here (what
    # is under test is which bundle the engine may load).
    rt = Runtime(home, ServeConfig(port=free_port(), allow_device_signed=allow), prof, bundle=bundle_dir,
                 memory_opener=lambda *a: None)
    with BackgroundServer(rt) as url:
        r = httpx.get(url + "/readyz", timeout=10)
        return r.status_code, r.json()


def _forged(home: Home, tmp: Path, change: Any) -> Path:
    """A copy of the active merged bundle, changed by ``change(folder)`` and re-signed with the
    device's merge key: what someone who can read the device's files can make."""
    src = slots.active_bundle(home)
    dst = tmp / "forged"
    shutil.copytree(src, dst)
    data = {k: v for k, v in bundle.read_manifest(dst).data.items() if k not in ("signature", "files")}
    change(dst)
    bundle.write(dst, data, adapter.device_key(home))
    return dst


def test_production_serves_a_device_merge_whose_vendor_origin_checks_out(home: Home, case: dict) -> None:
    adapter.apply_update(case["updates"][2], home)
    status, ready = _served(home)
    assert status == 200, ready["reason"]
    merge = ready["bundle"]["device_merge"]
    vendor = keys.key_id(case["vendor"].public_key())
    assert merge["base_key_id"] == vendor and merge["update_key_id"] == vendor and merge["base_version"] == 1
    assert merge["golden"]["agreement"] >= 0.5
    adapter.apply_update(case["updates"][3], home)  # merged over the first merge: the base is kept
    status, ready = _served(home)
    assert status == 200, ready["reason"]
    assert ready["bundle"]["device_merge"]["update_version"] == 3


def test_production_refuses_a_device_signed_bundle_whose_origin_does_not_check_out(
        home: Home, case: dict, tmp_path: Path) -> None:
    adapter.apply_update(case["updates"][2], home)

    def tokenizer(folder: Path) -> None:  # any file but the decoder: care cards, tokenizer, rules
        path = folder / "tokenizer.json"
        path.write_text(path.read_text(encoding="utf-8") + " ", encoding="utf-8")

    status, ready = _served(home, _forged(home, tmp_path / "a", tokenizer))
    assert status == 503 and "tokenizer.json is not the vendor's" in ready["reason"], ready["reason"]
    status, ready = _served(home, _forged(home, tmp_path / "b", lambda f: (f / "adapter" / "base.json").unlink()))
    assert status == 503 and "does not keep the vendor-signed manifest" in ready["reason"], ready["reason"]

    def lora(folder: Path) -> None:  # another adapter than the one the vendor signed
        path = folder / "adapter" / "lora.npz"
        path.write_bytes(path.read_bytes() + b"\0")

    status, ready = _served(home, _forged(home, tmp_path / "c", lora))
    assert status == 503 and "lora.npz is not the one the vendor signed" in ready["reason"], ready["reason"]
    # The genuine merge, under a clinic that refuses every device merge.
    status, ready = _served(home, device_merges="refuse")
    assert status == 503 and 'device_merges = "refuse"' in ready["reason"]
    # The vendor's key copied onto the device: its signatures prove nothing here any more.
    copied = keys.save_keypair(case["vendor"], home.keys / "vendor-copy.key")
    status, ready = _served(home)
    assert status == 503 and "trusts no signing key whose private half is off" in ready["reason"], ready["reason"]
    for path in copied:
        path.unlink()
    # --allow-device-signed: a development set-up serves even the forged one.
    status, _ = _served(home, _forged(home, tmp_path / "d", tokenizer), allow=True)
    assert status == 200
