"""Encryption at rest: every file under the home folder is scanned for patient canaries.

Turns, notes, summaries, the profile, the short-term rings and the vector index all hold patient
content; with a ``DataKey`` none of it may appear in plaintext anywhere (SQLite file, WAL, shared
memory file, index/, short_term/, the audit log). The same scan with ``PlainCodec`` must find the
canaries — otherwise the scan proves nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edgemem.home import Home
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.memory.service import MemoryService
from edgemem.privacy import data_key
from edgemem.privacy.audit import AuditLog
from edgemem.privacy.cipher import MAGIC, PlainCodec
from privacy_helpers import home_files, needles, scan, seed


@pytest.fixture(scope="module")
def embedder(minilm_embedder_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_embedder_dir)


USERS = ("ann", "ben")


def _fill(home: Home, codec, embedder, close: bool = True) -> MemoryService:
    svc = MemoryService(home, embedder, codec)
    for user in USERS:
        seed(svc, user)
        AuditLog(home).record("session_end", user=user, turns=12)
    if close:
        svc.close()
    return svc



@pytest.fixture(scope="module")
def sealed(tmp_path_factory, embedder):
    """A home with two patients stored under a DataKey; the scan runs while the service is open
    (WAL and -shm present) and after it closes."""
    home = Home(tmp_path_factory.mktemp("sealed")).ensure()
    codec = data_key.load_data_codec(home)
    svc = _fill(home, codec, embedder, close=False)
    svc.flush()
    open_hits = scan(home, ALL_NEEDLES)
    assert svc.search("ann", "allergy", 3)  # the data are really there
    svc.close()
    return home, codec, open_hits


ALL_NEEDLES = [n for u in USERS for n in needles(u)] + [b"allergic", b"daughter"]


def test_no_plaintext_canary_in_any_file(sealed):
    home, codec, open_hits = sealed
    assert open_hits == {}
    assert scan(home, ALL_NEEDLES) == {}
    # Which files were checked: the database, the index and the rings all exist and are sealed.
    names = {p.name for p in home_files(home)}
    assert "memory.sqlite" in names
    idx = list(home.index_dir.glob("*.usearch"))
    rings = list(home.short_term_dir.glob("*.stm"))
    assert len(idx) == len(USERS) and len(rings) == len(USERS)
    for f in idx + rings:
        assert f.read_bytes()[:7] == MAGIC + codec.key_id
    # Patient ids appear nowhere either (the audit log uses keyed pseudonyms).
    assert scan(home, [b"ann-0-", b'"ann"', b"user=ann"]) == {}


def test_every_sealed_column_is_ciphertext(sealed):
    home, codec, _ = sealed
    conn = sqlite3.connect(home.db_path)
    checked = 0
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'fts%' AND name NOT LIKE 'sqlite%'"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        for col in cols:
            for (v,) in conn.execute(f"SELECT {col} FROM {table} WHERE typeof({col})='blob' AND length({col}) > 0"):
                assert bytes(v)[:7] == MAGIC + codec.key_id, (table, col)
                checked += 1
    conn.close()
    assert checked > 50


def test_the_same_scan_finds_plaintext_without_encryption(tmp_path, embedder):
    home = Home(tmp_path).ensure()
    _fill(home, PlainCodec(), embedder)
    hits = scan(home, needles("ann"))
    assert hits, "PlainCodec data must be visible to the scan, or the scan is blind"
    assert any(f.startswith("memory.sqlite") for files in hits.values() for f in files)
