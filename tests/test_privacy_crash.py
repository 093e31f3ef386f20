"""Crash consistency: SIGKILL during ingestion and consolidation, 50 rounds, then restart.

A child process ingests turns and ends sessions (rehearsal + consolidation) in a loop, printing
``ACK`` for a turn only after ``add_turn`` returned. The parent kills it with SIGKILL at a random
moment, restarts the memory and checks: every acknowledged turn is present, none twice, no
long-term memory duplicated, and each patient's vector index holds exactly the keys SQLite has
embeddings for (it is rebuilt or caught up where the file lagged). The rounds accumulate in one
home folder, as a kiosk's would over many power cuts.
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


from edgemem.home import Home
from edgemem.memory.service import MemoryService
from edgemem.memory.vectors import PatientIndex
from edgemem.privacy import data_key
from privacy_helpers import HashEmbedder

ROUNDS = int(os.environ.get("EDGEMEM_CRASH_ROUNDS", "50"))
CHILD = Path(__file__).resolve().parent / "crash_child.py"


def _run_round(home: Path, seed: int, round_no: int, rnd: random.Random, target: str) -> tuple[list[tuple[str, str]], str]:
    """Run the child until the n-th start of ``target`` (ingest or consolidate), then SIGKILL it
    a random moment shortly after: inside that operation, or just past it. ``last`` is what the
    child had begun last when it died (from all it wrote, read after the kill too)."""
    proc = subprocess.Popen([sys.executable, str(CHILD), str(home), str(seed), str(round_no)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    acked: list[tuple[str, str]] = []
    last = "start"
    skip = rnd.randint(0, 4)
    deadline: float | None = None
    buf = ""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    start = time.monotonic()

    def take(line: str) -> None:
        nonlocal last, skip, deadline
        if line.startswith("ACK ") and len(line.split()) == 3:
            _, user, tid = line.split()
            acked.append((user, tid))
        elif line.startswith("BEGIN "):
            last = line[6:]
            if last == target and deadline is None:
                if skip == 0:
                    # Ingesting a turn takes a few ms, consolidating tens: aim inside each.
                    deadline = time.monotonic() + rnd.uniform(0.0, 0.003 if target == "ingest" else 0.03)
                skip -= 1

    while deadline is None or time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"child exited on its own: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() - start > 120:
            raise AssertionError("child did not reach the kill point")
        ready, _, _ = select.select([fd], [], [], 0.002)
        if ready:
            buf += os.read(fd, 65536).decode()
            *lines, buf = buf.split("\n")
            for line in lines:
                take(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:  # lines written before the kill are acknowledgements too
        buf += os.read(fd, 1 << 20).decode()
    except (BlockingIOError, OSError):
        pass
    for line in buf.split("\n"):
        take(line)
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    return acked, last


def _index_keys(idx) -> set[int]:
    return idx.keys()


def test_sigkill_during_ingestion_and_consolidation(tmp_path):
    home = Home(tmp_path / "home").ensure()
    data_key.load_data_codec(home)  # create the key before the children race to
    rnd = random.Random(20261124)
    acked_all: dict[str, list[str]] = collections.defaultdict(list)
    killed_in: collections.Counter[str] = collections.Counter()
    index_repairs = 0
    for round_no in range(ROUNDS):
        target = "ingest" if round_no % 2 == 0 else "consolidate"
        acked, last = _run_round(home.root, rnd.randrange(2**31), round_no, rnd, target)
        killed_in[last] += 1
        for user, tid in acked:
            acked_all[user].append(tid)
        svc = MemoryService(home, HashEmbedder(), data_key.load_data_codec(home))
        try:
            for user in list(svc.iter_users()):
                tids = [t["id"] for t in svc.export(user)["turns"]]
                assert len(tids) == len(set(tids)), f"round {round_no}: a turn stored twice for {user}"
                missing = set(acked_all[user]) - set(tids)
                assert not missing, f"round {round_no}: acknowledged turns lost: {sorted(missing)[:5]}"
                pid = svc.store.patient(user, create=False)
                mems = svc.store.memories(pid, status="active", tier="long")
                texts = [m["text"] for m in mems]
                assert len(texts) == len(set(texts)), f"round {round_no}: a memory consolidated twice for {user}"
                # The vector index file against SQLite: compare what is on disk, then what the
                # service serves after its load/rebuild/catch-up.
                before = {k for k, _ in svc.store.embeddings_since(pid, 0)}
                on_disk = PatientIndex(svc._index_path(pid), svc.codec, f"index:{pid}".encode(), dim=svc.dim,
                                       precision=svc.precision, **svc.index_params)
                if not on_disk.load() or _index_keys(on_disk) != before:
                    index_repairs += 1  # the file lagged or was torn: the service must repair it
                got = _index_keys(svc.index(pid))  # may also embed rows stored but not yet embedded
                expected = {k for k, _ in svc.store.embeddings_since(pid, 0)}
                assert got == expected, f"round {round_no}: index disagrees with SQLite for {user}"
        finally:
            svc.close()
    total = sum(len(v) for v in acked_all.values())
    print(f"\ncrash rounds: {ROUNDS}, acknowledged turns: {total}, killed during: {dict(killed_in)}, "
          f"index files repaired on restart: {index_repairs}")
    assert ROUNDS >= 50 or os.environ.get("EDGEMEM_CRASH_ROUNDS")
    assert total > ROUNDS  # the rounds did real work
    assert killed_in["ingest"] >= ROUNDS // 5 and killed_in["consolidate"] >= ROUNDS // 5
