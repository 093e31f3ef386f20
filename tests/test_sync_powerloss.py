"""Power-loss safety: SIGKILL ``edgemem sync apply`` at random points; exactly one whole bundle stays active.

Each round kills a real ``edgemem sync apply`` subprocess. Half the kills are aimed: the apply
runs with ``EDGEMEM_SYNC_SLOW`` (a short sleep at every named step) and ``EDGEMEM_SYNC_TRACE``,
and the test kills it a random moment after a chosen step was reached (cycling through all), so every phase
(verify, copy, smoke test, slot release, rename into the slot, state switch) gets hit. The other
half land at a uniformly random time. After every kill the device must have exactly one active
bundle, old or new, whose files verify against its signed manifest, whose version is the one the
state file records, and which the engine loads.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgemem import bundle, signing_keys
from edgemem.home import Home
from edgemem.sync import apply, slots
from sync_bundles import build_tiny_bundle

ROUNDS = 32
SLOW = 0.03
POINTS = ["start", "checked", "copy-file", "copied", "staged", "smoked", "released", "installed", "switched"]
_APPLY = "import sys; from edgemem.cli.main import main; sys.argv[0] = 'edgemem'; main()"


def _run_and_kill(home: Home, target: Path, rng: random.Random, aim: str | None) -> tuple[str, int | None]:
    env = {**os.environ, "EDGEMEM_HOME": str(home.root), "EDGEMEM_SYNC_SLOW": str(SLOW),
           "EDGEMEM_SYNC_TRACE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _APPLY, "sync", "apply", str(target), "--allow-downgrade"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    last = "before-start"
    if aim is not None:
        deadline = time.monotonic() + 30
        for line in proc.stderr:
            if line.startswith("sync-point "):
                last = line.split()[1]
                if last == aim:
                    break
            if time.monotonic() > deadline:
                break
        time.sleep(rng.uniform(0, SLOW * 1.5))
    else:
        time.sleep(rng.uniform(0.3, 1.3))
        last = "random-time"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return last, proc.returncode


def test_sigkill_during_apply_never_leaves_a_mix(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from edgemem.engine import Engine

    home = Home.resolve(None).ensure()
    vendor = signing_keys.generate()
    signing_keys.trust(vendor.public_key(), home)
    b = {v: build_tiny_bundle(tiny_llama_dir, tmp_path / f"v{v}", vendor, version=v) for v in (2, 3)}
    apply.apply(b[2], home)
    rng = random.Random(1234)
    outcomes = {"old": 0, "new": 0}
    phases: set[str] = set()
    # Aimed rounds cycle through every step (shuffled), so each phase is hit whatever the load;
    # the other rounds alternate with them and kill at a random time.
    aims: list[str] = []
    while len(aims) < ROUNDS // 2:
        aims += rng.sample(POINTS, len(POINTS))
    plan = [a for pair in zip(aims, [None] * len(aims)) for a in pair][:ROUNDS]
    for aim in plan:
        old = slots.load_state(home).version_of(slots.load_state(home).active)
        new = 3 if old == 2 else 2
        phase, code = _run_and_kill(home, b[new], rng, aim)
        st = slots.load_state(home)
        active = slots.active_bundle(home)
        assert active is not None, f"no active bundle after a kill at {phase}"
        m = bundle.verify(active, None, home)  # whole and signed: every file matches the manifest
        assert m.version in (old, new) and st.version_of(st.active) == m.version, phase
        assert Engine.from_bundle(active, home=home).manifest.version == m.version
        if code == -signal.SIGKILL:
            phases.add(phase)
        outcomes["new" if m.version == new else "old"] += 1
    print(f"power-loss rounds: {outcomes}, kills landed after: {sorted(phases)}")
    assert outcomes["old"] >= 3 and outcomes["new"] >= 1, outcomes
    assert len(phases - {"random-time", "before-start"}) >= 7, phases
    # Leftovers of killed applies are cleaned up by the next one, which works normally.
    cur = slots.load_state(home).version_of(slots.load_state(home).active)
    apply.apply(b[3 if cur == 2 else 2], home, allow_downgrade=True)
    assert not [p for p in home.slots.iterdir() if p.name.startswith(".")]
    assert sorted(p.name for p in home.slots.iterdir()) == ["a", "b"]
