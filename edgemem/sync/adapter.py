"""Adapter-only updates: ship megabytes of signed LoRA weights instead of a whole bundle.

A full bundle for SmolLM2 is a few hundred MB; a LoRA adapter for it is a few MB. Over a USB
stick that hardly matters, over a clinic's slow share or a metered link it does. An adapter-only
update is a signed folder (or ``.tar``) in the bundle format (so ``edgemem.bundle.verify`` checks
its signature and hashes) whose manifest says ``"kind": "adapter-update"`` and holds:

* ``lora.npz``: per targeted HF weight ``W``, ``<name>|A`` [r, in], ``<name>|B`` [out, r] (float16)
  and ``<name>|scale``;
* ``applies_to``: the sha256 of the decoder files (``model.onnx``, ``model.onnx.data``) of the
  bundle it was built against, and that bundle's version;
* ``golden``: the quality gate measured off-device on a build of the *same adapter merged in
  float and quantized there*: ``max_ppl`` on the golden text and that build's greedy ``argmax``
  over it, with ``min_agreement``.

On the device (no torch): verify the update, find the bundle it applies to (the active one, or one
that was itself made from that bundle by an earlier adapter update, whose adapter is then
subtracted in the same pass), copy it into the staging slot, merge (``merge.merge_into``), and
write a new manifest. The device cannot sign with the vendor's key, so the merged bundle is signed
with a device-local key (``keys/device-merge.key``, trusted by this home only) and records the
vendor-signed update it came from (``adapter/update.json``, kept verbatim and re-verifiable) and
the vendor-signed manifest of the base it was merged into (``adapter/base.json``), so that a
production profile can check where it came from (``sync.provenance``).
Then the normal apply path runs: smoke test (golden perplexity and greedy agreement inside the
off-device gate), atomic switch, boot counter, rollback.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import MANIFEST, Manifest, read_manifest, sha256_file, verify
from ..errors import BundleError
from ..home import Home

KIND = "adapter-update"
LORA_FILE = "lora.npz"
DECODER_FILES = ("model.onnx", "model.onnx.data")
DEVICE_KEY = "device-merge.key"
ADAPTER_DIR = "adapter"


def is_adapter_update(path: str | os.PathLike[str]) -> bool:
    """True for an adapter-only update (decided from its manifest, which apply then verifies)."""
    try:
        return read_manifest(Path(path)).get("kind") == KIND
    except BundleError:
        return False


def decoder_hashes(folder: Path, manifest: Manifest | None = None) -> dict[str, str]:
    """sha256 of a bundle's decoder files (from its verified manifest when given)."""
    if manifest is not None:
        return {f: manifest.files[f]["sha256"] for f in DECODER_FILES if f in manifest.files}
    return {f: sha256_file(folder / f) for f in DECODER_FILES if (folder / f).exists()}


def load_lora(path: Path) -> dict[str, "Any"]:
    """``lora.npz`` -> {HF weight name: LoraWeight}; refuses pickles and malformed entries."""
    from .merge import LoraWeight

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise BundleError(f"{path.name} is not a LoRA weights file ({e})") from None
    names = sorted({k.rsplit("|", 1)[0] for k in arrays})
    out = {}
    for n in names:
        try:
            out[n] = LoraWeight(a=arrays[f"{n}|A"], b=arrays[f"{n}|B"], scale=float(arrays[f"{n}|scale"]))
        except KeyError as e:
            raise BundleError(f"{path.name}: entry {n!r} lacks {e}") from None
    if not out:
        raise BundleError(f"{path.name} holds no LoRA weights")
    return out


def save_lora(path: Path, lora: dict[str, Any], dtype: Any = np.float16) -> None:
    """Write ``lora.npz`` (toolchain side; here so both sides share the format)."""
    arrays = {}
    for n, lw in lora.items():
        arrays[f"{n}|A"] = np.asarray(lw.a, dtype=dtype)
        arrays[f"{n}|B"] = np.asarray(lw.b, dtype=dtype)
        arrays[f"{n}|scale"] = np.asarray(lw.scale, dtype=np.float32)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def device_key(home: Home) -> Any:
    """The key this device signs its own merged bundles with (created and trusted on first use)."""
    from .. import keys

    path = home.keys / DEVICE_KEY
    if path.exists():
        key = keys.load_private_key(path)
    else:
        key = keys.generate()
        keys.save_keypair(key, path)
    keys.trust(key.public_key(), home)
    return key


def _find_base(home: Home, update: Manifest) -> tuple[Path, Manifest, dict[str, Any] | None]:
    """The bundle the update merges into, and the earlier adapter to subtract (or None)."""
    from . import slots

    want = update["applies_to"]["files"]
    st = slots.load_state(home)
    # The active slot first; the other one may hold the base too (apply has already released it
    # in the state file, but its folder stays intact until the staged copy replaces it).
    for slot in sorted(slots.SLOTS, key=lambda s: s != st.active):
        folder = slots.slot_path(home, slot)
        try:
            m = read_manifest(folder)
        except BundleError:
            continue
        derived = m.get("derived") or {}
        if decoder_hashes(folder, m) == want:
            derived = None
        elif not (derived.get("base_files") == want and (folder / ADAPTER_DIR / LORA_FILE).is_file()):
            continue
        try:
            m = verify(folder, None, home)  # the merge reads these bytes: they must be intact
        except BundleError:
            continue
        return folder, m, derived
    active = st.version_of(st.active)
    raise BundleError(f"adapter update was built for bundle version {update['applies_to'].get('version')}, "
                      f"which is not on this device (active version {active}); apply a full bundle instead")


