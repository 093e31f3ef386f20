"""The data key: 0600 key file or scrypt passphrase, clear errors for a wrong key, crash-safe rotation."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from edgemem.home import Home
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.memory.service import MemoryService, reencrypt_home
from edgemem.privacy import data_key
from edgemem.privacy.audit import AuditLog
from edgemem.privacy.cipher import DataKey, KeyMismatchError

CANARY = "zq-canary-ocelot-4471"


@pytest.fixture(scope="module")
def embedder(minilm_embedder_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_embedder_dir)


def _fill(home: Home, codec, embedder, users=("ann", "ben")) -> None:
    svc = MemoryService(home, embedder, codec)
    for u in users:
        sid = svc.start_session(u, time=1_700_000_000)
        svc.add_turn(u, sid, "user", f"My name is {u} and my allergy code is {CANARY}-{u}. I take metformin daily.")
        svc.add_turn(u, sid, "assistant", "Thank you, noted.")
        svc.end_session(u, sid)
    svc.close()


def _all_bytes(home: Home) -> bytes:
    return b"".join(p.read_bytes() for p in home.root.rglob("*") if p.is_file())


def test_key_file_is_created_0600_and_reloads(tmp_path):
    home = Home(tmp_path).ensure()
    k1 = data_key.load_data_codec(home)
    path = home.keys / "data.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == 32
    assert data_key.load_data_codec(home).key_id == k1.key_id
    st = data_key.status(home)
    assert st["mode"] == "file" and st["key_id"] == k1.key_id.hex() and st["key_file_mode"] == "0o600"
    with pytest.raises(data_key.DataKeyError):
        data_key.init_key(home)  # never silently replaces a key


def test_memory_without_a_codec_uses_the_managed_data_key(tmp_path):
    """A MemoryService given no codec goes through privacy.data_key: a recorded, checked key, never plaintext."""
    home = Home(tmp_path).ensure()
    svc = MemoryService(home, None)
    sid = svc.start_session("ann", time=1_700_000_000)
    svc.add_turn("ann", sid, "user", f"my code is {CANARY}")
    svc.close()
    info = json.loads((home.keys / "keyinfo.json").read_text())
    assert info["mode"] == "file" and info["key_id"] == svc.codec.key_id.hex()
    assert data_key.load_data_codec(home).key_id == svc.codec.key_id
    assert CANARY.encode() not in _all_bytes(home)


def test_wrong_key_file_is_a_clear_error_not_garbage(tmp_path, embedder):
    home = Home(tmp_path).ensure()
    _fill(home, data_key.load_data_codec(home), embedder, users=("ann",))
    (home.keys / "data.key").write_bytes(os.urandom(32))
    with pytest.raises(KeyMismatchError, match="wrong key file"):
        data_key.load_data_codec(home)
    # The memory's default codec goes through the same check.
    from edgemem.memory.keyfile import default_codec

    with pytest.raises(KeyMismatchError):
        default_codec(home)


def test_memory_opened_directly_with_a_wrong_key_refuses(tmp_path, embedder):
    home = Home(tmp_path).ensure()
    _fill(home, DataKey.generate(), embedder, users=("ann",))
    with pytest.raises(KeyMismatchError, match="another data key"):
        MemoryService(home, embedder, DataKey.generate())


def test_passphrase_mode(tmp_path, monkeypatch, embedder):
    home = Home(tmp_path).ensure()
    key = data_key.init_key(home, passphrase="correct horse battery staple")
    assert not (home.keys / "data.key").exists()
    info = json.loads((home.keys / "keyinfo.json").read_text())
    assert info["mode"] == "passphrase" and info["kdf"]["name"] == "scrypt" and len(bytes.fromhex(info["kdf"]["salt"])) == 16
    with pytest.raises(data_key.DataKeyError, match="passphrase"):
        data_key.load_data_codec(home)
    with pytest.raises(KeyMismatchError, match="wrong passphrase"):
        data_key.load_data_codec(home, passphrase="correct horse battery stapler")
    monkeypatch.setenv(data_key.PASSPHRASE_ENV, "correct horse battery staple")
    same = data_key.load_data_codec(home)
    assert same.key_id == key.key_id
    _fill(home, same, embedder, users=("ann",))
    assert CANARY.encode() not in _all_bytes(home)


def test_rotation_reencrypts_everything_and_the_old_key_then_fails(tmp_path, embedder):
    home = Home(tmp_path).ensure()
    old = data_key.load_data_codec(home)
    old_raw = (home.keys / "data.key").read_bytes()
    _fill(home, old, embedder)
    before = MemoryService(home, embedder, old)
    hits_before = [h.text for h in before.search("ann", "allergy code", 5)]
    before.close()

    result = data_key.rotate(home, reencrypt=reencrypt_home)
    assert result["old_key_id"] == old.key_id.hex() and result["new_key_id"] != result["old_key_id"]
    new = data_key.load_data_codec(home)
    assert new.key_id.hex() == result["new_key_id"]
    assert not (home.keys / data_key.PENDING_FILE).exists()

    # Every ciphertext on disk now carries the new key id, none the old one.
    blob = _all_bytes(home)
    assert b"EM1" + old.key_id not in blob and b"EM1" + new.key_id in blob
    assert CANARY.encode() not in blob
    # Same answers under the new key (rows, blinded FTS, vector index all re-keyed).
    svc = MemoryService(home, embedder, new)
    assert [h.text for h in svc.search("ann", "allergy code", 5)] == hits_before
    assert any(CANARY in t["text"] for t in svc.export("ben")["turns"])
    svc.close()
    # The old key opens nothing: not a stored row, not the memory through the service.
    import sqlite3

    conn = sqlite3.connect(home.db_path)
    blobs = [bytes(r[0]) for r in conn.execute("SELECT text FROM turns")]
    conn.close()
    assert blobs
    for b in blobs:
        with pytest.raises(KeyMismatchError, match="different key"):
            DataKey(old_raw).decrypt(b)
    with pytest.raises(KeyMismatchError):
        MemoryService(home, embedder, DataKey(old_raw))
    assert [e["action"] for e in AuditLog(home).entries()].count("key_rotate") == 1


def test_rotation_to_a_passphrase_and_back(tmp_path, embedder):
    home = Home(tmp_path).ensure()
    _fill(home, data_key.load_data_codec(home), embedder, users=("ann",))
    data_key.rotate(home, reencrypt=reencrypt_home, new_passphrase="s3cret phrase")
    assert data_key.status(home)["mode"] == "passphrase" and not (home.keys / "data.key").exists()
    k = data_key.load_data_codec(home, passphrase="s3cret phrase")
    assert MemoryService(home, embedder, k).export("ann")["turns"]
    data_key.rotate(home, reencrypt=reencrypt_home, passphrase="s3cret phrase")
    assert data_key.status(home)["mode"] == "file"
    assert MemoryService(home, embedder, data_key.load_data_codec(home)).export("ann")["turns"]


@pytest.mark.parametrize("stage", ["pending_only", "db_rekeyed", "info_switched"])
def test_interrupted_rotation_is_finished_on_next_load(tmp_path, embedder, stage):
    """Reproduce each state a power cut can leave and check the next load completes the rotation."""
    home = Home(tmp_path).ensure()
    old = data_key.load_data_codec(home)
    _fill(home, old, embedder)
    probe = MemoryService(home, None, old)
    notes_before = {u: sorted(n["id"] for n in probe.short_term(u)) for u in ("ann", "ben")}
    probe.close()
    assert all(notes_before.values())
    new_raw = os.urandom(32)
    new = DataKey(new_raw)
    new_info = {"mode": "file", "key_id": new.key_id.hex(), "created": "x", "rotated": "y"}
    pending = {"wrapped_key": old.encrypt(new_raw, data_key._WRAP_AAD).hex(), "info": new_info}
    data_key._write_private(home.keys / data_key.PENDING_FILE, json.dumps(pending).encode())
    if stage in ("db_rekeyed", "info_switched"):
        svc = MemoryService(home, None, data_key.KeyRing(new, old))
        svc.store.rekey(new)  # the database committed, the rings/index files not yet rewritten
        svc.store.close()
    if stage == "info_switched":
        data_key._write_info(home, new_info)  # keyinfo.json written, data.key still the old one
    with pytest.raises(data_key.DataKeyError, match="interrupted"):  # the data still need the memory's step
        data_key.load_data_codec(home)
    loaded = data_key.load_data_codec(home, reencrypt=reencrypt_home)
    assert loaded.key_id == new.key_id
    assert not (home.keys / data_key.PENDING_FILE).exists()
    svc = MemoryService(home, embedder, loaded)
    assert any(CANARY in t["text"] for t in svc.export("ann")["turns"])
    assert svc.search("ben", "allergy code", 3)
    assert {u: sorted(n["id"] for n in svc.short_term(u)) for u in ("ann", "ben")} == notes_before
    svc.close()
    assert b"EM1" + old.key_id not in _all_bytes(home)


def test_memory_opened_without_a_codec_finishes_an_interrupted_rotation(tmp_path, embedder):
    """The memory's default codec hands privacy.data_key its re-encrypt step (keys never imports the memory)."""
    home = Home(tmp_path).ensure()
    old = data_key.load_data_codec(home)
    _fill(home, old, embedder, users=("ann",))
    new_raw = os.urandom(32)
    new = DataKey(new_raw)
    new_info = {"mode": "file", "key_id": new.key_id.hex(), "created": "x", "rotated": "y"}
    pending = {"wrapped_key": old.encrypt(new_raw, data_key._WRAP_AAD).hex(), "info": new_info}
    data_key._write_private(home.keys / data_key.PENDING_FILE, json.dumps(pending).encode())
    svc = MemoryService(home, embedder)
    assert svc.codec.key_id == new.key_id and not (home.keys / data_key.PENDING_FILE).exists()
    assert any(CANARY in t["text"] for t in svc.export("ann")["turns"])
    svc.close()
    assert b"EM1" + old.key_id not in _all_bytes(home)
