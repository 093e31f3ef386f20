"""The outbox: what leaves the device for off-device training, and only with consent.

``write_outbox(home, DIR)`` writes one *package* into DIR (a USB stick, a local share):

* ``<package_id>.box``: the payload, JSON lines sealed to the training host's X25519 key
  (``box``). One line per finished session of a consenting patient, in the toolchain's dialogue
  format (``{"type": "dialogue", "id", "patient", "preference", "messages": [{role, content}]}``),
  and one per long-term memory or session summary (``{"type": "memory" | "summary", ...}``).
* ``<package_id>.json``: the plaintext manifest: package id and the previous package's id, this
  device's random id, counts, the time range covered, the host key id, de-identification counts,
  and the payload's size and sha256. It is the payload's AEAD associated data, so it cannot be
  edited or swapped onto another payload.

Rules, in the order they apply:

1. **Consent.** Only patients whose consent flag is set (``MemoryService.set_consent``) are read
   at all; of the others not one byte is packaged, only their number is counted.
2. **Pseudonyms.** Patient ids become HMAC-SHA256 pseudonyms under a device-local key
   (``sync/outbox.key``): the host can group a patient's sessions across packages without learning
   the id.
3. **De-identification** (default on): every text goes through ``deid.Deidentifier`` with the
   patient's own id as a known identifier. See that module for what it does and does not catch.
4. **Incremental.** A ledger in ``sync/outbox.json`` remembers which sessions and memory versions
   were already packaged (as keyed digests, not ids); a session is packaged once it has ended.
   The ledger is updated only after the package is durably written: a crash in between repeats
   records in the next package (the host de-duplicates by record id), it never loses one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from .. import fsutil
from ..errors import EdgememError, InputError
from ..home import Home
from . import box
from .deid import Deidentifier

FORMAT = "edgemem-outbox/1"
HOST_KEY_NAME = "outbox-host.pub"
LEDGER = "outbox.json"
OUTBOX_KEY = "outbox.key"
ROLE_MAP = {"user": "user", "assistant": "assistant"}  # 'other' speakers and system turns stay home


class OutboxError(EdgememError):
    """The outbox cannot be written (no host key, unwritable folder) or read (wrong key, damaged)."""


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(float(t), timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def manifest_aad(manifest: dict[str, Any]) -> bytes:
    """The bytes the payload is bound to: the manifest without its payload entry."""
    return canonical({k: v for k, v in manifest.items() if k != "payload"})


class _Ledger:
    """Digests of what was already packaged, plus the package chain and this device's id."""

    def __init__(self, home: Home) -> None:
        self.path = home.sync_dir / LEDGER
        self.key_path = home.sync_dir / OUTBOX_KEY
        home.sync_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.data = {}
        except ValueError:
            raise OutboxError(f"{self.path} is corrupt; move it away to start a fresh outbox chain") from None
        self.data.setdefault("device", secrets.token_hex(8))
        self.data.setdefault("sequence", 0)
        self.data.setdefault("last_package", None)
        self.data.setdefault("sent", [])
        self._sent = set(self.data["sent"])
        if self.key_path.exists():
            self.key = bytes.fromhex(self.key_path.read_text(encoding="ascii").strip())
        else:
            self.key = secrets.token_bytes(32)
            fsutil.write_bytes(self.key_path, (self.key.hex() + "\n").encode("ascii"), mode=0o600)

    def _mac(self, *parts: Any) -> str:
        return hmac.new(self.key, canonical(list(parts)), hashlib.sha256).hexdigest()[:24]

    def pseudonym(self, user: str) -> str:
        return "p-" + self._mac("patient", user)[:16]

    def digest(self, *parts: Any) -> str:
        return self._mac("record", *parts)

    def seen(self, digest: str) -> bool:
        return digest in self._sent

    def commit(self, package_id: str, digests: Iterable[str]) -> None:
        self._sent.update(digests)
        self.data["sent"] = sorted(self._sent)
        self.data["sequence"] += 1
        self.data["last_package"] = package_id
        fsutil.write_json(self.path, self.data)


