"""What an import asks the embedder for, per turn, and what the memory costs without it.

Ingest is bound by MiniLM, whose cost is close to linear in tokens, so the figure that moves it is
*embedded tokens per imported turn*. This imports longchat turns through ``import_jsonl`` with a
stand-in embedder (random unit vectors, so no model runs) that tokenizes every text it is given
with the real tokenizer (truncated at 256, as ``OnnxEmbedder`` does) and files it by who asked:
patient / assistant turns, summaries and updated notes (``embed_pending``) or the executive's note
candidates (``consolidate``). It also reports turns per CPU-second of the import itself, i.e. the
memory's own work (SQLite, encryption, FTS, rehearsal, consolidation, index) without embedding.

    nice -n 10 python -m benchmarks.memory_embed_tokens --turns 2000 --compare-roles

Random vectors change what the executive takes for near duplicates (embedding cosine >= 0.92), so
note counts may differ a little from a real run; turns and summaries do not depend on it.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .report import emit

ROOT = Path(__file__).resolve().parents[1]


class CountingEmbedder:
    """Random unit vectors; counts the tokens of every text, by the memory's call site."""

    dim = 384

    def __init__(self, tokenizer_json: Path, max_tokens: int = 256) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_json))
        self.tok.no_padding()
        self.tok.enable_truncation(max_tokens)
        self.tokens: Counter[str] = Counter()
        self.texts: Counter[str] = Counter()
        self.svc: Any = None
        self.cpu = 0.0

    def _sites(self, n: int) -> list[str]:
        frame = inspect.currentframe()
        while frame is not None:
            name = frame.f_code.co_name
            if name == "embed_pending":
                out = []
                for key, _ in frame.f_locals["chunk"]:
                    what, table, col = ("turn", "turns", "role") if key % 2 == 0 else ("memory", "memories", "tier")
                    row = self.svc.store.conn.execute(f"SELECT {col} FROM {table} WHERE id=?", (key // 2,)).fetchone()
                    out.append(f"{what} {row[0]}" if row else what)
                return out
            if name == "consolidate":
                return ["note candidate"] * n
            frame = frame.f_back
        return ["other"] * n

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        c0 = time.process_time()
        for site, enc in zip(self._sites(len(texts)), self.tok.encode_batch(list(texts))):
            self.tokens[site] += len(enc.ids)
            self.texts[site] += 1
        v = np.random.default_rng(len(texts)).standard_normal((len(texts), self.dim)).astype(np.float32)
        self.cpu += time.process_time() - c0
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def run(turns: list[dict], tokenizer_json: Path, roles: Sequence[str] | None) -> dict[str, Any]:
    from edgemem.home import Home
    from edgemem.memory.service import MemoryService, import_jsonl
    from edgemem.privacy.cipher import DataKey

    emb = CountingEmbedder(tokenizer_json)
    with tempfile.TemporaryDirectory(prefix="edgemem-tokens-") as tmp:
        svc = MemoryService(Home(Path(tmp) / "home").ensure(), emb, DataKey.generate(), "x86-kiosk",
                            **({"embed_roles": tuple(roles)} if roles else {}))
        emb.svc = svc
        c0 = time.process_time()
        import_jsonl(svc, [json.dumps(t) for t in turns], batch=256)
        svc.close()
        cpu = time.process_time() - c0 - emb.cpu
    n = len(turns)
    return {"embed_roles": list(roles) if roles else "service default",
            "tokens_per_turn": round(sum(emb.tokens.values()) / n, 1),
            "tokens_per_turn_by_site": {k: round(v / n, 1) for k, v in sorted(emb.tokens.items())},
            "texts_per_turn": round(sum(emb.texts.values()) / n, 3),
            "memory_only_turns_per_cpu_s": round(n / cpu, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", type=Path, default=ROOT / "artifacts" / "longchat")
    ap.add_argument("--turns", type=int, default=2000)
    ap.add_argument("--tokenizer", type=Path, default=None, help="tokenizer.json (default: the MiniLM package's)")
    ap.add_argument("--compare-roles", action="store_true", help="also with every turn embedded whole")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    tok = a.tokenizer
    if tok is None:
        from export.embedder import default_source

        tok = default_source() / "tokenizer.json"
    turns = [json.loads(x) for x in open(a.set / "turns.jsonl", encoding="utf-8")][: a.turns]
    out = {"turns": len(turns), "runs": [run(turns, tok, None)]}
    if a.compare_roles:
        out["runs"].append(run(turns, tok, ("user", "assistant", "other")))
    emit(out, a.json, indent=1)


if __name__ == "__main__":
    sys.exit(main())
