"""The per-patient vector index file: a viewed base plus a mutable delta behaves as one index.

``PatientIndex`` searches the decrypted file bytes in place (usearch ``view``) and keeps what was
added or removed since in a small delta; these tests check that this split is invisible: the
same hits as one mutable index, removals never surface, saving folds everything back, and a
damaged file is refused (the caller rebuilds) instead of being read in place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

# Importing onnxruntime *after* usearch 2.26 segfaults (`python -c "import usearch.index; import
# onnxruntime"`); ``vectors.usearch_index`` loads onnxruntime first (tested below in a fresh
# process), and this file only reaches usearch through it.
import subprocess
import sys

from edgemem.memory.vectors import PatientIndex
from edgemem.privacy.cipher import DataKey, PlainCodec

DIM = 32


def _vecs(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _index(path: Path, codec=None, precision: str = "f16") -> PatientIndex:
    return PatientIndex(path, codec or PlainCodec(), b"index:1", dim=DIM, precision=precision,
                        expansion_search=256)


def _exact(keys: list[int], vecs: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(vecs @ q), kind="stable")[:k]
    return [keys[i] for i in order]


@pytest.mark.parametrize("codec", [PlainCodec(), DataKey.generate()], ids=["plain", "aes"])
def test_view_plus_delta_is_one_index(tmp_path: Path, codec) -> None:
    path = tmp_path / "p.usearch"
    base = _vecs(300, 1)
    idx = _index(path, codec)
    idx.add(range(300), base)
    idx.generation = 3
    idx.save()
    assert idx.base is not None and len(idx.index) == 0  # after a save, the written bytes are viewed

    again = _index(path, codec)
    assert again.load() and again.base is not None and again.generation == 3 and len(again) == 300
    extra = _vecs(40, 2)
    again.add(range(300, 340), extra)  # new vectors: into the delta
    again.add([5], extra[:1])  # a key of the base re-added (catch-up after a crash): moved, not doubled
    again.remove([7, 310])  # one from the base, one from the delta
    assert len(again) == 338
    live = {k: v for k, v in zip(range(300), base)}
    live.update({k: v for k, v in zip(range(300, 340), extra)})
    live[5] = extra[0]
    del live[7], live[310]
    assert again.keys() == set(live)
    keys, mat = list(live), np.stack(list(live.values()))
    for q in _vecs(20, 3):
        got = [k for k, _ in again.search(q, 10)]
        assert 7 not in got and 310 not in got
        assert len(set(got) & set(_exact(keys, mat, q, 10))) >= 9  # HNSW over f16: near exact

    again.save()  # folds base, delta and removals into one file
    third = _index(path, codec)
    assert third.load() and third.keys() == set(live) and len(third) == 338
    q = extra[0]
    assert third.search(q, 1)[0][0] in (5, 300)  # the re-added vector is found under its key


def test_empty_saved_index_then_additions(tmp_path: Path) -> None:
    """A new patient's index is written empty, viewed, then grows in the delta."""
    path = tmp_path / "p.usearch"
    idx = _index(path)
    idx.save()
    assert idx.base is not None and len(idx) == 0 and idx.search(_vecs(1, 6)[0], 5) == []
    idx.add([1, 2], _vecs(2, 7))
    assert [k for k, _ in idx.search(_vecs(2, 7)[1], 1)] == [2]
    again = _index(path)
    assert again.load() and len(again) == 0


def _records(raw: bytes, codec) -> tuple[bytes, list[bytes]]:
    """Split an EMVX2 file into its sealed header and its length-prefixed sealed chunks."""
    import struct

    from edgemem.memory import vectors

    hlen = len(codec.encrypt(bytes(vectors._HEADER), b""))
    head, pos, out = raw[:hlen], hlen, []
    while pos < len(raw):
        (size,) = struct.unpack("<I", raw[pos:pos + 4])
        out.append(raw[pos:pos + 4 + size])
        pos += 4 + size
    return head, out


@pytest.mark.parametrize("codec", [PlainCodec(), DataKey.generate()], ids=["plain", "aes"])
def test_damaged_file_is_refused_not_viewed(tmp_path: Path, monkeypatch, codec) -> None:
    from edgemem.memory import vectors

    monkeypatch.setattr(vectors, "CHUNK", 4096)  # several chunks even for a small index
    path = tmp_path / "p.usearch"
    idx = _index(path, codec, precision="i8")
    idx.add(range(200), _vecs(200, 4))
    idx.save()
    good = path.read_bytes()
    head, recs = _records(good, codec)
    assert len(recs) >= 4
    if isinstance(codec, DataKey):  # sealed like every other file: ciphertext header and key id first
        assert good[:3] == b"EM1" and good[3:7] == codec.key_id
        assert all(r[4:7] == b"EM1" for r in recs)
    other = tmp_path / "q.usearch"  # another index of the same patient (same associated data)
    o = _index(other, codec, precision="i8")
    o.add(range(200), _vecs(200, 9))
    o.save()
    _, other_recs = _records(other.read_bytes(), codec)
    mid = len(good) // 2
    damaged = [good[:mid],  # torn
               good[:mid] + bytes([good[mid] ^ 0x40]) + good[mid + 1:],  # a flipped bit
               head + b"".join([recs[1], recs[0], *recs[2:]]),  # chunks swapped
               head + b"".join(recs[:-1]),  # last chunk dropped
               head + b"".join([recs[0], other_recs[1], *recs[2:]])]  # a chunk from another file
    for bad in damaged:
        path.write_bytes(bad)
        assert not _index(path, codec, precision="i8").load()
    path.write_bytes(good)
    ok = _index(path, codec, precision="i8")
    assert ok.load() and len(ok) == 200


@pytest.mark.parametrize("codec", [PlainCodec(), DataKey.generate()], ids=["plain", "aes"])
def test_first_layout_file_still_loads(tmp_path: Path, codec) -> None:
    """Files of the first layout (one encrypted blob, EMVX1) are restored as a copy."""
    import json
    import struct

    path = tmp_path / "p.usearch"
    idx = _index(path, codec)
    vecs = _vecs(50, 5)
    idx.add(range(50), vecs)
    body = bytes(idx.index.save())
    header = json.dumps({"dim": DIM, "precision": "f16", "generation": 2, "count": 50}).encode()
    path.write_bytes(codec.encrypt(b"EMVX1" + struct.pack("<I", len(header)) + header + body, b"index:1"))
    old = _index(path, codec)
    assert old.load() and old.base is None and len(old) == 50 and old.generation == 2
    assert old.worth_saving()  # rewritten in the chunked layout on first open, then viewed
    assert old.search(vecs[9], 1)[0][0] == 9
    old.save()
    new = _index(path, codec)
    assert new.load() and new.base is not None and not new.worth_saving() and len(new) == 50


def test_an_index_opened_before_the_engine_does_not_crash_the_process(tmp_path: Path) -> None:
    """The kiosk may open a patient's index before anything has loaded onnxruntime (usearch 2.26
    first, onnxruntime second used to kill the process with SIGSEGV at import)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "assert 'onnxruntime' not in sys.modules and 'usearch' not in sys.modules\n"
        "from edgemem.memory.vectors import PatientIndex\n"
        "from edgemem.privacy.cipher import PlainCodec\n"
        f"ix = PatientIndex(Path({str(tmp_path / 'p.idx')!r}), PlainCodec(), b'index:1', dim=8, precision='f16',"
        " expansion_search=64)\n"
        "ix.add([1], np.ones((1, 8), dtype=np.float32))\n"
        "import onnxruntime\n"
        "print('alive', onnxruntime.get_device())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert "alive" in out.stdout