def host_key_path(home: Home) -> Path:
    return home.keys / HOST_KEY_NAME


def pin_host_key(home: Home, public_key_file: str | os.PathLike[str]) -> Path:
    """Store the training host's public key in the home (checked as an X25519 key first)."""
    box.load_public(public_key_file)  # refuse anything that is not an X25519 public key
    target = host_key_path(home.ensure())
    fsutil.write_bytes(target, (Path(public_key_file).read_text(encoding="ascii").strip() + "\n").encode("ascii"), 0o644)
    return target


def _collect(service: Any, ledger: _Ledger, deid: bool) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    records: list[dict[str, Any]] = []
    digests: list[str] = []
    stats: dict[str, Any] = {"patients": 0, "dialogues": 0, "turns": 0, "memories": 0, "summaries": 0,
                             "not_consenting": 0, "open_sessions_deferred": 0}
    times: list[float] = []
    deid_counts: dict[str, int] = {}
    for user in sorted(service.iter_users()):
        if not service.consent(user):
            stats["not_consenting"] += 1
            continue  # nothing of this patient is read, let alone written
        data = service.export(user)
        pseudo = ledger.pseudonym(user)
        scrub = Deidentifier(known=[user]) if deid else None
        clean = (lambda s: scrub(s)) if scrub else (lambda s: s)
        pref = (data.get("profile") or {}).get("preference")
        ended = {s["id"]: s for s in data.get("sessions", []) if s.get("ended") is not None}
        open_ids = {s["id"] for s in data.get("sessions", []) if s.get("ended") is None}
        by_session: dict[str, list[dict[str, Any]]] = {}
        for t in data.get("turns", []):
            by_session.setdefault(t["session"], []).append(t)
        added = 0
        for sid, turns in sorted(by_session.items(), key=lambda kv: min(t["time"] for t in kv[1])):
            if sid in open_ids or sid not in ended:
                stats["open_sessions_deferred"] += sid in open_ids
                continue
            d = ledger.digest("session", user, sid)
            if ledger.seen(d):
                continue
            msgs = [{"role": ROLE_MAP[t["role"]], "content": clean(t["text"])} for t in turns
                    if t["role"] in ROLE_MAP and t["text"].strip()]
            digests.append(d)  # a session with nothing to learn from is still done
            if not any(m["role"] == "assistant" for m in msgs):
                continue
            records.append({"type": "dialogue", "id": d, "patient": pseudo,
                            "preference": pref if pref in ("concise", "detailed", "polite") else None,
                            "messages": msgs, "time": {"start": _iso(turns[0]["time"]), "end": _iso(turns[-1]["time"])}})
            stats["dialogues"] += 1
            stats["turns"] += len(msgs)
            times += [turns[0]["time"], turns[-1]["time"]]
            added += 1
        for kind, items in (("memory", data.get("memories", [])), ("summary", data.get("summaries", []))):
            for m in items:
                if m.get("status", "active") != "active":
                    continue
                d = ledger.digest(kind, user, m["id"], m.get("updated"))
                if ledger.seen(d):
                    continue
                digests.append(d)
                records.append({"type": kind, "id": d, "patient": pseudo, "kind": m.get("kind"),
                                "text": clean(m["text"]), "time": _iso(m.get("updated"))})
                stats["memories" if kind == "memory" else "summaries"] += 1
                if m.get("updated"):
                    times.append(float(m["updated"]))
                added += 1
        stats["patients"] += 1 if added else 0
        if scrub:
            for k, v in scrub.counts.items():
                deid_counts[k] = deid_counts.get(k, 0) + v
    times = [t for t in times if t]
    stats["time_range"] = {"start": _iso(min(times)) if times else None, "end": _iso(max(times)) if times else None}
    stats["deid_counts"] = deid_counts
    return records, digests, stats


