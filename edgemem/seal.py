"""A sealed record of a verified bundle folder: full verification once, a cheap re-check at start.

Why: ``bundle.verify`` hashes every byte (220 MB for the int4 kiosk bundle) and checks an ed25519
signature, on every start. A kiosk starts far more often than its bundle changes. So when a full
verification succeeds, the device writes a *seal*: what it saw of each file (size, mtime, ctime,
inode, and a BLAKE2b digest of every 1 MiB block), the manifest's digest and the signing key's
trust file, authenticated with a device-local key (keyed BLAKE2b, ``keys/seal.key``, 0600). At
start, ``check`` re-reads the seal and accepts the bundle when:

* the seal's MAC is right (nobody without the device key wrote it) and it names this folder;
* ``manifest.json`` is byte-for-byte the one verified, and the key that signed it is still
  trusted (its ``keys/trusted/<key_id>.pub`` file unchanged);
* the folder holds exactly the listed files, and each one's size, mtime, ctime and inode are the
  ones sealed — any write to a file changes its ctime, which no user-space call can set back;
* a random sample of blocks of every file (and all blocks of small files) hash as sealed.

Anything else returns None and the caller runs the full verification, which refuses a tampered
file before it is used, exactly as before. The sample is a second line against writes that
bypass the file system (a raw block device); the stat check is the first.
Stdlib only, and no OpenSSL: ``_blake2`` is CPython's own (``import hashlib`` would map
OpenSSL's 3.4 MB into the engine's RSS).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from .bundle import Manifest
    from .home import Home

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other Pythons
    from hashlib import blake2b

BLOCK = 1 << 20
SAMPLES_PER_FILE = 4  # random blocks per file on top of the first and the last
SEAL_VERSION = 1


def _seal_key(home: "Home", create: bool) -> bytes | None:
    path = home.keys / "seal.key"
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except OSError:
        pass
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    os.replace(tmp, path)
    return key


def record_path(home: "Home", root: Path) -> Path:
    name = blake2b(str(root.resolve()).encode(), digest_size=16).hexdigest()
    return home.root / "sealed" / f"{name}.json"


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _mac(key: bytes, body: Mapping[str, Any]) -> str:
    return blake2b(_canonical(body), key=key, digest_size=32).hexdigest()


def _stat(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "ino": st.st_ino}


class BlockHasher:
    """Digests of each ``BLOCK`` of a stream, fed in any chunk sizes (the verifier's pass)."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._h = blake2b(digest_size=16)
        self._fill = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(BLOCK - self._fill, len(view))
            self._h.update(view[:take])
            self._fill += take
            view = view[take:]
            if self._fill == BLOCK:
                self.blocks.append(self._h.hexdigest())
                self._h, self._fill = blake2b(digest_size=16), 0

    def finish(self) -> list[str]:
        if self._fill or not self.blocks:
            self.blocks.append(self._h.hexdigest())
            self._h, self._fill = blake2b(digest_size=16), 0
        return self.blocks


def write(root: Path, manifest_raw: bytes, data: Mapping[str, Any], blocks: Mapping[str, list[str]],
          stats: Mapping[str, dict[str, int]], home: "Home") -> Path | None:
    """Seal a folder that was just verified in full (``bundle._verify_folder``); None if the home
    cannot be written (a read-only home: the device then verifies in full at every start)."""
    key = _seal_key(home, create=True)
    if key is None:
        return None
    kid = str(data["signature"]["key_id"])
    try:
        trust = (home.trusted_keys / f"{kid}.pub").read_bytes()
    except OSError:
        return None  # trusted under another file name: nothing stable to re-check at start
    body = {"version": SEAL_VERSION, "path": str(root.resolve()), "block": BLOCK,
            "manifest": blake2b(manifest_raw, digest_size=32).hexdigest(),
            "key_id": kid, "trust": blake2b(trust, digest_size=32).hexdigest(),
            "files": {rel: {**stats[rel], "blocks": blocks[rel]} for rel in sorted(blocks)}}
    out = record_path(home, root)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(_canonical({**body, "mac": _mac(key, body)}))
        os.replace(tmp, out)
    except OSError:
        return None
    return out


def _sample(n_blocks: int, rng: secrets.SystemRandom) -> list[int]:
    if n_blocks <= SAMPLES_PER_FILE + 2:
        return list(range(n_blocks))
    picks = {0, n_blocks - 1, *rng.sample(range(1, n_blocks - 1), SAMPLES_PER_FILE)}
    return sorted(picks)


def check(root: Path, home: "Home") -> "Manifest | None":
    """The verified manifest if the folder is exactly what was sealed, else None (verify in full)."""
    from .bundle import MANIFEST, Manifest, _parse_manifest, _walk
    from .errors import BundleError

    key = _seal_key(home, create=False)
    if key is None:
        return None
    try:
        rec = json.loads(record_path(home, root).read_bytes())
        body = {k: v for k, v in rec.items() if k != "mac"}
        if not secrets.compare_digest(str(rec.get("mac", "")), _mac(key, body)):
            return None
        if body.get("version") != SEAL_VERSION or body.get("path") != str(root.resolve()):
            return None
        raw = (root / MANIFEST).read_bytes()
        if blake2b(raw, digest_size=32).hexdigest() != body["manifest"]:
            return None
        trust = (home.trusted_keys / f"{body['key_id']}.pub").read_bytes()
        if blake2b(trust, digest_size=32).hexdigest() != body["trust"]:
            return None
        data = _parse_manifest(raw, str(root))
        files: dict[str, Any] = body["files"]
        if set(files) != set(data["files"]) or set(_walk(root)) != set(files):
            return None
        rng = secrets.SystemRandom()
        for rel, sealed in files.items():
            path = root / rel
            st = _stat(path)
            if any(st[k] != sealed[k] for k in ("size", "mtime_ns", "ctime_ns", "ino")):
                return None
            if st["size"] != data["files"][rel]["size"]:
                return None
            with open(path, "rb") as f:
                for i in _sample(len(sealed["blocks"]), rng):
                    f.seek(i * BLOCK)
                    if blake2b(f.read(BLOCK), digest_size=16).hexdigest() != sealed["blocks"][i]:
                        return None
    except (OSError, ValueError, KeyError, TypeError, BundleError):
        return None
    return Manifest(data, root)


def rebind(old: Path, new: Path, home: "Home") -> bool:
    """Carry a folder's seal to where the folder was renamed (a staged slot being installed:
    ``os.replace`` keeps every file's inode and times). The next ``check`` re-validates it all."""
    key = _seal_key(home, create=False)
    if key is None:
        return False
    try:
        rec = json.loads(record_path(home, old).read_bytes())
        body = {k: v for k, v in rec.items() if k != "mac"}
        if not secrets.compare_digest(str(rec.get("mac", "")), _mac(key, body)) or body.get("path") != str(old.resolve()):
            return False
        body["path"] = str(new.resolve())
        out = record_path(home, new)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(_canonical({**body, "mac": _mac(key, body)}))
        os.replace(tmp, out)
        record_path(home, old).unlink()
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def forget(root: Path, home: "Home") -> None:
    """Drop a folder's seal (its slot is being replaced)."""
    try:
        record_path(home, root).unlink()
    except OSError:
        pass
