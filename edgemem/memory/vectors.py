"""The vector index: one usearch HNSW index per patient, derived from SQLite.

Why one index per patient rather than one shared index with a filter: isolation is structural (a
search cannot return another patient's row, whatever the filter code does), ``forget`` is deleting
one file, a rebuild touches one patient, and HNSW search cost grows with log(n) of that patient's
rows, not the device's. The price is one small file per patient, which a kiosk can afford.

Durability and staleness: SQLite keeps every embedding (encrypted) and a per-patient
*generation* counter; each batch of new vectors gets the next generation. The index file records
the generation it contains. On load: a file that is missing or does not decrypt/parse is rebuilt
from SQLite; a file that is older than SQLite catches up by adding only the rows with a newer
generation; so saving need not happen on every write (it is done at session end and on close).
Rows deleted or archived in SQLite may linger in the index until the next rebuild; the retrieval
layer checks every hit against SQLite, so they never surface.

The file is encrypted (embeddings can be partially inverted to text, so they are patient data
too) and written atomically (temp file, fsync, rename). Layout ``EMVX2``: a sealed header of
fixed size, ``codec.encrypt(b"EMVX2" + JSON padded to 256 bytes, aad | header)`` (dim,
precision, generation, chunk count n, byte count, CRC-32 of the usearch bytes), so the file
starts with ciphertext like every sealed file; then n records ``u32 len | codec.encrypt(chunk_i,
aad | i | n)``, the usearch bytes in 1 MiB pieces. Binding i and the authenticated n into each
chunk's associated data means chunks cannot be reordered, dropped or mixed between files
without failing authentication. Files of the first layout (``EMVX1``, one
``codec.encrypt(header + usearch bytes)``) are still read, as a restored copy, and rewritten
in the chunked layout as soon as they are opened.

Memory: the decrypted bytes are *viewed* by usearch (``Index.restore(buf, view=True)``), not
copied into a second, mutable index; chunks are decrypted one at a time straight into that
buffer, so opening never holds the whole ciphertext beside the plaintext. At 100k i8 vectors:
51 MB of decrypted bytes (plus usearch's small view tables) where restoring a copy held 61 MB at
rest and ~170 MB at its peak (ciphertext, plaintext, a sliced copy and the restored index at
once). A viewed index is immutable, so vectors added since the file was written go to a small
in-memory *delta* index, and keys removed from the viewed part are filtered out of its hits; a
search asks both and merges by distance. Saving folds them into one index (a copy, until its
bytes are serialized) and then views the written bytes. Plaintext exists only in this process's
memory, as before.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..privacy.cipher import Codec

_MAGIC = b"EMVX1"  # first layout: one encrypted blob (read, no longer written)
_MAGIC2 = b"EMVX2"  # chunked layout (module docstring)
_HEADER = 256  # plaintext bytes of the sealed header (padded JSON)
CHUNK = 1 << 20


def _dtype(precision: str) -> str:
    return {"f32": "f32", "f16": "f16", "i8": "i8"}.get(precision, "f16")



def usearch_index() -> Any:
    """usearch's ``Index`` class, with onnxruntime loaded first.

    Why: with usearch 2.26 and onnxruntime 1.32 in one process, loading usearch first makes the
    later ``import onnxruntime`` crash (SIGSEGV in ``std::codecvt`` while onnxruntime's module
    initialises: the two extensions disagree about libstdc++ symbols). The other order is fine.
    The kiosk holds both (the embedder and the engine run on onnxruntime), and which one a
    process touches first depends on the request, so the order is fixed here, where usearch is
    first needed. onnxruntime is a runtime dependency; a build without it skips the guard.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:  # pragma: no cover - onnxruntime is a dependency of edgemem
        pass
    from usearch.index import Index

    return Index


