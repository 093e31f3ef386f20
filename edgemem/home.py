"""The one folder that holds all device state.

Every piece of state a device keeps (bundles and A/B slots, the SQLite database, vector index
files, keys, the audit log) lives under one home folder so a kiosk can be backed up, wiped or
inspected as a unit. Resolution order: an explicit path, ``EDGEMEM_HOME``, then
``~/.local/share/edgemem``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "EDGEMEM_HOME"
DEFAULT_HOME = Path("~/.local/share/edgemem")


@dataclass(frozen=True)
class Home:
    """Paths inside a home folder. Creating a ``Home`` touches nothing on disk; ``ensure()`` does."""

    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> "Home":
        raw = explicit if explicit is not None else os.environ.get(ENV_VAR) or DEFAULT_HOME
        return cls(Path(raw).expanduser().resolve())

    # Bundles: A/B slots plus a pointer file naming the active one (see edgemem.sync).
    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    @property
    def slots(self) -> Path:
        return self.bundles / "slots"

    # Long-term memory: SQLite is the source of truth, the index folder holds derived state.
    @property
    def db_path(self) -> Path:
        return self.root / "memory.sqlite"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def short_term_dir(self) -> Path:
        return self.root / "short_term"

    # Keys: trusted bundle-signing public keys, the development signing key, the at-rest data key.
    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def trusted_keys(self) -> Path:
        return self.keys / "trusted"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.log"

    @property
    def sync_dir(self) -> Path:
        return self.root / "sync"

    def ensure(self) -> "Home":
        """Create the folders (0700: patient data lives here)."""
        for p in (self.root, self.bundles, self.slots, self.index_dir, self.short_term_dir,
                  self.keys, self.trusted_keys, self.sync_dir):
            p.mkdir(parents=True, exist_ok=True)
            try:
                os.chmod(p, 0o700)
            except OSError:  # e.g. a FAT-formatted stick; permissions are best effort there
                pass
        return self