def _check_update(update: Manifest, base: Manifest) -> None:
    for what, a, b in (("base model", (update.get("base") or {}).get("sha256"), (base.get("base") or {}).get("sha256")),
                       ("tokenizer", update.get("tokenizer_sha256"), base.get("tokenizer_sha256")),
                       ("quantization", update.get("quantization"), base.get("quantization"))):
        if a != b:
            raise BundleError(f"incompatible adapter update: its {what} differs from the bundle it applies to")
    g = update.get("golden") or {}
    if not g.get("text") or "max_ppl" not in g:
        raise BundleError("adapter update has no golden-text quality gate; refusing to merge blind")


def make_installer(update_path: Path, update: Manifest) -> Any:
    """The ``installer`` hook for ``apply.apply``: builds the merged bundle in the staging folder."""

    def install(home: Home, staging: Path, current: Manifest | None) -> Manifest:
        from .. import bundle as bundle_mod
        from .apply import point
        from .merge import LoraWeight, merge_into

        from .apply import _bundle_bytes, check_disk

        base_dir, base, derived = _find_base(home, update)
        _check_update(update, base)
        check_disk(home, _bundle_bytes(base))
        # The update's own files, from a verified copy (an archive is unpacked to a temp folder).
        with tempfile.TemporaryDirectory(dir=home.slots, prefix=".staging-update-") as tmp:
            src = update_path
            if not src.is_dir():
                src = Path(tmp) / "u"
                bundle_mod.extract(update_path, src, home=home)
            lora = load_lora(src / LORA_FILE)
            pairs: dict[str, list[Any]] = {n: [lw] for n, lw in lora.items()}
            if derived is not None:
                for n, lw in load_lora(base_dir / ADAPTER_DIR / LORA_FILE).items():
                    pairs.setdefault(n, []).append(LoraWeight(lw.a, lw.b, -lw.scale))
            staging.mkdir(parents=True, exist_ok=True)
            for rel in sorted(base.files):
                if rel.startswith(ADAPTER_DIR + "/"):
                    continue
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(base_dir / rel, staging / rel)
                point("copy-file")
            merged = merge_into(staging, base.io, pairs)
            point("merged")
            (staging / ADAPTER_DIR).mkdir(exist_ok=True)
            shutil.copyfile(src / LORA_FILE, staging / ADAPTER_DIR / LORA_FILE)
            (staging / ADAPTER_DIR / "update.json").write_bytes((src / MANIFEST).read_bytes())
            # The vendor-signed manifest of the full bundle under the merge (for a merge over an
            # earlier merge, the one that merge kept): what lets a production device accept the
            # result (sync.provenance).
            vendor_base = base_dir / (ADAPTER_DIR + "/base.json" if derived is not None else MANIFEST)
            if vendor_base.is_file():
                shutil.copyfile(vendor_base, staging / ADAPTER_DIR / "base.json")
        data = {k: v for k, v in base.data.items() if k not in ("signature", "files", "created", "derived")}
        data.update(
            version=update.version,
            parent_version=base.version,
            adapter=dict(update.get("adapter") or {}),
            golden=dict(update["golden"]),
            quality={**(update.get("quality") or {}), "merged_on_device": True},
            derived={"base_files": update["applies_to"]["files"], "from_version": update["applies_to"].get("version"),
                     "merged_into_version": base.version, "update_key_id": update.key_id,
                     "update_sha256": sha256_file(staging / ADAPTER_DIR / "update.json"),
                     "merged": merged},
        )
        bundle_mod.write(staging, data, device_key(home))
        return verify(staging, None, home)

    return install


def apply_update(update_path: str | os.PathLike[str], home: Home | None = None, *,
                 allow_downgrade: bool = False, extra_keys: Any = None, smoke: bool = True) -> Any:
    """Verify an adapter-only update and apply it through the A/B path (see module docstring)."""
    from .apply import _trusted_keys, apply

    h = (home or Home.resolve()).ensure()
    path = Path(update_path)
    update = verify(path, _trusted_keys(h, extra_keys), h)
    if update.get("kind") != KIND:
        raise BundleError(f"{path} is not an adapter-only update")
    if not isinstance(update.get("applies_to"), dict) or not isinstance(update["applies_to"].get("files"), dict):
        raise BundleError(f"{path}: adapter update does not say which bundle it applies to")
    if LORA_FILE not in update.files:
        raise BundleError(f"{path}: adapter update carries no {LORA_FILE}")
    return apply(path, h, allow_downgrade=allow_downgrade, smoke=smoke,
                 installer=make_installer(path, update), kind="adapter")
