"""The memory's storage tiers on real files: SQLite+FTS5, usearch index files, the short-term ring.

Isolation between patients, encryption at rest, persistence across restarts, rebuilding the
derived index, and forget leaving nothing behind.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edgemem.home import Home
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.memory.service import MemoryService
from edgemem.privacy.cipher import DataKey, PlainCodec


@pytest.fixture(scope="module")
def embedder(minilm_embedder_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_embedder_dir)


def _home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


def _seed(svc: MemoryService, user: str, lines: list[tuple[str, str]], t0: float = 1_700_000_000.0,
          prefix: str = "") -> str:
    sid = svc.start_session(user, time=t0)
    for i, (role, text) in enumerate(lines):
        svc.add_turn(user, sid, role, text, time=t0 + 60 * i, turn_id=f"{prefix}{user}-{i}")
    svc.end_session(user, sid)
    return sid


ALICE = [("user", "I am allergic to penicillin and I take metformin for my diabetes."),
         ("assistant", "Thank you. I recommend you keep a list of your medications with you."),
         ("user", "My left knee has been swelling since the football match.")]
BOB = [("user", "I have been coughing at night and I use an albuterol inhaler."),
       ("assistant", "A night cough with asthma should be checked; keep using the inhaler.")]


def test_patients_are_isolated(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    svc = MemoryService(_home(tmp_path), embedder, DataKey.generate())
    _seed(svc, "alice", ALICE)
    _seed(svc, "bob", BOB)
    for query in ("penicillin allergy", "knee swelling", "metformin diabetes"):
        bob_hits = svc.search("bob", query, 10)
        assert all("alice" not in sid for h in bob_hits for sid in h.source_ids)
        assert not any("penicillin" in h.text or "knee" in h.text for h in bob_hits)
    alice_hits = svc.search("alice", "penicillin allergy", 5)
    assert alice_hits and "penicillin" in alice_hits[0].text
    assert all(s.startswith("alice-") for h in alice_hits for s in h.source_ids)
    assert svc.search("carol", "anything", 5) == []
    svc.close()


def test_encrypted_at_rest_and_fts_blinded(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    home = _home(tmp_path)
    svc = MemoryService(home, embedder, DataKey.generate())
    _seed(svc, "alice", ALICE)
    svc.close()
    blobs = b"".join(p.read_bytes() for p in home.root.rglob("*") if p.is_file() and p.name != "data.key")
    for secret in (b"penicillin", b"metformin", b"alice", b"knee"):
        assert secret not in blobs
    # FTS holds tokens, but none is a word the patient said.
    conn = sqlite3.connect(home.db_path)
    rows = conn.execute("SELECT body FROM fts").fetchall()
    assert rows and all(tok.startswith("t") and len(tok) == 17 for (body,) in rows for tok in body.split())
    conn.close()


def test_plaintext_codec_shows_what_encryption_hides(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    # The same check with PlainCodec finds the words: the test above can fail.
    home = _home(tmp_path)
    svc = MemoryService(home, embedder, PlainCodec())
    _seed(svc, "alice", ALICE)
    svc.close()
    data = home.db_path.read_bytes() + (home.db_path.with_name("memory.sqlite-wal").read_bytes()
                                        if home.db_path.with_name("memory.sqlite-wal").exists() else b"")
    assert b"penicillin" in data


def test_restart_keeps_everything_and_wrong_key_fails(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    home = _home(tmp_path)
    key = DataKey.generate()
    svc = MemoryService(home, embedder, key)
    _seed(svc, "alice", ALICE)
    before_mem = svc.list_memories("alice")
    before_short = svc.short_term("alice")
    pref = svc.profile_of("alice")
    svc.close()
    svc2 = MemoryService(home, embedder, key)
    assert svc2.list_memories("alice") == before_mem
    assert svc2.short_term("alice") == before_short and before_short
    assert svc2.profile_of("alice") == pref
    hits = svc2.search("alice", "knee swelling", 3)
    assert any("knee" in h.text for h in hits)
    svc2.close()
    from edgemem.errors import EdgememError

    with pytest.raises(EdgememError):
        # Another key is refused when the memory opens (it could neither find nor decrypt rows).
        MemoryService(home, embedder, DataKey.generate()).export("alice")


def _dense_only(svc: MemoryService, user: str, query: str) -> list[str]:
    return [h.text for h in svc.search(user, query, 3, mode="dense", reinforce=False)]


@pytest.mark.parametrize("damage", ["delete", "corrupt", "truncate"])
def test_index_is_rebuilt_from_sqlite(tmp_path: Path, embedder: OnnxEmbedder, damage: str) -> None:
    home = _home(tmp_path)
    key = DataKey.generate()
    svc = MemoryService(home, embedder, key)
    _seed(svc, "alice", ALICE)
    expected = _dense_only(svc, "alice", "swollen knee after sports")
    svc.close()
    files = list(home.index_dir.glob("*.usearch"))
    assert len(files) == 1
    if damage == "delete":
        files[0].unlink()
    elif damage == "corrupt":
        raw = bytearray(files[0].read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        files[0].write_bytes(bytes(raw))
    else:
        files[0].write_bytes(files[0].read_bytes()[:100])
    svc2 = MemoryService(home, embedder, key)
    assert _dense_only(svc2, "alice", "swollen knee after sports") == expected
    svc2.close()
    assert files[0].exists()  # saved again on close


def test_stale_index_catches_up(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    home = _home(tmp_path)
    key = DataKey.generate()
    svc = MemoryService(home, embedder, key)
    _seed(svc, "alice", ALICE)
    svc.close()
    index_file = next(home.index_dir.glob("*.usearch"))
    old = index_file.read_bytes()
    svc = MemoryService(home, embedder, key)
    _seed(svc, "alice", [("user", "I started physiotherapy for my shoulder injury.")], t0=1_700_100_000.0, prefix="s2-")
    svc.close()
    index_file.write_bytes(old)  # an index saved before the last session: stale
    svc = MemoryService(home, embedder, key)
    idx = svc.index(svc.store.patient("alice"))
    assert idx.generation == svc.store.generation(svc.store.patient("alice"))
    assert any("physiotherapy" in t for t in _dense_only(svc, "alice", "shoulder physiotherapy"))
    svc.close()


def test_forget_leaves_nothing(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    home = _home(tmp_path)
    svc = MemoryService(home, embedder, PlainCodec())  # plaintext, so leftovers would be visible
    _seed(svc, "alice", ALICE)
    _seed(svc, "bob", BOB)
    pid = svc.store.patient("alice")
    assert len(list(home.index_dir.glob("*.usearch"))) == 2
    assert len(list(home.short_term_dir.glob("*.stm"))) == 2
    assert svc.forget("alice") is True
    conn = svc.store.conn
    for table in ("sessions", "turns", "memories", "history"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE patient_id=?", (pid,)).fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM fts WHERE pid MATCH ?", (f"p{pid}",)).fetchone()[0] == 0
    assert len(list(home.index_dir.glob("*.usearch"))) == 1
    assert len(list(home.short_term_dir.glob("*.stm"))) == 1
    assert list(svc.iter_users()) == ["bob"]
    assert svc.search("alice", "penicillin", 5) == []
    assert svc.search("bob", "inhaler", 3)  # bob untouched
    svc.close()
    data = b"".join(p.read_bytes() for p in home.root.rglob("*") if p.is_file())
    for secret in (b"penicillin", b"metformin", b"football"):
        assert secret not in data, secret


def test_delete_one_memory(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    svc = MemoryService(_home(tmp_path), embedder, DataKey.generate())
    _seed(svc, "alice", ALICE)
    allergy = next(m for m in svc.list_memories("alice") if m["kind"] == "allergy")
    assert svc.delete_memory("alice", allergy["id"]) is True
    assert svc.delete_memory("alice", allergy["id"]) is False
    assert all(h.memory_id != allergy["id"] for h in svc.search("alice", "allergic penicillin", 10))
    svc.close()


def test_consent_users_export_and_rekey(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    home = _home(tmp_path)
    svc = MemoryService(home, embedder, DataKey.generate())
    _seed(svc, "alice", ALICE)
    assert svc.consent("alice") is False
    svc.set_consent("alice", True)
    assert svc.consent("alice") is True
    ex = svc.export("alice")
    assert {t["id"] for t in ex["turns"]} == {"alice-0", "alice-1", "alice-2"}
    assert any(m["kind"] == "allergy" for m in ex["memories"]) and ex["summaries"]
    new = DataKey.generate()
    svc.rekey(new)
    hits_after = svc.search("alice", "penicillin", 3)
    svc.close()
    svc2 = MemoryService(home, embedder, new)
    assert svc2.export("alice")["turns"] == ex["turns"]
    assert [h.text for h in svc2.search("alice", "penicillin", 3)] == [h.text for h in hits_after]
    assert svc2.short_term("alice")
    svc2.close()


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    """A process killed right after add_turn returned: turns, embeddings-to-be and notes all come back."""
    import os
    import signal
    import subprocess
    import sys

    home = _home(tmp_path)
    (tmp_path / "key").write_bytes(key_bytes := os.urandom(32))
    key = DataKey(key_bytes)
    script = f"""
