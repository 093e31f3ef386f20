"""Read device outboxes on the training host: decrypt, check, de-duplicate, write dialogue JSONL.

A folder may hold packages from several devices and several trips of the USB stick. Each package
is checked (payload size and sha256, then AES-GCM bound to its manifest, under this host's
private key), packages are read in each device's sequence order, and records seen before (the
device may repeat records after a crash) are dropped by id. A gap in a device's chain (a
package whose ``previous_package_id`` was never seen) is reported, not fatal: the training data
is only smaller.

The dialogues come out in the toolchain's JSONL (``export.dialogues``), so ``edgemem-export
train --from-outbox DIR --host-key KEY`` trains on them like on any other file; memories and
summaries are kept in a side file for inspection, not trained on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemem.errors import InputError
from edgemem.sync import box
from edgemem.sync.outbox import FORMAT, OutboxError, read_package


@dataclass
class OutboxData:
    """Everything read from an outbox folder."""

    dialogues: list[dict[str, Any]] = field(default_factory=list)
    memories: list[dict[str, Any]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    gaps: list[str] = field(default_factory=list)

    def stats(self) -> dict[str, Any]:
        return {"packages": len(self.packages), "dialogues": len(self.dialogues), "memories": len(self.memories),
                "duplicates_dropped": self.duplicates, "chain_gaps": self.gaps,
                "patients": len({d["patient"] for d in self.dialogues})}


def read_outbox(directory: str | os.PathLike[str], host_key: str | os.PathLike[str]) -> OutboxData:
    """Open every package in ``directory`` with the host private key file ``host_key``."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"outbox folder not found: {d}")
    priv = box.load_private(host_key)
    manifests = []
    for p in sorted(d.glob("*.json")):
        try:
            m = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(m, dict) and m.get("format") == FORMAT:
            manifests.append((m.get("device", ""), int(m.get("sequence", 0)), p))
    if not manifests:
        raise InputError(f"{d} holds no outbox packages")
    out = OutboxData()
    seen_ids: set[str] = set()
    seen_packages: set[str] = set()
    for _device, _seq, path in sorted(manifests):
        manifest, records = read_package(path, priv)
        prev = manifest.get("previous_package_id")
        if prev and prev not in seen_packages:
            out.gaps.append(f"{manifest['package_id']} follows {prev}, which is not in {d}")
        seen_packages.add(manifest["package_id"])
        out.packages.append(manifest)
        for r in records:
            if r.get("id") in seen_ids:
                out.duplicates += 1
                continue
            seen_ids.add(r.get("id"))
            (out.dialogues if r.get("type") == "dialogue" else out.memories).append(r)
    return out


def write_training_jsonl(data: OutboxData, out: str | os.PathLike[str]) -> Path:
    """The dialogues as ``export.dialogues`` JSONL (id, patient, preference, messages)."""
    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as f:
        for r in data.dialogues:
            f.write(json.dumps({"id": r["id"], "patient": r.get("patient"), "preference": r.get("preference"),
                                "messages": r["messages"]}, ensure_ascii=False) + "\n")
    return p


def outbox_to_jsonl(directory: str | os.PathLike[str], host_key: str | os.PathLike[str],
                    out: str | os.PathLike[str]) -> dict[str, Any]:
    """Decrypt an outbox folder into a training JSONL file; returns counts."""
    data = read_outbox(directory, host_key)
    if not data.dialogues:
        raise InputError(f"the outbox in {directory} holds no dialogues to train on")
    path = write_training_jsonl(data, out)
    side = path.with_suffix(".memories.jsonl")
    with open(side, "w", encoding="utf-8") as f:
        for r in data.memories:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return {**data.stats(), "jsonl": str(path), "memories_jsonl": str(side)}


__all__ = ["OutboxData", "OutboxError", "read_outbox", "write_training_jsonl", "outbox_to_jsonl"]
