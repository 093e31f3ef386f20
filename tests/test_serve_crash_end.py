"""Crash-safe session end (issue 18, finding 4): SIGKILL at random points of ``end_session``.

A kill -9 during ``/api/session/end`` used to leave sessions with ``ended: null`` forever, facts
never consolidated and the audit log with starts without ends. A child process (``crash_end_child``)
runs the server's start-up recovery, then sessions and their ends in a loop; the parent kills it at
a random moment inside an end, ``ROUNDS`` times in one home. After the last round the recovery
runs once more and every session must have ended exactly once, with one audit end per start,
the chain intact, every acknowledged turn kept, and each patient's allergy a long-term memory.
"""

from __future__ import annotations

import collections
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from edgemem.home import Home
from edgemem.memory.service import MemoryService
from edgemem.privacy import data_key
from edgemem.privacy.audit import AuditLog
from edgemem.serve.recovery import finish_sessions
from privacy_helpers import HashEmbedder
from serve_helpers import running_kiosk

ROUNDS = int(os.environ.get("EDGEMEM_CRASH_END_ROUNDS", "50"))
CHILD = Path(__file__).resolve().parent / "crash_end_child.py"


def _round(home: Path, seed: int, round_no: int, rnd: random.Random) -> tuple[list[tuple[str, str]], int, bool]:
    """Run the child to its n-th ``BEGIN end`` and SIGKILL it 0-40 ms later (an end with the hash
    embedder takes ~10-40 ms here). Returns the acknowledged turns, what its recovery finished,
    and whether it died inside the end (no ``END`` after the last ``BEGIN end``)."""
    proc = subprocess.Popen([sys.executable, str(CHILD), str(home), str(seed), str(round_no)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    acked: list[tuple[str, str]] = []
    recovered = 0
    inside = False
    skip = rnd.randint(0, 2)
    deadline: float | None = None
    buf = ""
    start = time.monotonic()

    def take(line: str) -> None:
        nonlocal skip, deadline, recovered, inside
        parts = line.split()
        if line.startswith("ACK ") and len(parts) == 3:
            acked.append((parts[1], parts[2]))
        elif line.startswith("RECOVERED "):
            recovered = int(parts[1])
        elif line == "BEGIN end":
            inside = True
            if deadline is None:
                if skip == 0:
                    deadline = time.monotonic() + rnd.uniform(0.0, 0.04)
                skip -= 1
        elif line.startswith("END "):
            inside = False

    while deadline is None or time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"child exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        assert time.monotonic() - start < 60, "child did not reach an end"
        if select.select([fd], [], [], 0.002)[0]:
            buf += os.read(fd, 65536).decode()
            *lines, buf = buf.split("\n")
            for line in lines:
                take(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        buf += os.read(fd, 1 << 20).decode()
    except (BlockingIOError, OSError):
        pass
    for line in buf.split("\n"):
        take(line)
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    return acked, recovered, inside


def test_sigkill_during_session_end_is_finished_at_the_next_start(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    data_key.load_data_codec(home)
    rnd = random.Random(20261207)
    acked: dict[str, list[str]] = collections.defaultdict(list)
    killed_inside = recovered = 0
    t0 = time.monotonic()
    for round_no in range(ROUNDS):
        got, rec, inside = _round(home.root, rnd.randrange(2**31), round_no, rnd)
        for user, tid in got:
            acked[user].append(tid)
        killed_inside += inside
        recovered += rec
    svc = MemoryService(home, HashEmbedder(), data_key.load_data_codec(home))
    try:
        last = finish_sessions(svc, home)  # what the server's next start does
        recovered += last["finished"]
        assert not svc.store.unended_sessions()
        assert svc.store.conn.execute("SELECT COUNT(*) FROM sessions WHERE ending IS NOT NULL").fetchone()[0] == 0
        n_sessions = 0
        for user in svc.iter_users():
            pid = svc.store.patient(user, create=False)
            sessions = svc.store.sessions(pid)
            n_sessions += len(sessions)
            tids = [t["id"] for t in svc.export(user)["turns"]]
            assert len(tids) == len(set(tids)) and set(acked[user]) <= set(tids), user
            summaries = svc.store.memories(pid, tier="summary", status=None)
            by_session = collections.Counter(m.get("session_id") for m in summaries)
            with_turns = {t["session"] for t in svc.export(user)["turns"]}
            assert set(by_session) == with_turns and max(by_session.values()) == 1, user  # one summary each
            longs = svc.store.memories(pid, tier="long", status="active")
            texts = [m["text"] for m in longs]
            assert len(texts) == len(set(texts)), f"a memory consolidated twice for {user}"
            assert any("penicillin" in t.lower() for t in texts), f"{user}'s allergy is not a long-term memory"
        audit = AuditLog(home)
        entries = list(audit.entries())
        starts = collections.Counter(e["session"] for e in entries if e["action"] == "session_start")
        ends = collections.Counter(e["session"] for e in entries if e["action"] == "session_end")
        assert set(starts) <= set(ends), "audit starts without ends"
        assert max(ends.values()) == 1, "a session ended twice in the audit log"
        assert audit.verify().ok
    finally:
        svc.close()
    print(f"\nsession-end crash rounds: {ROUNDS} ({killed_inside} killed inside end_session), sessions "
          f"{n_sessions}, finished by recovery {recovered}, acknowledged turns "
          f"{sum(map(len, acked.values()))}, {time.monotonic() - t0:.1f} s")
    assert ROUNDS >= 50 or os.environ.get("EDGEMEM_CRASH_END_ROUNDS")
    assert killed_inside >= ROUNDS // 2  # the kills landed inside ends, not between them


def test_the_server_finishes_open_sessions_before_it_is_ready(_tiny_bundle_built, tmp_path: Path) -> None:
    """A session left open by a crash (and its audit start) is ended, consolidated and audited
    by the next ``edgemem serve`` before /readyz says ready."""
    from edgemem.privacy.audit import record

    home = Home(tmp_path / "home").ensure()
    svc = MemoryService(home)
    sid = svc.start_session("B-2002")
    svc.add_turn("B-2002", sid, "user", "I am allergic to penicillin.")
    svc.store.mark_ending(svc.store.patient("B-2002", create=False), sid, time.time())  # died mid-end
    svc.close()
    record(home, "session_start", user="B-2002", actor="kiosk", session=sid)
    with running_kiosk(_tiny_bundle_built, home.root) as k:
        assert httpx.get(k.url + "/readyz").json()["ready"] is True
        assert k.runtime.recovered["finished"] == 1 and k.runtime.recovered["interrupted_ends"] == 1
        mems = httpx.get(k.url + "/api/admin/patients/B-2002/memories", headers=k.admin_headers()).json()
        assert any("penicillin" in m["text"] for m in mems["memories"])
    ends = [e for e in AuditLog(home).entries() if e["action"] == "session_end" and e.get("session") == sid]
    assert len(ends) == 1 and ends[0]["actor"] == "recovery"
