"""Verified erasure: after ``forget``, not one byte of the patient is left under the home folder.

Canaries go into every tier (turns, FTS, notes, summaries, profile, short-term ring, vector index,
WAL). After ``forget`` every byte of every file is scanned: zero hits for the forgotten patient,
while the other patients stay intact. With ``PlainCodec`` this is where erasure really bites
(freed SQLite pages, FTS segments, the WAL hold plaintext unless secure_delete, FTS 'optimize' and
a WAL checkpoint do their work); with a ``DataKey`` the test looks for the patient's ciphertext
blobs instead.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edgemem.home import Home
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.memory.service import MemoryService
from edgemem.privacy import data_key
from edgemem.privacy.cipher import PlainCodec
from privacy_helpers import canary, needles, scan, seed

USERS = ("ann", "ben", "cat")


@pytest.fixture(scope="module")
def embedder(minilm_embedder_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_embedder_dir)


def _patient_blobs(home: Home, svc: MemoryService, user: str) -> list[bytes]:
    """Every sealed value stored for ``user`` (by internal patient id), straight from SQLite."""
    pid = svc.store.patient(user, create=False)
    conn = sqlite3.connect(home.db_path)
    out = []
    for table, col, key in [("turns", "text", "patient_id"), ("turns", "emb", "patient_id"),
                            ("memories", "text", "patient_id"), ("memories", "emb", "patient_id"),
                            ("patients", "name", "id"), ("patients", "profile", "id")]:
        out += [bytes(v) for (v,) in conn.execute(f"SELECT {col} FROM {table} WHERE {key}=? AND {col} IS NOT NULL", (pid,))]
    conn.close()
    # The nonce + first ciphertext bytes identify a blob; 24 bytes cannot recur by chance.
    return [b[7:31] for b in out if len(b) > 40]


@pytest.mark.parametrize("mode", ["plain", "datakey"])
def test_forget_leaves_no_byte_of_the_patient(tmp_path, embedder, mode):
    home = Home(tmp_path).ensure()
    codec = PlainCodec() if mode == "plain" else data_key.load_data_codec(home)
    svc = MemoryService(home, embedder, codec)
    for u in USERS:
        seed(svc, u)
    svc.flush()
    if mode == "plain":
        assert scan(home, needles("ben")), "control: plaintext canaries must be visible before forget"
        blobs = []
    else:
        blobs = _patient_blobs(home, svc, "ben")
        assert len(blobs) > 20 and scan(home, blobs), "control: the patient's ciphertext is on disk"
    ring_files = {p.name for p in home.short_term_dir.glob("*.stm")}
    index_files = {p.name for p in home.index_dir.glob("*.usearch")}
    assert len(ring_files) == 3 and len(index_files) == 3

    assert svc.forget("ben") is True
    # Scanned while the service is still open (WAL, -shm) and again after close.
    assert scan(home, needles("ben") + blobs) == {}
    svc.close()
    assert scan(home, needles("ben") + blobs) == {}
    assert len(list(home.short_term_dir.glob("*.stm"))) == 2 and len(list(home.index_dir.glob("*.usearch"))) == 2

    # Other patients intact, in every tier.
    svc = MemoryService(home, embedder, codec)
    assert "ben" not in set(svc.iter_users())
    for u in ("ann", "cat"):
        data = svc.export(u)
        texts = " ".join(t["text"] for t in data["turns"])
        assert all(canary(u, i) in texts for i in range(6))
        assert len(data["turns"]) == 12 and data["memories"] and data["summaries"] and data["short_term"]
        hits = svc.search(u, f"allergic to {canary(u, 1)}", 5)
        assert hits and canary(u, 1) in " ".join(h.text for h in hits)
    if mode == "plain":
        assert scan(home, needles("ann")) and scan(home, needles("cat"))
    svc.close()


def test_forget_through_the_cli(tmp_path, embedder, minilm_embedder_dir):
    """`edgemem memory forget` in a fresh process: the same zero-hit scan (canaries and ciphertext)."""
    home = Home(tmp_path).ensure()
    svc = MemoryService(home, embedder, data_key.load_data_codec(home))
    for u in ("ann", "ben"):
        seed(svc, u, sessions=1)
    blobs = _patient_blobs(home, svc, "ann")
    svc.close()
    out = subprocess.run([sys.executable, "-c", "from edgemem.cli.main import main; main()",
                          "--home", str(home.root), "memory", "forget",
                          "--user", "ann", "--yes", "--embedder", str(minilm_embedder_dir)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert scan(home, needles("ann") + blobs) == {}
    svc = MemoryService(home, embedder, data_key.load_data_codec(home))
    assert list(svc.iter_users()) == ["ben"] and len(svc.export("ben")["turns"]) == 6
    svc.close()
