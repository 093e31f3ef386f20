"""At-rest encryption of patient data, and blinded tokens for full-text search.

Everything patient-related is stored as AES-GCM ciphertext. Full-text search still works because
the FTS5 index holds *blinded* tokens, HMAC-SHA256 of each normalized word under a key derived
from the data key: BM25 needs only term identity and counts, never the words themselves, so the
index reveals neither. The vector index is saved as one encrypted blob (see edgemem.memory).

Ciphertext layout: ``b"EM1" | key_id (4 bytes) | nonce (12) | AES-GCM(ciphertext + tag)``. The
key id lets a wrong key fail with a clear message instead of an authentication error, and lets a
rotation tell old rows from new ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Protocol

from ..errors import EdgememError

MAGIC = b"EM1"
_HEADER = len(MAGIC) + 4 + 12


class KeyMismatchError(EdgememError):
    """Data was encrypted under another key (or is corrupt)."""


class Codec(Protocol):
    """What the stores need: seal and open bytes, and blind a search token."""

    key_id: bytes

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes: ...

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes: ...

    def blind(self, token: str) -> str: ...


class DataKey:
    """A 256-bit data key: AES-GCM for content, HMAC for blinded search tokens."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise EdgememError("data key must be 32 bytes")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)
        # Separate subkeys, so the token-blinding key reveals nothing about the content key.
        self._blind_key = hmac.new(key, b"edgemem/blind-token/v1", hashlib.sha256).digest()
        self.key_id = hashlib.sha256(b"edgemem/key-id/v1" + key).digest()[:4]

    @classmethod
    def generate(cls) -> "DataKey":
        return cls(os.urandom(32))

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        nonce = os.urandom(12)
        return MAGIC + self.key_id + nonce + self._aead.encrypt(nonce, plaintext, aad or None)

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        from cryptography.exceptions import InvalidTag

        if len(blob) < _HEADER + 16 or blob[:3] != MAGIC:
            raise KeyMismatchError("stored data is not edgemem ciphertext (corrupt, or written unencrypted)")
        if blob[3:7] != self.key_id:
            raise KeyMismatchError("stored data was encrypted with a different key: wrong key file or passphrase")
        try:
            return self._aead.decrypt(blob[7:_HEADER], blob[_HEADER:], aad or None)
        except InvalidTag:
            raise KeyMismatchError("stored data failed authentication: it was altered or is corrupt") from None

    def blind(self, token: str) -> str:
        digest = hmac.new(self._blind_key, token.encode("utf-8"), hashlib.sha256).digest()[:10]
        # Lower-case base32 letters and digits: FTS5's unicode61 tokenizer keeps it one token.
        return "t" + base64.b32encode(digest).decode("ascii").lower().rstrip("=")


class PlainCodec:
    """No encryption: for development and for tests that must see plaintext on disk."""

    key_id = b"\0\0\0\0"

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        return plaintext

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        return blob

    def blind(self, token: str) -> str:
        return token
