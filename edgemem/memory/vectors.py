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

The file is ``codec.encrypt(header + usearch bytes)`` written atomically: embeddings can be
partially inverted to text, so they are patient data too.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..privacy.cipher import Codec

_MAGIC = b"EMVX1"


def _dtype(precision: str) -> str:
    return {"f32": "f32", "f16": "f16", "i8": "i8"}.get(precision, "f16")


class PatientIndex:
    """A usearch index plus the generation of SQLite it reflects."""

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

    def _new(self) -> Any:
        from usearch.index import Index

        return Index(ndim=self.dim, metric="cos", dtype=_dtype(self.precision), **self.params)

    # --- persistence --------------------------------------------------------------------------
    def load(self) -> bool:
        """Read the file; False when missing or unreadable (the caller rebuilds)."""
        from usearch.index import Index

        if not self.path.exists():
            return False
        try:
            raw = self.codec.decrypt(self.path.read_bytes(), self.aad)
            if raw[:5] != _MAGIC:
                return False
            (hlen,) = struct.unpack("<I", raw[5:9])
            header = json.loads(raw[9:9 + hlen])
            body = raw[9 + hlen:]
            if header.get("dim") != self.dim or header.get("precision") != self.precision:
                return False
            index = Index.restore(body)
            if index is None or index.ndim != self.dim:
                return False
            index.expansion_search = self.params["expansion_search"]
            self.index = index
            self.generation = int(header["generation"])
            self.dirty = False
            return True
        except Exception:  # corrupt file, truncated, wrong key, usearch parse error: rebuild
            return False

    def save(self) -> None:
        body = bytes(self.index.save())
        header = json.dumps({"dim": self.dim, "precision": self.precision, "generation": self.generation,
                             "count": len(self.index)}).encode()
        blob = self.codec.encrypt(_MAGIC + struct.pack("<I", len(header)) + header + body, self.aad)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A unique temp name: two processes on one home (server + CLI) never share a half-written file.
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(blob)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self.dirty = False
        self.unsaved = 0

    def reset(self) -> None:
        self.index = self._new()
        self.generation = 0
        self.dirty = True
        self.unsaved = 0

    def worth_saving(self) -> bool:
        """Rewriting the whole file per session is O(index); catch-up from SQLite makes a stale file
        cheap to repair, so a session end saves only once enough is new (close() always saves)."""
        return self.dirty and (self.unsaved >= max(256, len(self.index) // 10) or not self.path.exists())

    def delete_file(self) -> None:
        for p in (self.path, *self.path.parent.glob(self.path.name + ".*.tmp")):
            if p.exists():
                p.unlink()

    # --- vectors ------------------------------------------------------------------------------
    def add(self, keys: Iterable[int], vectors: np.ndarray) -> None:
        ks = np.asarray(list(keys), dtype=np.uint64)
        if len(ks) == 0:
            return
        vecs = np.asarray(vectors, dtype=np.float32).reshape(len(ks), self.dim)
        # Re-adding a key (catch-up after a crash between save and commit) must not duplicate it.
        present = np.array([k in self.index for k in ks.tolist()], dtype=bool) if len(self.index) else None
        if present is not None and present.any():
            self.index.remove(ks[present].tolist())
        self.index.add(ks, vecs, threads=1 if len(ks) < 256 else 0)
        self.dirty = True
        self.unsaved += len(ks)

    def remove(self, keys: Iterable[int]) -> None:
        ks = [int(k) for k in keys]
        if ks and len(self.index):
            self.index.remove(ks)
            self.dirty = True

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(key, cosine similarity) best first."""
        n = len(self.index)
        if n == 0 or k <= 0:
            return []
        m = self.index.search(np.asarray(vector, dtype=np.float32).reshape(self.dim), min(k, n))
        return [(int(key), 1.0 - float(d)) for key, d in zip(m.keys, m.distances)]

    def __len__(self) -> int:
        return len(self.index)

    def memory_bytes(self) -> int:
        try:
            return int(self.index.memory_usage)
        except Exception:
            return 0


def vectors_from_bytes(items: list[tuple[int, bytes]], dim: int) -> tuple[list[int], np.ndarray]:
    keys = [k for k, _ in items]
    if not items:
        return keys, np.zeros((0, dim), dtype=np.float32)
    arr = np.frombuffer(b"".join(b for _, b in items), dtype=np.float16).reshape(len(items), dim)
    return keys, arr.astype(np.float32)


def to_bytes(vec: np.ndarray) -> bytes:
    """Embeddings are stored as float16 in SQLite: half the bytes, cosine error ~1e-4."""
    return np.asarray(vec, dtype=np.float16).tobytes()
