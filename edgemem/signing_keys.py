"""Bundle-signing keys: who the device trusts, and the development key.

A device runs only bundles signed by a key it trusts. Trusted public keys are files under
``$EDGEMEM_HOME/keys/trusted/`` (raw 32-byte ed25519 public key, hex, one per file), so a vendor
provisions a kiosk by dropping one file in, and revokes a key by deleting it.

For development, ``edgemem-export build`` signs with a key it creates on first use under
``$EDGEMEM_HOME/keys/dev-signing.key`` and trusts its public half in the same home, so a build on a
laptop runs on that laptop with no setup, while a device provisioned elsewhere still refuses it.

Keys are stored as hex of the raw 32 bytes (private files 0600); PEM files (as ``openssl genpkey
-algorithm ed25519`` writes) are read too. ``cryptography`` is imported inside the functions so
``import edgemem.signing_keys`` stays cheap.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import fsutil
from .errors import BundleError
from .home import Home

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DEV_KEY_NAME = "dev-signing.key"


def public_bytes(key: "Ed25519PublicKey") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: "Ed25519PublicKey | bytes") -> str:
    """A short, stable name for a public key: the first 16 hex digits of sha256(raw key)."""
    raw = key if isinstance(key, bytes) else public_bytes(key)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate() -> "Ed25519PrivateKey":
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def _write_private(path: Path, hex_text: str) -> None:
    """Write a private key's hex, 0600 from creation and atomically (``edgemem.fsutil``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_bytes(path, (hex_text + "\n").encode("ascii"), 0o600)


def save_keypair(key: "Ed25519PrivateKey", path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``path`` (private, 0600) and ``path.pub`` (public); both hex of the raw bytes."""
    from cryptography.hazmat.primitives import serialization

    p = Path(path)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    _write_private(p, raw.hex())
    pub = p.with_name(p.name + ".pub")
    pub.write_text(public_bytes(key.public_key()).hex() + "\n", encoding="ascii")
    return p, pub


def _read_key_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise BundleError(f"{what} not found: {path}") from None
    except UnicodeDecodeError:
        raise BundleError(f"{what} {path} is not a hex or PEM key file") from None


def load_private_key(path: str | os.PathLike[str]) -> "Ed25519PrivateKey":
    """Read a signing key (hex of 32 raw bytes, or an unencrypted PKCS#8 PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = Path(path)
    text = _read_key_text(p, "signing key")
    try:
        if text.startswith("-----BEGIN"):
            key: Any = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("not ed25519")
            return key
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    except (ValueError, TypeError):
        raise BundleError(f"signing key {p} is not an ed25519 private key (hex of 32 bytes or PEM)") from None


def parse_public_key(text: str, where: str = "public key") -> "Ed25519PublicKey":
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key: Any = serialization.load_pem_public_key(text.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not ed25519")
            return key
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except (ValueError, TypeError):
        raise BundleError(f"{where} is not an ed25519 public key (hex of 32 bytes or PEM)") from None


def load_public_key(path: str | os.PathLike[str]) -> "Ed25519PublicKey":
    p = Path(path)
    return parse_public_key(_read_key_text(p, "public key"), where=str(p))


def trusted_keys(home: Home | None = None) -> dict[str, "Ed25519PublicKey"]:
    """key_id -> public key for every ``*.pub`` under the home's ``keys/trusted``.

    An unreadable file is an error rather than skipped: a silently ignored trust file would make
    a device refuse its bundles with a misleading message.
    """
    home = home or Home.resolve()
    out: dict[str, Ed25519PublicKey] = {}
    d = home.trusted_keys
    if d.is_dir():
        for p in sorted(d.glob("*.pub")):
            k = load_public_key(p)
            out[key_id(k)] = k
    return out


def trust(public: "Ed25519PublicKey", home: Home | None = None) -> Path:
    """Add a public key to the home's trusted keys (idempotent); returns its file."""
    home = (home or Home.resolve()).ensure()
    kid = key_id(public)
    p = home.trusted_keys / f"{kid}.pub"
    p.write_text(public_bytes(public).hex() + "\n", encoding="ascii")
    return p


def dev_key_path(home: Home | None = None) -> Path:
    return (home or Home.resolve()).keys / DEV_KEY_NAME


def dev_key(home: Home | None = None) -> tuple["Ed25519PrivateKey", bool]:
    """The development signing key of this home, created (and trusted) on first use.

    Returns ``(key, created)`` so the caller can warn once when a new key was made.
    """
    home = (home or Home.resolve()).ensure()
    p = dev_key_path(home)
    created = False
    if p.exists():
        key = load_private_key(p)
    else:
        key = generate()
        save_keypair(key, p)
        created = True
    trust(key.public_key(), home)
    return key, created


def device_signing_keys(home: Home | None = None) -> dict[str, Path]:
    """key_id -> file of every ed25519 *private* key found under the home's ``keys/``.

    A bundle signed by one of these proves nothing: whoever can read the device can sign with it
    (the development key ``edgemem-export`` makes on first use sits there, trusted, beside its
    public half). Files that are not signing keys (the data key, tokens) are skipped.
    """
    home = home or Home.resolve()
    found: dict[str, Path] = {}
    for p in sorted(home.keys.glob("*.key")) if home.keys.is_dir() else []:
        try:
            found[key_id(load_private_key(p).public_key())] = p
        except (BundleError, OSError, ValueError):
            continue
    return found

