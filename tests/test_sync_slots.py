"""A/B slot state: switching, rollback, and the boot counter that undoes a bundle which crashes at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgemem.home import Home
from edgemem.sync import slots


def _install(home: Home, version: int, payload: str = "") -> str:
    """Stage a folder into the inactive slot the way apply does, and switch to it."""
    with slots.locked(home) as h:
        st = slots.load_state(h)
        slot = slots.release_inactive(h, st)
        staging = slots.new_staging_dir(h, slot)
        (staging / "manifest.json").write_text(json.dumps({"version": version}))
        (staging / "payload.txt").write_text(payload or f"bundle {version}")
        slots.install_staged(h, staging, slot)
        slots.switch(h, st, slot, slots.SlotInfo(version=version))
    return slot


@pytest.fixture
def home() -> Home:
    return Home.resolve(None).ensure()


def test_empty_home_has_no_active_bundle(home: Home) -> None:
    assert slots.active_bundle(home) is None
    assert slots.boot(home) is None
    st = slots.status(home)
    assert st["active"] is None and st["can_rollback"] is False
    with pytest.raises(slots.SlotError, match="no previous bundle"):
        slots.rollback(home)


def test_switch_alternates_slots_and_keeps_previous(home: Home) -> None:
    assert _install(home, 1) == "a"
    assert slots.active_bundle(home) == home.slots / "a"
    st = slots.load_state(home)
    assert st.trial is False, "a first install has nothing to fall back to, so no trial"
    g1 = slots.active_generation(home)

    assert _install(home, 2) == "b"
    st = slots.load_state(home)
    assert (st.active, st.previous, st.trial) == ("b", "a", True)
    assert slots.active_generation(home) == g1 + 1
    assert (slots.active_bundle(home) / "payload.txt").read_text() == "bundle 2"

    # The third install overwrites the oldest slot, never the active one.
    assert _install(home, 3) == "a"
    st = slots.load_state(home)
    assert (st.active, st.previous) == ("a", "b")
    assert (home.slots / "b" / "payload.txt").read_text() == "bundle 2"
    assert not [p for p in home.slots.iterdir() if p.name.startswith(".")]


def test_manual_rollback_swaps_back_and_changes_generation(home: Home) -> None:
    _install(home, 1)
    _install(home, 2)
    g = slots.active_generation(home)
    slots.rollback(home, reason="operator")
    st = slots.load_state(home)
    assert st.active == "a" and st.version_of(st.active) == 1 and st.previous == "b"
    assert slots.active_generation(home) == g + 1
    assert st.last_event["what"] == "rollback" and st.last_event["reason"] == "operator"


def test_good_start_confirms_trial(home: Home) -> None:
    _install(home, 1)
    _install(home, 2)
    with slots.starting(home) as path:
        assert path == home.slots / "b"
        assert slots.load_state(home).boot_attempts == 1
    st = slots.load_state(home)
    assert st.trial is False and st.boot_attempts == 0
    # Once confirmed, crashes no longer count: the bundle is the known-good one.
    for _ in range(5):
        assert slots.boot(home) == home.slots / "b"


_CRASH = """
import os, sys
from edgemem.sync import slots
path = slots.boot(sys.argv[1])
print(path, flush=True)
os.kill(os.getpid(), 9)  # the new model 'crashes' while loading, before mark_started
"""


def test_bundle_that_crashes_at_start_is_rolled_back_by_the_next_start(home: Home) -> None:
    _install(home, 1)
    _install(home, 2)
    st = slots.load_state(home)
    seen = []
    for _ in range(st.max_boot_attempts):
        r = subprocess.run([sys.executable, "-c", _CRASH, str(home.root)], capture_output=True, text=True)
        assert r.returncode == -9
        seen.append(r.stdout.strip())
    assert seen == [str(home.slots / "b")] * st.max_boot_attempts
    assert slots.load_state(home).boot_attempts == st.max_boot_attempts
    # The next start gives up on version 2 by itself.
    assert slots.boot(home) == home.slots / "a"
    st = slots.load_state(home)
    assert st.active == "a" and st.trial is False and st.failed_versions == [2]
    assert st.last_event["what"] == "auto-rollback"
    assert "did not start" in st.last_event["reason"]


def test_interrupted_staging_is_cleaned_and_never_active(home: Home) -> None:
    _install(home, 1)
    with slots.locked(home) as h:
        st = slots.load_state(h)
        slot = slots.release_inactive(h, st)
        staging = slots.new_staging_dir(h, slot)
        (staging / "manifest.json").write_text("{}")
        # ... power lost here: nothing switched.
    assert slots.active_bundle(home) == home.slots / "a"
    with slots.locked(home) as h:
        assert slots.cleanup(h) == [staging.name]
    assert not staging.exists()


def test_lock_refuses_a_second_writer(home: Home) -> None:
    with slots.locked(home):
        with pytest.raises(slots.SlotError, match="another update"):
            with slots.locked(home, wait=False):
                pass


def test_corrupt_state_reads_as_no_bundle_and_status_says_why(home: Home) -> None:
    _install(home, 1)
    slots.state_path(home).write_text("{not json")
    assert slots.active_bundle(home) is None
    with pytest.raises(slots.SlotError, match="unreadable"):
        slots.status(home)
