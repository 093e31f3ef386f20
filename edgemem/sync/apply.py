"""``edgemem sync apply``: install a signed bundle into the inactive A/B slot and switch to it.

The order of the steps is the safety argument:

1. **Refuse early, touch nothing.** Signature against the pinned trusted keys, every file's size
   and sha256, the format version (``edgemem.bundle.verify``), then compatibility with the active
   bundle (same base model and tokenizer, same architecture and embedder width: the patient
   memories and their vector index were built for them), a strictly newer version (unless
   ``allow_downgrade``), and free disk for two copies. A refusal is one line and the active
   bundle and state file are byte-for-byte untouched.
2. **Stage.** The bundle is copied into a staging folder beside the slots, verified again (the
   copy is what will run) and smoke-tested (it loads, generates, and its perplexity on the golden
   text in its manifest is within the manifest's limit). Only then is the inactive slot released
   in the state file (so a half-replaced slot is never named by it) and the staged folder,
   fsynced, renamed into it. A smoke-test failure leaves state and slots as they were.
3. **Switch.** One atomic rename of ``state.json``. Before it, the old bundle is active; after
   it, the new one is, on trial (``slots.boot``), with the old one kept as the rollback target.

A SIGKILL or power cut at any instant leaves exactly one complete, verified bundle active; the
leftovers of an interrupted apply are removed by the next one.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..bundle import MANIFEST, Manifest, read_manifest, sha256_file, verify
from ..errors import BundleError, EdgememError
from ..home import Home
from . import slots

# Free disk needed, as a multiple of the bundle's size: the staged copy plus headroom for the
# memory database and logs to keep growing while two bundles sit on disk.
DISK_FACTOR = 2.0


@dataclass
class ApplyResult:
    """What an apply did, for ``--json`` and the audit log."""

    slot: str
    version: int
    previous_version: int | None
    generation: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"slot": self.slot, "version": self.version, "previous_version": self.previous_version,
                "generation": self.generation, "seconds": round(self.seconds, 3),
                "phases": {k: round(v, 3) for k, v in self.phases.items()}, "smoke": self.smoke}


def point(name: str) -> None:
    """A named step of apply. Tests of power-loss safety slow each step down (``EDGEMEM_SYNC_SLOW``
    seconds) so that a SIGKILL at a random time lands in every phase, not just the longest one."""
    delay = os.environ.get("EDGEMEM_SYNC_SLOW")
    if delay:
        if os.environ.get("EDGEMEM_SYNC_TRACE"):
            print(f"sync-point {name}", file=sys.stderr, flush=True)
        time.sleep(float(delay))


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def check_compatible(new: Manifest, current: Manifest | None, *, allow_downgrade: bool = False,
                     allow_new_base: bool = False) -> None:
    """Refuse a bundle the device must not switch to; one line naming the first reason."""
    if current is None:
        return
    nv, cv = new.version, current.version
    if nv == cv and _get(new.data, "signature", "value") == _get(current.data, "signature", "value"):
        raise BundleError(f"version {nv} is already the active bundle")
    if nv <= cv and not allow_downgrade:
        raise BundleError(f"refusing downgrade: bundle version {nv} is not newer than the active "
                          f"version {cv} (use --allow-downgrade to force)")
    if not allow_new_base:
        pairs = [
            ("base model", _get(new.data, "base", "sha256"), _get(current.data, "base", "sha256")),
            ("tokenizer", new.get("tokenizer_sha256"), current.get("tokenizer_sha256")),
            ("model family", _get(new.data, "model", "family"), _get(current.data, "model", "family")),
            ("architecture", _get(new.data, "model", "architecture"), _get(current.data, "model", "architecture")),
            ("embedder width", _get(new.data, "embedder", "dim"), _get(current.data, "embedder", "dim")),
        ]
        for what, a, b in pairs:
            if a != b:
                short = (lambda v: str(v)[:12] if isinstance(v, str) else v)
                raise BundleError(f"incompatible bundle: its {what} ({short(a)}) differs from the active "
                                  f"bundle's ({short(b)}) (use --allow-new-base to migrate)")


def _bundle_bytes(m: Manifest) -> int:
    return sum(int(e["size"]) for e in m.files.values())


def check_disk(home: Home, needed: int, factor: float = DISK_FACTOR) -> None:
    free = shutil.disk_usage(home.slots).free
    if free < needed * factor:
        raise BundleError(f"not enough free disk: {free / 1e6:.0f} MB free, need {needed * factor / 1e6:.0f} MB "
                          f"for a {needed / 1e6:.0f} MB bundle")


def _copy_folder(src: Path, dst: Path, m: Manifest) -> None:
    for rel in sorted(m.files):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, target)
        point("copy-file")
    shutil.copyfile(src / MANIFEST, dst / MANIFEST)


def _stage(src: Path, staging: Path, trusted: Any, home: Home) -> Manifest:
    """Copy (or extract) the bundle into ``staging`` and verify the copy."""
    from .. import bundle as bundle_mod

    if src.is_dir():
        m = read_manifest(src)
        staging.mkdir(parents=True, exist_ok=True)
        _copy_folder(src, staging, m)
    else:
        # extract() wants a destination that does not exist yet, and re-verifies what it wrote.
        if staging.exists():
            staging.rmdir()
        return bundle_mod.extract(src, staging, trusted, home, seal=True)
    point("copied")
    # Sealed here, at apply time: the server's starts then re-check stat and sampled blocks
    # instead of hashing the whole bundle again (edgemem.seal).
    return verify(staging, trusted, home, seal=True)


def _trusted_keys(home: Home, extra: Any = None) -> dict[str, Any]:
    from .. import signing_keys

    trusted = signing_keys.trusted_keys(home)
    if extra:
        for k in extra:
            pub = signing_keys.load_public_key(k) if isinstance(k, (str, os.PathLike)) else k
            trusted[signing_keys.key_id(pub)] = pub
    return trusted


def active_manifest(home: Home) -> Manifest | None:
    path = slots.active_bundle(home)
    if path is None:
        return None
    try:
        return read_manifest(path)
    except BundleError:
        return None


def apply(bundle_path: str | os.PathLike[str], home: Home | None = None, *,
          allow_downgrade: bool = False, allow_new_base: bool = False, extra_keys: Any = None,
          smoke: bool = True, disk_factor: float = DISK_FACTOR,
          installer: Callable[[Home, Path, Manifest | None], Manifest] | None = None,
          kind: str = "bundle") -> ApplyResult:
    """Verify, stage into the inactive slot, smoke-test and switch. See the module docstring.

    ``installer`` replaces the copy step (the adapter-only path builds the staged bundle itself
    from the active one); it writes a complete bundle into the given staging folder and returns
    its verified manifest.
    """
    t0 = time.perf_counter()
    phases: dict[str, float] = {}
    h = (home or Home.resolve()).ensure()
    src = Path(bundle_path)
    trusted = _trusted_keys(h, extra_keys)

    mark = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        phases[name] = now - mark[0]
        mark[0] = now

    with slots.locked(h, wait=False):
        slots.cleanup(h)
        point("start")
        current = active_manifest(h)
        if installer is None:
            incoming = verify(src, trusted, h)  # signature, format version, every hash
            lap("verify")
            check_compatible(incoming, current, allow_downgrade=allow_downgrade, allow_new_base=allow_new_base)
            check_disk(h, _bundle_bytes(incoming), disk_factor)
        point("checked")
        st = slots.load_state(h)
        previous_version = st.version_of(st.active)
        slot = st.inactive
        staging = slots.new_staging_dir(h, slot)
        try:
            if installer is None:
                staged = _stage(src, staging, trusted, h)
                if staged.data != incoming.data:
                    raise BundleError(f"{src} changed while it was being applied")
            else:
                staged = installer(h, staging, current)
                trusted = _trusted_keys(h, extra_keys)  # the installer may have created the device key
                check_compatible(staged, current, allow_downgrade=allow_downgrade, allow_new_base=allow_new_base)
            lap("stage")
            point("staged")
            smoke_report: dict[str, Any] = {}
            if smoke:
                from .smoke import smoke_test

                smoke_report = smoke_test(staging, staged, home=h, trusted_keys=trusted)
                lap("smoke")
            point("smoked")
            # Only now, with a staged bundle that works, is the old content of the slot given up.
            slots.release_inactive(h, st)
            point("released")
            target = slots.install_staged(h, staging, slot)
            from .. import seal

            seal.rebind(staging, target, h)
            point("installed")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        info = slots.SlotInfo(version=staged.version, parent_version=staged.parent_version,
                              manifest_sha256=sha256_file(target / MANIFEST), kind=kind,
                              installed=slots._now())
        st = slots.switch(h, st, slot, info)
        lap("switch")
        point("switched")
    from ..privacy import audit

    audit.record(h, "bundle_apply", slot=slot, version=staged.version, previous=previous_version,
                 kind=kind)
    return ApplyResult(slot=slot, version=staged.version, previous_version=previous_version,
                       generation=st.generation, seconds=time.perf_counter() - t0, phases=phases,
                       smoke=smoke_report)


def rollback(home: Home | None = None, reason: str = "requested") -> dict[str, Any]:
    """Switch back to the previous slot, timed; the previous bundle is verified first."""
    t0 = time.perf_counter()
    h = (home or Home.resolve()).ensure()
    st = slots.load_state(h)
    if st.previous is None or st.slots.get(st.previous) is None:
        raise slots.SlotError("no previous bundle to roll back to")
    # The previous slot has sat on disk since it was last active: check it is still intact.
    try:
        verify(slots.slot_path(h, st.previous), _trusted_keys(h), h)
    except EdgememError as e:
        raise slots.SlotError(f"previous bundle is damaged, not rolling back: {e}") from None
    st = slots.rollback(h, reason)
    from ..privacy import audit

    audit.record(h, "rollback", to_version=st.version_of(st.active), from_version=st.version_of(st.previous))
    return {"active": st.active, "version": st.version_of(st.active), "previous": st.previous,
            "previous_version": st.version_of(st.previous), "generation": st.generation,
            "seconds": round(time.perf_counter() - t0, 4)}


__all__ = ["apply", "rollback", "check_compatible", "check_disk", "ApplyResult", "active_manifest"]
