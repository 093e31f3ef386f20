"""The at-rest data key: where it comes from, how it is checked, how it is rotated.

Two ways to hold the 256-bit key that ``DataKey`` (AES-GCM + blinded tokens) uses:

* **key file** (default): ``keys/data.key``, 32 random bytes, mode 0600, created on first use. It
  protects against a disk or SD card taken out of the device, not against someone with a shell
  on it (they can read the file, as the runtime must).
* **passphrase**: the key is derived with scrypt (n=2**15, r=8, p=1, a random 16-byte salt stored
  in ``keys/keyinfo.json``) from a passphrase given at start (``EDGEMEM_PASSPHRASE`` or a prompt);
  nothing on disk opens the data.

``keys/keyinfo.json`` records the mode, the KDF parameters and the key id (4 bytes of a hash of
the key, also written into every ciphertext header and into the database). A wrong key file or a
wrong passphrase is detected before any data is touched and reported as one line
(``KeyMismatchError``), never as garbage or an authentication failure deep in a query.

**Rotation** re-encrypts everything under a new key through a ``reencrypt`` callback the caller
gives (``edgemem.memory.service.reencrypt_home``: SQLite rows, blinded FTS tokens, short-term rings,
vector index files). The key module sits below the memory and never imports it; the CLI and the
memory's own default codec compose the two. It is crash-safe: the new key is first
written, wrapped under the old key, to ``keys/rotation.pending``; then the data are re-encrypted
(the database in one transaction); then ``data.key``/``keyinfo.json`` are replaced atomically and
the pending file removed. If power fails in between, the next load sees the pending file, opens the
data with whichever of the two keys they are under (``KeyRing``) and finishes the rotation. After
a rotation the old key opens nothing.

Stop the server before rotating: the rotation needs the database to itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .. import fsutil
from ..errors import EdgememError
from ..home import Home
from .audit import record as audit_record
from .cipher import MAGIC, DataKey, KeyMismatchError

KEY_FILE = "data.key"
INFO_FILE = "keyinfo.json"
PENDING_FILE = "rotation.pending"
PASSPHRASE_ENV = "EDGEMEM_PASSPHRASE"
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}
_WRAP_AAD = b"edgemem/rotation-pending/v1"


# Re-encrypt every patient datum under ``home`` from the old key to the new one: called with
# (home, new, old) only when the memory database exists; must be idempotent (a crash mid-way is
# finished by calling it again with the same keys).
Reencrypt = Callable[[Home, DataKey, DataKey], None]


class DataKeyError(EdgememError):
    """The data key is missing, unreadable, or needs a passphrase that was not given."""


def _home(home: Home | str | os.PathLike[str] | None) -> Home:
    return home if isinstance(home, Home) else Home.resolve(home)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600 (``edgemem.fsutil``), creating ``keys/``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_bytes(path, data, 0o600)


def derive(passphrase: str, salt: bytes, n: int = SCRYPT["n"], r: int = SCRYPT["r"], p: int = SCRYPT["p"]) -> bytes:
    """scrypt(passphrase, salt) -> 32 bytes. Memory-hard, so guessing passphrases stays slow."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if not passphrase:
        raise DataKeyError("the passphrase must not be empty")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


