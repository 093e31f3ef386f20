"""Public-key encryption of the outbox to the training host (hybrid X25519 + HKDF + AES-GCM).

The outbox travels on a USB stick that can be lost, so the device encrypts it to the *training
host's* public key: the device can write packages but not read them back, and neither can anyone
who finds the stick. Each package gets a fresh ephemeral X25519 key; the shared secret goes
through HKDF-SHA256 (salted with both public keys, so a key is bound to this exchange) to an
AES-256-GCM key. The package's plaintext manifest is the AEAD's associated data: a manifest
swapped onto another package's ciphertext fails to decrypt.

Blob layout: ``b"EMBOX1" | host key id (8) | ephemeral public key (32) | nonce (12) | AES-GCM(ct + tag)``.

Host keys are files holding the hex of the raw 32-byte X25519 key (private 0600, public ``.pub``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EdgememError

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

MAGIC = b"EMBOX1"
INFO = b"edgemem/outbox/v1"
_HEADER = len(MAGIC) + 8 + 32 + 12


class BoxError(EdgememError):
    """An outbox key or package is wrong, for another host, or damaged."""


def _raw_public(key: "X25519PublicKey") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def host_key_id(key: "X25519PublicKey | bytes") -> str:
    """16 hex digits naming a host public key (sha256 of its raw bytes)."""
    raw = key if isinstance(key, bytes) else _raw_public(key)
    return hashlib.sha256(b"edgemem/host-key/v1" + raw).hexdigest()[:16]


def generate_host_keypair(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new host key pair: ``path`` (private, 0600) and ``path.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    key = X25519PrivateKey.generate()
    priv = Path(path)
    priv.parent.mkdir(parents=True, exist_ok=True)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    fd = os.open(str(priv), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(raw.hex() + "\n")
    pub = priv.with_name(priv.name + ".pub")
    pub.write_text(_raw_public(key.public_key()).hex() + "\n", encoding="ascii")
    return priv, pub


def _read_hex32(path: Path, what: str) -> bytes:
    try:
        raw = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise BoxError(f"{what} not found: {path}") from None
    except (ValueError, UnicodeDecodeError):
        raise BoxError(f"{what} {path} is not hex of a 32-byte X25519 key") from None
    if len(raw) != 32:
        raise BoxError(f"{what} {path} is not hex of a 32-byte X25519 key")
    return raw


def load_public(path: str | os.PathLike[str]) -> "X25519PublicKey":
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    return X25519PublicKey.from_public_bytes(_read_hex32(Path(path), "host public key"))


def load_private(path: str | os.PathLike[str]) -> "X25519PrivateKey":
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return X25519PrivateKey.from_private_bytes(_read_hex32(Path(path), "host private key"))


def _derive(shared: bytes, eph_pub: bytes, host_pub: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub + host_pub, info=INFO).derive(shared)


def seal(plaintext: bytes, host: "X25519PublicKey", aad: bytes = b"") -> bytes:
    """Encrypt ``plaintext`` so that only the holder of ``host``'s private key can read it."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    eph = X25519PrivateKey.generate()
    eph_pub = _raw_public(eph.public_key())
    host_pub = _raw_public(host)
    key = _derive(eph.exchange(host), eph_pub, host_pub)
    nonce = os.urandom(12)
    kid = bytes.fromhex(host_key_id(host_pub))
    return MAGIC + kid + eph_pub + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(blob: bytes, host: "X25519PrivateKey", aad: bytes = b"") -> bytes:
    """Decrypt a ``seal`` blob with the host's private key; one-line errors for every failure."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
        raise BoxError("not an edgemem outbox payload (truncated or another file)")
    host_pub = _raw_public(host.public_key())
    kid = blob[len(MAGIC):len(MAGIC) + 8]
    if kid.hex() != host_key_id(host_pub):
        raise BoxError(f"package is encrypted to host key {kid.hex()}, not to this key ({host_key_id(host_pub)})")
    eph_pub = blob[len(MAGIC) + 8:len(MAGIC) + 40]
    nonce = blob[len(MAGIC) + 40:_HEADER]
    key = _derive(host.exchange(X25519PublicKey.from_public_bytes(eph_pub)), eph_pub, host_pub)
    try:
        return AESGCM(key).decrypt(nonce, blob[_HEADER:], aad)
    except InvalidTag:
        raise BoxError("package failed authentication: it was altered, truncated, or its manifest swapped") from None