def write_outbox(home: Home | None, out_dir: str | os.PathLike[str], *, host_key: str | os.PathLike[str] | None = None,
                 deidentify: bool = True, service: Any = None) -> dict[str, Any]:
    """Write one package of everything new from consenting patients; returns its manifest.

    Returns ``{"empty": True, ...}`` and writes nothing when there is nothing new.
    """
    h = (home or Home.resolve()).ensure()
    key_file = Path(host_key) if host_key else host_key_path(h)
    if not key_file.exists():
        raise OutboxError(f"no training-host key at {key_file}: pass --host-key FILE "
                          f"(made on the host with 'edgemem sync host-keygen')")
    host = box.load_public(key_file)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutboxError(f"cannot write to {out}: {e.strerror}") from None
    own = service is None
    if own:
        from ..memory.service import MemoryService

        service = MemoryService(h, None)
    try:
        ledger = _Ledger(h)
        records, digests, stats = _collect(service, ledger, deidentify)
    finally:
        if own:
            service.close()
    base = {"format": FORMAT, "device": ledger.data["device"], "host_key_id": box.host_key_id(host),
            "previous_package_id": ledger.data["last_package"], "deidentified": deidentify}
    if not records:
        if digests:  # only empty sessions were new: remember them, write nothing
            ledger.data["sent"] = sorted(set(ledger.data["sent"]) | set(digests))
            fsutil.write_json(ledger.path, ledger.data)
        return {**base, "empty": True, "counts": {k: stats[k] for k in ("not_consenting", "open_sessions_deferred")}}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    package_id = f"{stamp}-{ledger.data['device'][:6]}-{ledger.data['sequence'] + 1:05d}"
    manifest: dict[str, Any] = {
        **base,
        "package_id": package_id,
        "sequence": ledger.data["sequence"] + 1,
        "created": _iso(datetime.now(timezone.utc).timestamp()),
        "counts": {k: stats[k] for k in ("patients", "dialogues", "turns", "memories", "summaries",
                                          "not_consenting", "open_sessions_deferred")},
        "time_range": stats["time_range"],
        "deid_counts": stats["deid_counts"],
    }
    payload = b"".join(canonical(r) + b"\n" for r in records)
    sealed = box.seal(payload, host, manifest_aad(manifest))
    manifest["payload"] = {"file": f"{package_id}.box", "size": len(sealed),
                           "sha256": hashlib.sha256(sealed).hexdigest()}
    # Payload first, manifest last: a package without its manifest is ignored by the host.
    fsutil.write_bytes(out / manifest["payload"]["file"], sealed, 0o600)
    fsutil.write_bytes(out / f"{package_id}.json", (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode(), 0o600)
    ledger.commit(package_id, digests)
    from ..privacy import audit

    audit.record(h, "outbox", package=package_id, dialogues=stats["dialogues"], memories=stats["memories"],
                 patients=stats["patients"], deidentified=deidentify)
    return manifest


def read_package(manifest_path: str | os.PathLike[str], host_private: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Open one package with the host's private key: (manifest, records). For the training host."""
    mp = Path(manifest_path)
    try:
        manifest = json.loads(mp.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise OutboxError(f"{mp}: not an outbox manifest ({e})") from None
    if manifest.get("format") != FORMAT:
        raise OutboxError(f"{mp}: not an {FORMAT} manifest")
    pay = manifest.get("payload") or {}
    pfile = mp.parent / str(pay.get("file", ""))
    if "/" in str(pay.get("file", "/")) or not pfile.is_file():
        raise OutboxError(f"{mp}: payload file {pay.get('file')!r} is missing")
    blob = pfile.read_bytes()
    if len(blob) != pay.get("size") or hashlib.sha256(blob).hexdigest() != pay.get("sha256"):
        raise OutboxError(f"{pfile}: payload is truncated or corrupt (size/sha256 differ from the manifest)")
    plain = box.open_sealed(blob, host_private, manifest_aad(manifest))
    records = []
    for n, line in enumerate(plain.decode("utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise InputError(f"{pfile}: record {n} is not JSON") from None
    return manifest, records
