"""A/B bundle slots, the state file that names the active one, and the boot counter.

A clinic kiosk must never be left with a broken model, so bundles live in two slots
(``home.slots/a`` and ``home.slots/b``) and a small state file, ``home.bundles/state.json``, says
which one is active. An update is written into the *inactive* slot while the active one keeps
serving; the switch is one atomic rename of the state file, so after a power cut exactly one
complete bundle is active, never a mix.

A freshly activated bundle is on *trial* (as RAUC and Mender do it): every start that uses it
first counts an attempt (``boot``), and a start that got as far as a loaded, generating model
says so (``mark_started``). A bundle that kills the process before that, ``max_boot_attempts``
times in a row, is rolled back by the next start on its own, with no one at the kiosk.

Readers (``active_bundle``, ``active_generation``, ``status``) take no lock and never write: the
engine and the server may call them as often as they like. ``active_generation`` changes on every
switch or rollback, so a running server can notice a new bundle with one small file read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..errors import EdgememError
from ..home import Home
from .. import fsutil

SLOTS = ("a", "b")
STATE_FORMAT = 1
DEFAULT_MAX_BOOT_ATTEMPTS = 3
DEFAULT_CONFIRM_AFTER = 1


class SlotError(EdgememError):
    """The slot state is unusable, or an A/B operation is impossible (nothing to roll back to)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class SlotInfo:
    """What a slot holds, recorded when the bundle was installed (the manifest stays the truth)."""

    version: int | None = None
    parent_version: int | None = None
    manifest_sha256: str | None = None
    kind: str = "bundle"  # "bundle" (a full signed bundle) or "adapter" (merged on the device)
    installed: str | None = None


