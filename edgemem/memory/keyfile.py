"""The default at-rest codec: ``$EDGEMEM_HOME/keys/data.key`` (32 raw bytes, 0600).

Key management proper (passphrases, rotation, the CLI) lives in ``edgemem.privacy.keys``; when
that module offers a loader it is used. This fallback only makes sure a fresh device encrypts from
its first turn instead of writing plaintext while nobody has configured a key.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..home import Home
from ..privacy.cipher import Codec, DataKey


def default_codec(home: Home) -> Codec:
    try:
        from ..privacy import keys as privacy_keys  # type: ignore[attr-defined]

        loader = getattr(privacy_keys, "load_data_codec", None) or getattr(privacy_keys, "data_codec", None)
        if loader is not None:
            return loader(home)
    except ImportError:
        pass
    path = Path(home.keys) / "data.key"
    if path.exists():
        raw = path.read_bytes().strip()
        if len(raw) == 64:  # hex-encoded, as a person might paste it
            raw = bytes.fromhex(raw.decode("ascii"))
        return DataKey(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return DataKey(key)