import os, signal
from edgemem.home import Home
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.memory.service import MemoryService
from edgemem.privacy.cipher import DataKey
svc = MemoryService(Home.resolve({str(home.root)!r}), OnnxEmbedder({str(embedder.folder)!r}),
                    DataKey(open({str(tmp_path / 'key')!r}, 'rb').read()))
sid = svc.start_session("zoe", time=1_700_000_000)
svc.add_turn("zoe", sid, "user", "I am allergic to latex and I take lisinopril.", turn_id="z0")
svc.add_turn("zoe", sid, "user", "My ankle has been swollen since Sunday.", turn_id="z1")
print("acked", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL and "acked" in proc.stdout, proc.stderr
    svc = MemoryService(home, embedder, key)
    assert [t["id"] for t in svc.export("zoe")["turns"]] == ["z0", "z1"]
    kinds = {(n["kind"], n["subject"]) for n in svc.short_term("zoe")}
    assert {("allergy", "latex"), ("medication", "lisinopril"), ("symptom", "swelling")} <= kinds
    assert any("ankle" in h.text for h in svc.search("zoe", "swollen ankle", 3, mode="dense"))
    svc.close()


def test_i8_index_with_exact_rerank_matches_f16(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    from edgemem.profiles import load

    texts = [("user", f"Visit {i}: " + t) for i, t in enumerate([
        "my knee swells after football", "I take metformin every morning", "penicillin gives me hives",
        "I sleep badly since my new job", "my left ear rings at night", "I get heartburn after coffee",
        "my ankle hurts when I run", "I feel dizzy when I stand up quickly", "I have a rash on my arm"])]
    results = {}
    for name in ("x86-kiosk", "pi-zero-2w"):  # f16 and i8 indexes
        svc = MemoryService(Home(tmp_path / name).ensure(), embedder, DataKey.generate(), load(name))
        _seed(svc, "kim", texts)
        assert svc.index(svc.store.patient("kim")).precision == load(name).index_precision
        results[name] = [h.source_ids for h in svc.search("kim", "joint swelling after sport", 5, mode="dense")]
        svc.close()
    assert results["x86-kiosk"] == results["pi-zero-2w"]


class _Recording:
    """The real embedder, recording every text it is asked to embed."""

    def __init__(self, real: OnnxEmbedder) -> None:
        self.real, self.dim, self.texts = real, real.dim, []  # type: ignore[var-annotated]

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return self.real.embed(texts)


def test_only_the_assistants_advice_gets_a_vector_and_the_rest_stays_searchable(
        tmp_path: Path, embedder: OnnxEmbedder) -> None:
    home, key = _home(tmp_path), DataKey.generate()
    question = "How long has the knee been swelling, and does it hurt when you climb stairs?"
    chat = ALICE + [("assistant", question)]
    rec = _Recording(embedder)
    svc = MemoryService(home, rec, key)
    _seed(svc, "alice", chat)
    svc.close()
    assert question not in rec.texts
    # The advice turn is embedded as its advice sentence alone, without the "Thank you."
    assert "I recommend you keep a list of your medications with you." in rec.texts
    assert ALICE[1][1] not in rec.texts
    assert all(text in rec.texts for role, text in ALICE if role == "user")
    rec.texts.clear()
    svc = MemoryService(home, rec, key)  # a restart must not take it for a crash leftover
    pid = svc.store.patient("alice")
    assert not svc.store.any_pending(pid)
    assert len(svc.index(pid)) > 0 and not rec.texts
    hits = svc.search("alice", "how long has the knee been swelling, stairs", 5, reinforce=False, mode="bm25")
    assert any(h.text == question for h in hits)  # still found by its words
    svc.rekey(DataKey.generate())  # the sealed empty vector re-encrypts like any other
    svc.close()
    everything = _Recording(embedder)
    svc = MemoryService(_home(tmp_path / "all"), everything, DataKey.generate(),
                        embed_roles=("user", "assistant", "other"))
    _seed(svc, "alice", chat)
    svc.close()
    assert question in everything.texts


def test_each_turn_is_embedded_once_even_when_a_batch_comes_before_any_search(
        tmp_path: Path, embedder: OnnxEmbedder) -> None:
    """The first full batch of a fresh service used to load the index mid-batch, and the load's
    crash catch-up embedded the same pending rows again."""
    rec = _Recording(embedder)
    svc = MemoryService(_home(tmp_path), rec, DataKey.generate(), embed_batch=8)
    sid = svc.start_session("p", time=1_700_000_000.0)
    texts = [f"Day {i}: my knee felt stiff in the morning." for i in range(10)]
    for i, t in enumerate(texts):
        svc.add_turn("p", sid, "user", t, time=1_700_000_000.0 + i)
    svc.end_session("p", sid)
    svc.close()
    assert all(rec.texts.count(t) == 1 for t in texts)


class _OtherModel:
    """A different model of the same width: the real vectors with their dimensions permuted, under
    its own fingerprint (what a student embedder or a new bundle's embedder looks like to the memory)."""

    def __init__(self, real: OnnxEmbedder) -> None:
        import numpy as np

        self.real, self.dim, self.fingerprint = real, real.dim, "another-model"
        self.perm = np.random.default_rng(0).permutation(real.dim)
        self.texts: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return self.real.embed(texts)[:, self.perm]


def test_a_new_embedder_re_embeds_every_vector(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    import numpy as np

    from edgemem.memory.store import turn_key

    home, key = _home(tmp_path), DataKey.generate()
    with MemoryService(home, embedder, key) as svc:
        _seed(svc, "alice", ALICE)
        _seed(svc, "bob", BOB)
    with MemoryService(home, embedder, key) as svc:
        assert svc.reembedding == 0  # same model: nothing to redo
    assert len(list(home.index_dir.glob("*.usearch"))) == 2
    other = _OtherModel(embedder)
    with MemoryService(home, other, key) as svc:
        assert svc.reembedding >= 4  # alice's and bob's patient turns at least
        assert not list(home.index_dir.glob("*.usearch"))  # derived state from the old model: gone
        assert any("knee" in t for t in _dense_only(svc, "alice", "swollen knee after sports"))
        pid = svc.store.patient("alice")
        for turn in svc.store.turns(pid):
            if turn["role"] != "user":
                continue
            raw = svc.store.embeddings_for(pid, [turn_key(turn["id"])])[turn_key(turn["id"])]
            stored = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
            assert float(stored @ other.embed([turn["text"]])[0]) > 0.99
            assert float(stored @ embedder.embed([turn["text"]])[0]) < 0.9
        # bob was not opened yet: his rows wait, pending, and are re-embedded on his first search
        assert not any("albuterol" in t for t in other.texts)
        assert _dense_only(svc, "bob", "inhaler for asthma")
        assert any("albuterol" in t for t in other.texts)
    with MemoryService(home, other, key) as svc:
        assert svc.reembedding == 0
