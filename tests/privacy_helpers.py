"""Shared by the privacy tests: canaries, seeding a patient, and scanning every byte of the home."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from edgemem.home import Home


def canary(user: str, i: int) -> str:
    """A word no model, tokenizer or other patient produces by chance (one FTS token, lower case)."""
    return "zq" + hashlib.sha256(f"{user}/{i}".encode()).hexdigest()[:12] + "canary"


def patient_lines(user: str) -> list[tuple[str, str]]:
    """Turns whose content ends up in every tier: turns, notes (allergy, medication, condition),
    the session summary, the profile (a style preference) and the vector index."""
    c = [canary(user, i) for i in range(6)]
    return [
        ("user", f"Hello, my name is {c[0]} and I am allergic to {c[1]}."),
        ("assistant", f"Thank you {c[0]}, I noted your allergy to {c[1]}."),
        ("user", f"I take {c[2]} twice a day for my {c[3]} condition."),
        ("assistant", "Please keep taking it with food."),
        ("user", f"I have been diagnosed with {c[4]} and my knee hurts. Please keep answers short."),
        ("user", f"My daughter {c[5]} drives me to the clinic."),
    ]


def seed(svc, user: str, t0: float = 1_700_000_000.0, sessions: int = 2) -> list[str]:
    """Store the patient's lines over ``sessions`` sessions (each ended: rehearsal + consolidation)."""
    lines = patient_lines(user)
    tids = []
    for s in range(sessions):
        sid = svc.start_session(user, time=t0 + s * 86400)
        for i, (role, text) in enumerate(lines):
            tids.append(svc.add_turn(user, sid, role, text, time=t0 + s * 86400 + 60 * i,
                                     turn_id=f"{user}-{s}-{i}"))
        svc.end_session(user, sid)
    svc.search(user, "allergy medication", 5)  # recall: touches the short-term notes
    return tids


def needles(user: str) -> list[bytes]:
    out = []
    for i in range(6):
        c = canary(user, i)
        out += [c.encode("utf-8"), c.encode("utf-16-le"), c.upper().encode("utf-8")]
    return out


def home_files(home: Home) -> list[Path]:
    return sorted(p for p in home.root.rglob("*") if p.is_file())


def scan(home: Home, patterns: Iterable[bytes]) -> dict[str, list[str]]:
    """Every file under the home folder, every byte: which pattern occurs in which file."""
    pats = list(patterns)
    hits: dict[str, list[str]] = {}
    for p in home_files(home):
        data = p.read_bytes()
        for pat in pats:
            if pat in data:
                hits.setdefault(pat.decode("utf-8", "replace"), []).append(str(p.relative_to(home.root)))
    return hits


class HashEmbedder:
    """A deterministic feature-hashing sentence embedder (implements ``interfaces.Embedder``).

    For tests about *storage* (crash consistency, bad input) where MiniLM's load time per
    subprocess would dominate: it computes real, text-dependent unit vectors — similar texts get
    similar vectors — so the vector index is exercised exactly as with MiniLM.
    """

    dim = 384

    def embed(self, texts):
        import re

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for tok in re.findall(r"\w+", str(text).lower()):
                h = int.from_bytes(hashlib.blake2b(tok.encode("utf-8", "replace"), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else np.eye(1, self.dim, 0, dtype=np.float32)
        return out