class PatientIndex:
    """A usearch index plus the generation of SQLite it reflects.

    Two parts (module docstring): ``base``, a read-only view of decrypted file bytes (``None``
    until a file was loaded or written), and ``index``, the mutable delta of vectors added since
    (everything, when there is no base). ``removed``: keys removed from ``base`` but still inside
    its bytes, filtered out of its hits until the next save."""

    def __init__(self, path: Path, codec: Codec, aad: bytes, dim: int = 384, precision: str = "f16",
                 connectivity: int = 16, expansion_add: int = 128, expansion_search: int = 64) -> None:
        self.path = path
        self.codec = codec
        self.aad = aad
        self.dim = dim
        self.precision = precision
        self.params = dict(connectivity=connectivity, expansion_add=expansion_add, expansion_search=expansion_search)
        self.generation = 0
        self.dirty = False
        self.unsaved = 0  # vectors added since the file was written
        self.index = self._new()
        self.base: Any = None
        self._buf: Any = None  # the decrypted bytes ``base`` views: must outlive it
        self._off = 0  # where the usearch bytes start in ``_buf``
        self.removed: set[int] = set()
        self._legacy = False  # loaded from a first-layout file: rewrite it

    def _new(self) -> Any:
        Index = usearch_index()

        return Index(ndim=self.dim, metric="cos", dtype=_dtype(self.precision), **self.params)

    def _set_base(self, buf: Any, off: int) -> bool:
        """View ``buf[off:]`` (serialized usearch bytes) as the read-only base; False if unparsable."""
        Index = usearch_index()

        base = Index.restore(memoryview(buf)[off:], view=True)
        if base is None or base.ndim != self.dim:
            return False
        base.expansion_search = self.params["expansion_search"]
        self._drop_base()
        self.base, self._buf, self._off = base, buf, off
        return True

    def _drop_base(self) -> None:
        if self.base is not None:
            self.base.reset()  # unmap before its bytes can go
        self.base, self._buf, self._off = None, None, 0
        self.removed = set()

    # --- persistence --------------------------------------------------------------------------
    def _chunk_aad(self, i: int, n: int) -> bytes:
        return self.aad + b"|chunk|%d|%d" % (i, n)

    def load(self) -> bool:
        """Read the file; False when missing or unreadable (the caller rebuilds)."""
        if not self.path.exists():
            return False
        try:
            sealed_header = len(self.codec.encrypt(bytes(_HEADER), b""))
            with open(self.path, "rb") as f:
                head = f.read(sealed_header)
                try:
                    header = self.codec.decrypt(head, self.aad + b"|header")
                except Exception:
                    header = b""
                if len(header) == _HEADER and header[:5] == _MAGIC2:
                    ok = self._load_chunks(f, json.loads(header[5:]))
                else:
                    ok = self._load_whole(head + f.read())
        except Exception:  # corrupt file, truncated, wrong key, usearch parse error: rebuild
            ok = False
        if ok:
            # A first-layout file is held as a restored copy: ask for a rewrite (the service
            # saves right after loading when worth_saving()), so it is viewed from then on.
            self._legacy = self.base is None
            self.dirty = self._legacy
            self.unsaved = 0
        return ok

    def _load_chunks(self, f: Any, header: dict[str, Any]) -> bool:
        if header.get("dim") != self.dim or header.get("precision") != self.precision:
            return False
        n = int(header["chunks"])
        buf = bytearray(int(header["bytes"]))
        pos = 0
        for i in range(n):
            (size,) = struct.unpack("<I", f.read(4))
            data = f.read(size)
            if len(data) != size:
                return False  # torn
            part = self.codec.decrypt(data, self._chunk_aad(i, n))
            buf[pos:pos + len(part)] = part
            pos += len(part)
        # A view reads the bytes in place, so check them first: AES-GCM already did under a real
        # key; this catches a torn or altered file under PlainCodec too.
        if pos != len(buf) or f.read(1) or zlib.crc32(buf) != header["crc32"]:
            return False
        self.index = self._new()
        if not self._set_base(buf, 0):
            return False
        self.generation = int(header["generation"])
        return True

    def _load_whole(self, blob: bytes) -> bool:
        """The first layout: decrypt the whole file, restore a copy (usearch checks it)."""
        Index = usearch_index()

        raw = self.codec.decrypt(blob, self.aad)
        del blob
        if raw[:5] != _MAGIC:
            return False
        (hlen,) = struct.unpack("<I", raw[5:9])
        header = json.loads(raw[9:9 + hlen])
        if header.get("dim") != self.dim or header.get("precision") != self.precision:
            return False
        index = Index.restore(memoryview(raw)[9 + hlen:])
        if index is None or index.ndim != self.dim:
            return False
        index.expansion_search = self.params["expansion_search"]
        self._drop_base()
        self.index = index
        self.generation = int(header["generation"])
        return True

    def _fold(self) -> Any:
        """One mutable index of everything live: base (copied out of its bytes) minus ``removed``,
        plus the delta. A full copy while it exists: only saving needs it."""
        if self.base is None:
            return self.index
        Index = usearch_index()

        full = Index.restore(memoryview(self._buf)[self._off:], **self.params)
        gone = [k for k in self.removed if k in full]
        self._drop_base()
        if gone:
            full.remove(gone)
        if len(self.index):
            keys = np.asarray(self.index.keys, dtype=np.uint64)
            vecs = np.vstack(self.index.get(keys, dtype=np.float32)).reshape(len(keys), self.dim)
            full.add(keys, vecs, threads=1 if len(keys) < 256 else 0)
        full.expansion_search = self.params["expansion_search"]
        self.index = full
        return full

    def save(self) -> None:
        full = self._fold()
        body = full.save()  # a bytearray of our own
        meta = {"dim": self.dim, "precision": self.precision, "generation": self.generation,
                "count": len(full), "bytes": len(body), "crc32": zlib.crc32(body)}
        # Search these bytes in place from now on, and let the mutable copy go before encrypting:
        # the peak is one index plus its bytes, then those bytes plus one encrypted chunk.
        if self._set_base(body, 0):
            self.index = self._new()
            full.reset()
        del full
        pieces = [memoryview(body)[s:s + CHUNK] for s in range(0, len(body), CHUNK)]
        n = len(pieces)
        head = _MAGIC2 + json.dumps(dict(meta, chunks=n)).encode()
        if len(head) > _HEADER:
            raise ValueError("index header too long")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A unique temp name: two processes on one home (server + CLI) never share a half-written file.
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, self.codec.encrypt(head.ljust(_HEADER), self.aad + b"|header"))
            for i, piece in enumerate(pieces):
                sealed = self.codec.encrypt(piece, self._chunk_aad(i, n))
                _write_all(fd, struct.pack("<I", len(sealed)))
                _write_all(fd, sealed)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self.dirty = False
        self.unsaved = 0
        self._legacy = False

    def reset(self) -> None:
        self._drop_base()
        self.index = self._new()
        self.generation = 0
        self.dirty = True
        self.unsaved = 0

    def worth_saving(self) -> bool:
        """Rewriting the whole file per session is O(index); catch-up from SQLite makes a stale file
        cheap to repair, so a session end saves only once enough is new (close() always saves)."""
        return self.dirty and (self.unsaved >= max(256, len(self) // 10) or not self.path.exists() or self._legacy)

    def delete_file(self) -> None:
        for p in (self.path, *self.path.parent.glob(self.path.name + ".*.tmp")):
            if p.exists():
                p.unlink()

    # --- vectors ------------------------------------------------------------------------------
    def _in_base(self, keys: np.ndarray) -> np.ndarray:
        if self.base is None or not len(keys):
            return np.zeros(len(keys), dtype=bool)
        found = np.asarray(self.base.contains(keys), dtype=bool).reshape(len(keys))
        if self.removed:
            found &= np.array([int(k) not in self.removed for k in keys.tolist()], dtype=bool)
        return found

    def _forget(self, ks: np.ndarray) -> bool:
        """Take ``ks`` out of both parts: filtered from the viewed base (it is immutable until the
        next save), removed from the delta. True if any of them was there."""
        in_base = self._in_base(ks)
        if in_base.any():
            self.removed.update(ks[in_base].tolist())
        present = (np.asarray(self.index.contains(ks), dtype=bool).reshape(len(ks)) if len(self.index)
                   else np.zeros(len(ks), dtype=bool))
        if present.any():
            self.index.remove(ks[present].tolist())
        return bool(in_base.any() or present.any())

    def add(self, keys: Iterable[int], vectors: np.ndarray) -> None:
        ks = np.asarray(list(keys), dtype=np.uint64)
        if len(ks) == 0:
            return
        vecs = np.asarray(vectors, dtype=np.float32).reshape(len(ks), self.dim)
        # Re-adding a key (catch-up after a crash between save and commit) must not duplicate it.
        self._forget(ks)
        self.index.add(ks, vecs, threads=1 if len(ks) < 256 else 0)
        self.dirty = True
        self.unsaved += len(ks)

    def remove(self, keys: Iterable[int]) -> None:
        ks = np.asarray([int(k) for k in keys], dtype=np.uint64)
        if not len(ks) or not len(self):
            return
        if self._forget(ks):
            self.dirty = True

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(key, cosine similarity) best first."""
        n = len(self)
        if n == 0 or k <= 0:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(self.dim)
        found: list[tuple[int, float]] = []
        if self.base is not None and len(self.base):
            m = self.base.search(q, min(k + len(self.removed), len(self.base)))
            found = [(int(key), float(d)) for key, d in zip(m.keys, m.distances) if int(key) not in self.removed]
        if len(self.index):
            m = self.index.search(q, min(k, len(self.index)))
            found += [(int(key), float(d)) for key, d in zip(m.keys, m.distances)]
            found.sort(key=lambda x: x[1])
        return [(key, 1.0 - d) for key, d in found[:k]]

    def keys(self) -> set[int]:
        """Every live key (base minus removed, plus delta)."""
        out = {int(k) for k in np.asarray(self.index.keys).tolist()} if len(self.index) else set()
        if self.base is not None and len(self.base):
            out.update(int(k) for k in np.asarray(self.base.keys).tolist() if int(k) not in self.removed)
        return out

    def __len__(self) -> int:
        base = len(self.base) - len(self.removed) if self.base is not None else 0
        return base + len(self.index)

    def memory_bytes(self) -> int:
        """Bytes this index holds: the viewed bytes plus the delta."""
        try:
            held = len(memoryview(self._buf)) if self._buf is not None else 0
            return held + int(self.index.memory_usage)
        except Exception:
            return 0


def _write_all(fd: int, data: Any) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def vectors_from_bytes(items: list[tuple[int, bytes]], dim: int) -> tuple[list[int], np.ndarray]:
    keys = [k for k, _ in items]
    if not items:
        return keys, np.zeros((0, dim), dtype=np.float32)
    arr = np.frombuffer(b"".join(b for _, b in items), dtype=np.float16).reshape(len(items), dim)
    return keys, arr.astype(np.float32)


def to_bytes(vec: np.ndarray) -> bytes:
    """Embeddings are stored as float16 in SQLite: half the bytes, cosine error ~1e-4."""
    return np.asarray(vec, dtype=np.float16).tobytes()