@dataclass
class SlotState:
    """The whole of ``state.json``. Every change is written atomically (``save``)."""

    active: str | None = None
    previous: str | None = None
    slots: dict[str, SlotInfo | None] = field(default_factory=lambda: {s: None for s in SLOTS})
    generation: int = 0
    trial: bool = False
    boot_attempts: int = 0
    good_starts: int = 0
    max_boot_attempts: int = DEFAULT_MAX_BOOT_ATTEMPTS
    confirm_after: int = DEFAULT_CONFIRM_AFTER
    failed_versions: list[int] = field(default_factory=list)
    last_event: dict[str, Any] | None = None
    format: int = STATE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["slots"] = {k: (asdict(v) if v is not None else None) for k, v in self.slots.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SlotState":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        slots = known.pop("slots", {}) or {}
        st = cls(**known)
        st.slots = {s: (SlotInfo(**{k: v for k, v in (slots.get(s) or {}).items()
                                    if k in SlotInfo.__dataclass_fields__})
                        if slots.get(s) else None) for s in SLOTS}
        if st.active not in (None, *SLOTS) or st.previous not in (None, *SLOTS):
            raise SlotError("bundles/state.json names an unknown slot; fix or remove it")
        return st

    @property
    def inactive(self) -> str:
        """The slot an update is staged into: never the active one."""
        return "b" if self.active == "a" else "a"

    def version_of(self, slot: str | None) -> int | None:
        info = self.slots.get(slot) if slot else None
        return info.version if info else None


# -- paths -----------------------------------------------------------------------------------

def _home(home: Home | str | os.PathLike[str] | None) -> Home:
    if isinstance(home, Home):
        return home
    return Home.resolve(home)


def state_path(home: Home | str | os.PathLike[str] | None) -> Path:
    return _home(home).bundles / "state.json"


def slot_path(home: Home | str | os.PathLike[str] | None, slot: str) -> Path:
    if slot not in SLOTS:
        raise SlotError(f"unknown slot {slot!r}; slots are {', '.join(SLOTS)}")
    return _home(home).slots / slot


# -- reading (no lock, no writes) --------------------------------------------------------------

def load_state(home: Home | str | os.PathLike[str] | None) -> SlotState:
    """The current state; a home that never had a bundle installed gives an empty state."""
    path = state_path(home)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SlotState()
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return SlotState.from_dict(data)
    except (ValueError, TypeError) as e:
        # Written atomically, so this means outside damage, not an interrupted write.
        raise SlotError(f"{path} is unreadable ({e}); reinstall a bundle with 'edgemem sync apply'") from None


def active_bundle(home: Home | str | os.PathLike[str] | None = None) -> Path | None:
    """The folder of the active bundle, or ``None`` if none is installed.

    This is what the engine, the server and every CLI command without ``--bundle`` load. It only
    reads; a process that *starts serving* with it should go through ``boot``/``mark_started``
    (or ``starting``) so that a bundle which crashes at start is rolled back.
    """
    try:
        st = load_state(home)
    except SlotError:
        return None
    if st.active is None:
        return None
    path = slot_path(home, st.active)
    return path if (path / "manifest.json").is_file() else None


def active_generation(home: Home | str | os.PathLike[str] | None = None) -> int:
    """A number that changes on every switch and rollback: poll it to notice a new bundle."""
    try:
        return load_state(home).generation
    except SlotError:
        return -1


def status(home: Home | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Everything ``edgemem sync status`` shows, as plain JSON-able data."""
    h = _home(home)
    st = load_state(h)
    d = st.to_dict()
    d["active_path"] = str(active_bundle(h)) if active_bundle(h) else None
    d["active_version"] = st.version_of(st.active)
    d["previous_version"] = st.version_of(st.previous)
    d["can_rollback"] = _slot_usable(h, st, st.previous)
    return d


def _slot_usable(home: Home, st: SlotState, slot: str | None) -> bool:
    return bool(slot and st.slots.get(slot) and (slot_path(home, slot) / "manifest.json").is_file())


# -- writing (under the lock) ------------------------------------------------------------------

@contextlib.contextmanager
def locked(home: Home | str | os.PathLike[str] | None, *, wait: bool = True) -> Iterator[Home]:
    """Hold the bundles lock: one writer of slots and state at a time (apply, rollback, boot)."""
    import fcntl

    h = _home(home)
    h.slots.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(h.bundles / ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise SlotError("another update or rollback is running; try again when it has finished") from None
        yield h
    finally:
        os.close(fd)  # closing releases the flock


def save_state(home: Home | str | os.PathLike[str] | None, st: SlotState) -> None:
    """Replace state.json atomically. The rename is *the* moment a switch happens."""
    h = _home(home)
    h.bundles.mkdir(parents=True, exist_ok=True)
    fsutil.write_json(state_path(h), st.to_dict())


def cleanup(home: Home | str | os.PathLike[str] | None) -> list[str]:
    """Remove what an interrupted apply left behind (staging and trash folders). Call under the lock."""
    h = _home(home)
    removed = []
    if h.slots.is_dir():
        for p in h.slots.iterdir():
            if p.name.startswith((".staging-", ".trash-")):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
    if h.bundles.is_dir():
        for p in fsutil.leftover_temps(state_path(h)):  # a state write killed before its rename
            p.unlink(missing_ok=True)
            removed.append(p.name)
    if removed:
        fsutil.fsync_dir(h.slots)
    return removed


def release_inactive(home: Home, st: SlotState) -> str:
    """Forget the inactive slot's old bundle in the state *before* it is overwritten.

    Ordering matters for power loss: once the state no longer names the slot, deleting it can
    never leave the state pointing at half a bundle. Returns the slot to stage into.
    """
    slot = st.inactive
    if st.slots.get(slot) is not None or st.previous == slot:
        st.slots[slot] = None
        if st.previous == slot:
            st.previous = None
        save_state(home, st)
    return slot


def new_staging_dir(home: Home, slot: str) -> Path:
    path = home.slots / f".staging-{slot}-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir(parents=True)
    return path


def install_staged(home: Home, staging: Path, slot: str) -> Path:
    """Move a complete, fsynced staging folder into ``slot`` (whose old content is already released)."""
    target = slot_path(home, slot)
    if target.exists():
        trash = home.slots / f".trash-{slot}-{os.getpid()}-{time.monotonic_ns()}"
        os.replace(target, trash)
        fsutil.fsync_dir(home.slots)
        shutil.rmtree(trash, ignore_errors=True)
    fsutil.fsync_tree(staging)
    os.replace(staging, target)
    fsutil.fsync_dir(home.slots)
    return target


def switch(home: Home, st: SlotState, slot: str, info: SlotInfo, *, trial: bool = True) -> SlotState:
    """Make ``slot`` active (one atomic write), keeping the old active slot as the rollback target."""
    if st.active != slot:
        st.previous = st.active
    st.active = slot
    st.slots[slot] = info
    st.generation += 1
    st.trial = trial and st.previous is not None  # a first install has nothing to fall back to
    st.boot_attempts = 0
    st.good_starts = 0
    st.last_event = {"what": "switch", "time": _now(), "slot": slot, "version": info.version}
    save_state(home, st)
    return st


def _roll_back(home: Home, st: SlotState, reason: str, what: str) -> SlotState:
    if not _slot_usable(home, st, st.previous):
        raise SlotError("no previous bundle to roll back to")
    bad, good = st.active, st.previous
    bad_version = st.version_of(bad)
    st.active, st.previous = good, bad
    st.generation += 1
    st.trial = False
    st.boot_attempts = 0
    st.good_starts = 0
    if what == "auto-rollback" and bad_version is not None and bad_version not in st.failed_versions:
        st.failed_versions.append(bad_version)
    st.last_event = {"what": what, "time": _now(), "from_slot": bad, "from_version": bad_version,
                     "to_slot": good, "to_version": st.version_of(good), "reason": reason}
    save_state(home, st)
    return st


def rollback(home: Home | str | os.PathLike[str] | None = None, reason: str = "requested") -> SlotState:
    """Switch back to the previous slot (the bundle that was active before the last switch)."""
    with locked(home) as h:
        return _roll_back(h, load_state(h), reason, "rollback")


def boot(home: Home | str | os.PathLike[str] | None = None) -> Path | None:
    """Call once at process start, before loading the active bundle; returns the bundle to load.

    A bundle on trial gets ``max_boot_attempts`` starts. The attempt is counted (durably) *before*
    the model loads, so a start that crashes, hangs and is killed, or runs out of memory still
    counts; once the attempts are spent, this call rolls back to the previous slot itself.
    """
    h = _home(home)
    if not state_path(h).exists():
        return None
    with locked(h) as h:
        st = load_state(h)
        if st.active and st.trial:
            if st.boot_attempts >= st.max_boot_attempts and _slot_usable(h, st, st.previous):
                st = _roll_back(h, st, f"version {st.version_of(st.active)} did not start after "
                                       f"{st.boot_attempts} attempts", "auto-rollback")
            else:
                st.boot_attempts += 1
                save_state(h, st)
    return active_bundle(h)


def mark_started(home: Home | str | os.PathLike[str] | None = None) -> SlotState:
    """Call once the model is loaded and has generated: the start succeeded.

    After ``confirm_after`` good starts, a bundle on trial becomes the confirmed one.
    """
    with locked(home) as h:
        st = load_state(h)
        if st.trial:
            st.good_starts += 1
            st.boot_attempts = 0
            if st.good_starts >= st.confirm_after:
                st.trial = False
                st.last_event = {"what": "confirmed", "time": _now(), "slot": st.active,
                                 "version": st.version_of(st.active)}
            save_state(h, st)
        return st


def confirm(home: Home | str | os.PathLike[str] | None = None) -> SlotState:
    """End the trial of the active bundle now (an operator checked it by hand)."""
    with locked(home) as h:
        st = load_state(h)
        if st.trial:
            st.trial = False
            st.boot_attempts = 0
            st.last_event = {"what": "confirmed", "time": _now(), "slot": st.active,
                             "version": st.version_of(st.active)}
            save_state(h, st)
        return st


@contextlib.contextmanager
def starting(home: Home | str | os.PathLike[str] | None = None) -> Iterator[Path | None]:
    """``with starting(home) as bundle: load and warm up the engine`` — boot counting in one place.

    Leaving the block normally marks a good start; an exception (or a crash) inside does not.
    """
    path = boot(home)
    yield path
    if path is not None:
        mark_started(home)