class KeyRing:
    """A codec that encrypts and blinds under ``primary`` and decrypts under any of its keys.

    Used only while a rotation is being finished after a crash, when some files may still be
    under the old key. Implements ``edgemem.privacy.cipher.Codec``.
    """

    def __init__(self, primary: DataKey, *others: DataKey) -> None:
        self.primary = primary
        self.key_id = primary.key_id
        self._by_id = {k.key_id: k for k in (primary, *others)}
        self.key_ids = tuple(self._by_id)  # the store accepts a database under any of them

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        return self.primary.encrypt(plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        key = self._by_id.get(bytes(blob[3:7])) if bytes(blob[:3]) == MAGIC else None
        return (key or self.primary).decrypt(blob, aad)

    def blind(self, token: str) -> str:
        return self.primary.blind(token)


# -- reading the key -------------------------------------------------------------------------
def _info(home: Home) -> dict[str, Any] | None:
    path = home.keys / INFO_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        raise DataKeyError(f"{path} is corrupt: restore it from a backup (the data cannot be opened without it)") from None
    if not isinstance(info, dict) or info.get("mode") not in ("file", "passphrase"):
        raise DataKeyError(f"{path} is corrupt: unknown key mode")
    return info


def _read_key_file(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataKeyError(f"data key file {path} is missing: restore it, or the encrypted data cannot be read") from None
    except PermissionError:
        raise DataKeyError(f"data key file {path} is not readable by this user") from None
    if len(raw) == 32:
        return raw
    text = raw.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            pass
    raise DataKeyError(f"data key file {path} is corrupt: expected 32 bytes (or 64 hex digits)")


def _db_key_id(home: Home) -> bytes | None:
    """The key id the memory database says its rows are under (None: no database yet)."""
    if not home.db_path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{home.db_path}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key='key_id'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    try:
        return bytes.fromhex(row[0]) if row and row[0] else None
    except ValueError:
        return None


def _passphrase(given: str | None, prompt: Callable[[], str] | None) -> str:
    if given:
        return given
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if prompt is not None:
        return prompt()
    raise DataKeyError(f"this device's data are protected by a passphrase: set {PASSPHRASE_ENV} or enter it when asked")


def _key_from_info(home: Home, info: dict[str, Any], passphrase: str | None,
                   prompt: Callable[[], str] | None) -> DataKey:
    if info["mode"] == "file":
        key = DataKey(_read_key_file(home.keys / KEY_FILE))
        if key.key_id.hex() != info.get("key_id"):
            raise KeyMismatchError(f"{home.keys / KEY_FILE} is not this device's data key (key id "
                                   f"{key.key_id.hex()}, expected {info.get('key_id')}): wrong key file")
        return key
    kdf = info.get("kdf") or {}
    try:
        salt = bytes.fromhex(kdf["salt"])
        params = {k: int(kdf[k]) for k in ("n", "r", "p")}
    except (KeyError, ValueError, TypeError):
        raise DataKeyError(f"{home.keys / INFO_FILE} is corrupt: bad scrypt parameters") from None
    key = DataKey(derive(_passphrase(passphrase, prompt), salt, **params))
    if key.key_id.hex() != info.get("key_id"):
        raise KeyMismatchError("wrong passphrase for this device's data")
    return key


def load_data_codec(home: Home | str | os.PathLike[str] | None = None, passphrase: str | None = None,
                    prompt: Callable[[], str] | None = None, *, create: bool = True,
                    reencrypt: Reencrypt | None = None) -> DataKey:
    """The device's data key, checked; created (key-file mode) on first use if ``create``.

    Finishes an interrupted rotation first, with ``reencrypt`` where the data still need it
    (without one that is a ``DataKeyError``: open the memory, whose default codec gives it). Raises ``KeyMismatchError`` for a wrong key file or
    passphrase, ``DataKeyError`` for a missing/corrupt key or a missing passphrase.
    """
    h = _home(home)
    info = _info(h)
    if info is None:
        if (h.keys / KEY_FILE).exists():
            # A key file written before keyinfo.json existed (by an older memory fallback).
            key = DataKey(_read_key_file(h.keys / KEY_FILE))
            db_id = _db_key_id(h)
            if db_id is not None and db_id != key.key_id:
                raise KeyMismatchError(f"{h.keys / KEY_FILE} is not the key the memory database was written with: wrong key file")
            _write_info(h, {"mode": "file", "key_id": key.key_id.hex(), "created": _now(), "rotated": None})
            return key
        if not create:
            raise DataKeyError("no data key on this device yet: run 'edgemem privacy key init'")
        return init_key(h, passphrase=passphrase or os.environ.get(PASSPHRASE_ENV) or None)
    if (h.keys / PENDING_FILE).exists():
        return _resume_rotation(h, info, passphrase, prompt, reencrypt)
    key = _key_from_info(h, info, passphrase, prompt)
    db_id = _db_key_id(h)
    if db_id is not None and db_id != key.key_id:
        raise KeyMismatchError("the memory database was written with another data key: wrong key file or passphrase")
    return key


def _write_info(home: Home, info: dict[str, Any]) -> None:
    _write_private(home.keys / INFO_FILE, (json.dumps(info, sort_keys=True, indent=1) + "\n").encode("utf-8"))


def init_key(home: Home | str | os.PathLike[str] | None = None, passphrase: str | None = None,
             *, force: bool = False) -> DataKey:
    """Create the device's data key (a key file, or a passphrase-derived key). Refuses to replace one."""
    h = _home(home)
    h.keys.mkdir(parents=True, exist_ok=True)
    if not force and (_info(h) is not None or (h.keys / KEY_FILE).exists()):
        raise DataKeyError("this device already has a data key: use 'edgemem privacy key rotate' to change it")
    if _db_key_id(h) is not None and not force:
        raise DataKeyError("a memory database exists without a key record: restore keys/ from a backup")
    if passphrase:
        salt = os.urandom(16)
        key = DataKey(derive(passphrase, salt))
        info = {"mode": "passphrase", "key_id": key.key_id.hex(), "created": _now(), "rotated": None,
                "kdf": {"name": "scrypt", "salt": salt.hex(), **SCRYPT}}
        (h.keys / KEY_FILE).unlink(missing_ok=True)
    else:
        raw = os.urandom(32)
        key = DataKey(raw)
        _write_private(h.keys / KEY_FILE, raw)
        info = {"mode": "file", "key_id": key.key_id.hex(), "created": _now(), "rotated": None}
    _write_info(h, info)
    _audit(h, "key_init", mode=info["mode"], key_id=info["key_id"])
    return key


def status(home: Home | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What protects the data on this device, without opening anything."""
    h = _home(home)
    info = _info(h) or {}
    key_path = h.keys / KEY_FILE
    mode_bits = None
    if key_path.exists():
        mode_bits = oct(key_path.stat().st_mode & 0o777)
    db_id = _db_key_id(h)
    return {
        "mode": info.get("mode") or ("file" if key_path.exists() else None),
        "key_id": info.get("key_id"),
        "created": info.get("created"),
        "rotated": info.get("rotated"),
        "key_file": str(key_path) if key_path.exists() else None,
        "key_file_mode": mode_bits,
        "database_key_id": db_id.hex() if db_id else None,
        "rotation_pending": (h.keys / PENDING_FILE).exists(),
        "kdf": {k: v for k, v in (info.get("kdf") or {}).items() if k != "salt"} or None,
    }


# -- rotation --------------------------------------------------------------------------------
def rotate(home: Home | str | os.PathLike[str] | None = None, *, reencrypt: Reencrypt,
           passphrase: str | None = None, new_passphrase: str | None = None,
           prompt: Callable[[], str] | None = None) -> dict[str, Any]:
    """Re-encrypt all patient data under a fresh key; the old key opens nothing afterwards.

    ``reencrypt`` moves the data over (``edgemem.memory.service.reencrypt_home``).
    ``new_passphrase`` switches to (or stays in) passphrase mode with that passphrase; otherwise a
    new random key file is written. ``passphrase`` opens the current data if they are
    passphrase-protected. Returns ``{"old_key_id", "new_key_id", "mode", "seconds"}``.
    """
    h = _home(home)
    t0 = time.perf_counter()
    old = load_data_codec(h, passphrase, prompt, create=False, reencrypt=reencrypt)
    old_info = _info(h) or {}
    if new_passphrase:
        salt = os.urandom(16)
        raw = derive(new_passphrase, salt)
        new = DataKey(raw)
        new_info: dict[str, Any] = {"mode": "passphrase", "kdf": {"name": "scrypt", "salt": salt.hex(), **SCRYPT}}
    else:
        raw = os.urandom(32)
        new = DataKey(raw)
        new_info = {"mode": "file"}
    new_info.update(key_id=new.key_id.hex(), created=old_info.get("created") or _now(), rotated=_now())
    # 1. Record the new key, wrapped under the old one, before any data change.
    wrapped = old.encrypt(raw, _WRAP_AAD)
    pending = {"wrapped_key": wrapped.hex(), "info": new_info}
    _write_private(h.keys / PENDING_FILE, json.dumps(pending, sort_keys=True).encode("utf-8"))
    # 2-3. Re-encrypt, then switch the key files over and drop the pending record.
    _reencrypt_and_commit(h, new, old, raw, new_info, reencrypt)
    _audit(h, "key_rotate", old_key_id=old.key_id.hex(), new_key_id=new.key_id.hex(), mode=new_info["mode"])
    return {"old_key_id": old.key_id.hex(), "new_key_id": new.key_id.hex(), "mode": new_info["mode"],
            "seconds": round(time.perf_counter() - t0, 3)}


def _reencrypt_and_commit(h: Home, new: DataKey, old: DataKey, raw: bytes, new_info: dict[str, Any],
                          reencrypt: Reencrypt | None) -> None:
    """Re-encrypt everything under ``new`` (idempotent), then switch the key records over.

    Order matters for crash safety: keyinfo.json first, then data.key, then the pending record;
    ``_resume_rotation`` recognises every intermediate state.
    """
    if h.db_path.exists():
        if reencrypt is None:  # a resumed rotation, loaded by a caller that cannot open the memory
            raise DataKeyError("a key rotation was interrupted: open the memory (for example 'edgemem memory "
                               "status') to finish it")
        reencrypt(h, new, old)
    _write_info(h, new_info)
    if new_info["mode"] == "file":
        _write_private(h.keys / KEY_FILE, raw)
    else:
        (h.keys / KEY_FILE).unlink(missing_ok=True)
    (h.keys / PENDING_FILE).unlink(missing_ok=True)
    fsutil.fsync_dir(h.keys)


def _resume_rotation(h: Home, info: dict[str, Any], passphrase: str | None,
                     prompt: Callable[[], str] | None, reencrypt: Reencrypt | None) -> DataKey:
    """A rotation was interrupted: find which key we hold (old or new) and complete it."""
    path = h.keys / PENDING_FILE
    try:
        pending = json.loads(path.read_text(encoding="utf-8"))
        wrapped = bytes.fromhex(pending["wrapped_key"])
        new_info = dict(pending["info"])
        new_id = str(new_info["key_id"])
    except (OSError, ValueError, KeyError, TypeError):
        # Written atomically before any data changed, so a corrupt record was never used.
        path.unlink(missing_ok=True)
        return load_data_codec(h, passphrase, prompt, reencrypt=reencrypt)
    candidates: list[bytes] = []
    if (h.keys / KEY_FILE).exists():
        candidates.append(_read_key_file(h.keys / KEY_FILE))
    if info.get("mode") == "passphrase":
        kdf = info.get("kdf") or {}
        candidates.append(derive(_passphrase(passphrase, prompt), bytes.fromhex(kdf["salt"]),
                                 int(kdf["n"]), int(kdf["r"]), int(kdf["p"])))
    for raw in candidates:
        key = DataKey(raw)
        if key.key_id.hex() == new_id:  # the data were fully re-encrypted; only the records lag
            _write_info(h, new_info)
            if new_info["mode"] != "file":
                (h.keys / KEY_FILE).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            return key
        try:
            new_raw = key.decrypt(wrapped, _WRAP_AAD)
        except KeyMismatchError:
            continue
        new = DataKey(new_raw)
        _reencrypt_and_commit(h, new, key, new_raw, new_info, reencrypt)
        _audit(h, "key_rotate", old_key_id=key.key_id.hex(), new_key_id=new.key_id.hex(),
               mode=new_info["mode"], resumed=True)
        return new
    raise KeyMismatchError("a key rotation was interrupted and neither the key file nor the passphrase "
                           "given opens it: give the passphrase in use before the rotation")


def _audit(h: Home, action: str, **fields: Any) -> None:
    audit_record(h, action, **fields)
