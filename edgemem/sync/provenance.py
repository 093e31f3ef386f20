"""Whether a production device may serve a bundle it merged itself from vendor-signed parts.

``[serve] production = true`` refuses bundles signed by a key whose private half is on the device:
whoever can read the device can sign with it. An adapter-only update (``sync.adapter``) is merged
on the device and re-signed with ``keys/device-merge.key``, so without more, production would
refuse every adapter update, the very thing that keeps updates small on a clinic's slow link.

What a clinic wants from production is: nothing runs that the vendor did not sign. A merged
bundle can show most of that, and this module checks it (``check_device_merge``):

- ``adapter/update.json`` is the vendor-signed adapter update, verified against a trusted key
  whose private half is *not* on the device; the merged ``adapter/lora.npz`` is its ``lora.npz``;
- ``adapter/base.json`` is the vendor-signed manifest of the full bundle it was merged into
  (kept verbatim since this change), verified the same way, and the update was built for it;
- every other file (tokenizer, care cards, triage classifier, embedder) has the vendor's hash
  from that base manifest, the decoder files keep their sizes, no file was added, and the
  manifest's settings (model, io, profile, quantization, safety...) are the base's, with the
  version, golden text and adapter facts of the update;
- after loading, the merged decoder is scored on the update's golden text and must land inside
  its vendor-signed gate (perplexity and greedy agreement: ``golden_gate``).

What it cannot show: that the decoder's weights are exactly base + the adapter. A bit-exact
re-merge needs the base's decoder bytes, which the merge replaced (the other A/B slot holds them
only until the next update). So someone who can read ``device-merge.key`` could still plant
weights that pass the golden gate; the care cards, the safety rules and the tokenizer they
cannot change. ``[serve] device_merges = "refuse"`` is for a clinic that will not accept that:
then only full vendor-signed bundles run (docs/privacy.md section 9).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from ..bundle import Manifest, check_signature, read_manifest
from ..errors import BundleError
from .adapter import ADAPTER_DIR, DECODER_FILES, KIND, LORA_FILE

UPDATE_FILE = "update.json"
BASE_FILE = "base.json"
DEVICE_MERGE_MODES = ("verified", "refuse")
# Manifest keys a device merge sets itself; every other key must be the base bundle's.
MERGE_SETS = frozenset({"signature", "files", "created", "derived", "version", "parent_version", "adapter",
                        "golden", "quality"})
OWN_FILES = {f"{ADAPTER_DIR}/{LORA_FILE}", f"{ADAPTER_DIR}/{UPDATE_FILE}", f"{ADAPTER_DIR}/{BASE_FILE}"}


def _signed(folder: Path, name: str, vendor_keys: Mapping[str, Any], what: str) -> dict[str, Any]:
    path = folder / ADAPTER_DIR / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"it does not keep the vendor-signed manifest of {what} ({ADAPTER_DIR}/{name}; "
                          f"merged before this check existed: apply the adapter update again)") from None
    except (OSError, ValueError) as e:
        raise BundleError(f"{ADAPTER_DIR}/{name} is unreadable ({type(e).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise BundleError(f"{ADAPTER_DIR}/{name} is not a bundle manifest")
    if not vendor_keys:
        raise BundleError(f"{what}: this device trusts no signing key whose private half is off the device")
    try:
        check_signature(data, vendor_keys, where=what)
    except BundleError as e:
        raise BundleError(f"{e} (only keys whose private half is off the device count here)") from None
    return data


def check_device_merge(folder: Path, vendor_keys: Mapping[str, Any]) -> dict[str, Any]:
    """Raise ``BundleError`` (one line) unless ``folder`` is a device merge of a vendor-signed base
    and a vendor-signed adapter update; returns what it was made from.

    ``vendor_keys``: the trusted keys whose private half is not on this device. The merged
    manifest itself is read here unverified: loading the bundle then verifies it, and its files,
    against the device's merge key."""
    merged = read_manifest(folder)
    derived = merged.get("derived")
    if not isinstance(derived, dict):
        raise BundleError("it is not an on-device merge of an adapter update")
    update = _signed(folder, UPDATE_FILE, vendor_keys, "the adapter update it was merged from")
    base = _signed(folder, BASE_FILE, vendor_keys, "the base bundle it was merged into")
    if update.get("kind") != KIND or not isinstance(update.get("applies_to"), dict):
        raise BundleError(f"{ADAPTER_DIR}/{UPDATE_FILE} is not an adapter-only update")
    base_decoder = {f: base["files"][f]["sha256"] for f in DECODER_FILES if f in base["files"]}
    if not base_decoder or update["applies_to"].get("files") != base_decoder or derived.get("base_files") != base_decoder:
        raise BundleError("the adapter update was not built for the base bundle it records")
    files = merged.files
    lora = files.get(f"{ADAPTER_DIR}/{LORA_FILE}", {}).get("sha256")
    if lora is None or lora != (update["files"].get(LORA_FILE) or {}).get("sha256"):
        raise BundleError(f"its {ADAPTER_DIR}/{LORA_FILE} is not the one the vendor signed")
    base_files = {rel: e for rel, e in base["files"].items() if not rel.startswith(ADAPTER_DIR + "/")}
    extra = sorted(set(files) - set(base_files) - OWN_FILES)
    missing = sorted(set(base_files) - set(files))
    if extra or missing:
        raise BundleError(f"its files differ from the vendor's base: {', '.join(extra + missing)[:200]}")
    for rel, entry in sorted(base_files.items()):
        if rel in DECODER_FILES:
            if files[rel].get("size") != entry.get("size"):
                raise BundleError(f"its {rel} does not have the base's size (a merge keeps every tensor's shape)")
        elif files[rel].get("sha256") != entry.get("sha256"):
            raise BundleError(f"its {rel} is not the vendor's (a device merge changes only the decoder)")
    for key in sorted(set(base) | set(merged.data)):
        if key not in MERGE_SETS and base.get(key) != merged.data.get(key):
            raise BundleError(f"its manifest's {key!r} differs from the vendor's base")
    if merged.get("golden") != update.get("golden") or merged.get("version") != update.get("version"):
        raise BundleError("its version or golden text is not the adapter update's")
    return {"base_version": base.get("version"), "update_version": update.get("version"),
            "base_key_id": base["signature"].get("key_id"), "update_key_id": update["signature"].get("key_id")}


def golden_gate(folder: Path, model: Any) -> dict[str, Any]:
    """Score the loaded merged decoder on the update's vendor-signed golden text: perplexity within
    ``max_ppl`` and greedy agreement at least ``min_agreement`` (the apply smoke test's gate)."""
    from .smoke import golden_check

    manifest: Manifest = read_manifest(folder)
    got = golden_check(folder, manifest, model=model)
    golden = manifest.golden or {}
    if got is None:
        raise BundleError("it has no golden text to check the merged decoder against")
    ppl = got["golden_ppl"]
    if not math.isfinite(ppl) or ppl > float(golden["max_ppl"]):
        raise BundleError(f"the merged decoder's golden-text perplexity {ppl:.3f} exceeds the vendor's "
                          f"limit {float(golden['max_ppl']):.3f}")
    need = float(golden.get("min_agreement", 0.9))
    if "agreement" in got and got["agreement"] < need:
        raise BundleError(f"the merged decoder agrees with the vendor's build on {got['agreement']:.3f} "
                          f"of the golden text, below {need:.3f}")
    return got

