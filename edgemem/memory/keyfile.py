"""The memory's default at-rest codec: the device's data key, from ``edgemem.privacy.data_key``.

A ``MemoryService`` opened without a codec must still encrypt from its first turn, never write
plaintext because nobody configured a key. Key management proper (the key file, passphrases,
rotation, the key-id check against the database) is ``privacy.data_key.load_data_codec``; this module
only names that choice for the memory, so the memory asks for a codec in one place. The service
passes its own re-encrypt step (``service.reencrypt_home``), so a rotation a power cut left half
done is finished when the memory next opens; this module never imports the service.
"""

from __future__ import annotations

from ..home import Home
from ..privacy.cipher import Codec
from ..privacy.data_key import Reencrypt, load_data_codec


def default_codec(home: Home, reencrypt: Reencrypt | None = None) -> Codec:
    """The home's data key (created in key-file mode on first use), checked against the database;
    an interrupted rotation is finished with ``reencrypt``."""
    return load_data_codec(home, reencrypt=reencrypt)
