"""Adapter-only updates: ship megabytes of LoRA weights instead of a whole bundle.

An adapter-only update is a signed folder (or ``.tar``) in the bundle format whose manifest has
``"kind": "adapter-update"``; see ``apply_update``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..bundle import read_manifest
from ..errors import BundleError

KIND = "adapter-update"


def is_adapter_update(path: str | os.PathLike[str]) -> bool:
    """True for an adapter-only update (decided from its manifest, which apply then verifies)."""
    try:
        return read_manifest(Path(path)).get("kind") == KIND
    except BundleError:
        return False
