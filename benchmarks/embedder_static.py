"""A static (distilled) embedder against MiniLM: does it buy the ingest target, and at what recall?

Why: issue 4 asks for ingest >= 300 turns/s *including embedding* on 2 cores. The fp32 MiniLM
runs near this CPU's peak at ~2,100 tokens per CPU-second, i.e. ~40 imported turns per CPU-s
(docs/memory.md), so no tuning of it reaches 300. A static embedder, after model2vec's idea, skips
the transformer at run time: every word-piece of MiniLM's vocabulary is embedded once, off-device
(``[CLS] token [SEP]`` through the same graph), and a text's vector is the weighted mean of its
pieces' rows. On the device that is a tokenizer call and a numpy gather: no onnxruntime run.

Variants (``--variants``):
* ``mean``: rows centred on the table's mean (the [CLS]/[SEP] share every row has), plain mean;
* ``sif``: + smooth-inverse-frequency weights ``a / (a + p(token))``, p counted on the MaLP
  *training* dialogues (the held-out ones, which the longchat set is built from, are excluded);
* ``sif-pc``: + the first principal component removed from every row;
* ``lsq``: the ``sif-pc`` table *trained* so that texts' weighted means match MiniLM's sentence
  vectors (after model2vec's tokenlearn): up to 40,000 texts of MaLP's training dialogues (patient
  turns whole, the doctor's turns by sentence, as the memory embeds them; held-out dialogues
  excluded), MiniLM vectors as targets, mean squared error with Adam on minibatches, an L2 pull
  toward the starting table, 10 % of the texts kept aside for the validation cosine.

For each variant this prints the embedder's speed against MiniLM's on the same texts (same run),
then runs ``benchmarks.memory_recall`` with the static embedder in the memory (``--no-memo``, so
the import really embeds every text with it) and reports evidence recall@10 and the import rate
(turns/s and turns per CPU-s). The baselines in that table (BM25 / dense / RRF over raw turns)
stay MiniLM's: ``memory_recall`` caches their vectors by text.

Run:  nice -n 5 python -m benchmarks.embedder_static --variants mean,sif,sif-pc --json F
Needs the exported MiniLM (``benchmarks.memory_embedder.ensure_exported``) and /work/shared MaLP.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .memory_embedder import DEFAULT_DIR, ensure_exported, load_embedder
from .report import emit

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "artifacts" / "bench" / "static-embedder"


def distill(folder: Path, batch: int = 2048) -> np.ndarray:
    """One MiniLM vector per vocabulary entry: ``[CLS] piece [SEP]`` through the sentence graph."""
    path = CACHE / "table.npy"
    if path.exists():
        return np.load(path)
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    table = np.zeros((vocab, 384), np.float32)
    for s in range(0, vocab, batch):
        ids = np.arange(s, min(vocab, s + batch))
        x = np.stack([np.full(len(ids), cls), ids, np.full(len(ids), sep)], 1).astype(np.int64)
        table[ids] = sess.run(None, {"input_ids": x, "attention_mask": np.ones_like(x)})[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, table)
    return table


def sif_weights(tokenizer: Any, vocab: int, a: float = 1e-3) -> np.ndarray:
    """``a / (a + p)`` with p the piece frequency on MaLP's training dialogues (held-out excluded)."""
    from .data import malp

    held = malp.heldout_dialogue_indices()
    texts = [t.text for i, d in enumerate(malp.load_dialogues()) if i not in held for t in d]
    counts = np.ones(vocab, np.float64)
    for e in tokenizer.encode_batch(texts, add_special_tokens=False):
        np.add.at(counts, np.asarray(e.ids, dtype=np.int64), 1)
    return (a / (a + counts / counts.sum())).astype(np.float32)


class StaticEmbedder:
    """``interfaces.Embedder`` over a piece table: weighted mean of rows, L2-normalized."""

    dim = 384

    def __init__(self, table: np.ndarray, tokenizer: Any, weights: np.ndarray | None = None,
                 drop_components: int = 0) -> None:
        t = table - table.mean(0)
        if drop_components:
            _, _, vt = np.linalg.svd(t[::7], full_matrices=False)
            pc = vt[:drop_components]
            t = t - (t @ pc.T) @ pc
        self.table = t.astype(np.float32)
        self.tok = tokenizer
        self.weights = weights

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, e in enumerate(self.tok.encode_batch(list(texts), add_special_tokens=False)):
            ids = np.asarray(e.ids, dtype=np.int64)
            if not len(ids):
                continue
            if self.weights is None:
                v = self.table[ids].mean(0)
            else:
                w = self.weights[ids]
                v = (self.table[ids] * w[:, None]).sum(0) / max(float(w.sum()), 1e-6)
            n = float(np.linalg.norm(v))
            out[i] = v / n if n > 0 else v
        return out


def training_texts(limit: int = 40000, seed: int = 0) -> list[str]:
    import random

    from edgemem.memory.rehearsal import sentences

    from .data import malp

    held = malp.heldout_dialogue_indices()
    texts: list[str] = []
    for i, d in enumerate(malp.load_dialogues()):
        if i in held:
            continue
        for t in d:
            if t.role == "user":
                texts.append(t.text)
            else:
                texts.extend(x for x in sentences(t.text) if len(x.split()) >= 4)
    texts = sorted(set(x for x in texts if x.strip()))
    random.Random(seed).shuffle(texts)
    return texts[:limit]


def train_lsq(folder: Path, epochs: int = 8, batch: int = 1024, lr: float = 2e-3, pull: float = 1e-4,
              limit: int = 40000) -> tuple[np.ndarray, dict[str, Any]]:
    """The ``sif-pc`` table fitted to MiniLM's sentence vectors (see the module docstring)."""
    path = CACHE / "table-lsq.npy"
    start = make("sif-pc", folder)
    if path.exists():
        return np.load(path), json.loads((CACHE / "table-lsq.json").read_text())
    texts = training_texts(limit)
    ypath = CACHE / f"targets-{len(texts)}.npy"
    if ypath.exists():
        y = np.load(ypath)
    else:
        y = load_embedder().embed(texts)
        np.save(ypath, y)
    encs = start.tok.encode_batch(texts, add_special_tokens=False)
    ids = [np.asarray(e.ids, dtype=np.int64) for e in encs]
    w = start.weights
    assert w is not None
    table0 = start.table.copy()
    table = table0.copy()
    n_val = len(texts) // 10
    val, train = np.arange(n_val), np.arange(n_val, len(texts))

    def dense(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows' weighted-mean operator over their unique pieces: (pieces, [rows, pieces])."""
        pieces = np.unique(np.concatenate([ids[r] for r in rows]))
        pos = {int(p): j for j, p in enumerate(pieces)}
        a = np.zeros((len(rows), len(pieces)), np.float32)
        for i, r in enumerate(rows):
            ww = w[ids[r]]
            np.add.at(a[i], [pos[int(p)] for p in ids[r]], ww / max(float(ww.sum()), 1e-6))
        return pieces, a

    def val_cos(t: np.ndarray) -> float:
        pieces, a = dense(val)
        v = a @ t[pieces]
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        return float((v * y[val]).sum(1).mean())

    report: dict[str, Any] = {"texts": len(texts), "val_cos_start": round(val_cos(table), 4)}
    m1, m2 = np.zeros_like(table), np.zeros_like(table)
    rng = np.random.default_rng(0)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(train)
        for s in range(0, len(order), batch):
            rows = order[s:s + batch]
            pieces, a = dense(rows)
            resid = a @ table[pieces] - y[rows]
            g = a.T @ resid / len(rows) + pull * (table[pieces] - table0[pieces])
            step += 1
            m1[pieces] = 0.9 * m1[pieces] + 0.1 * g
            m2[pieces] = 0.999 * m2[pieces] + 0.001 * g * g
            table[pieces] -= lr * (m1[pieces] / (1 - 0.9 ** step)) / (np.sqrt(m2[pieces] / (1 - 0.999 ** step)) + 1e-8)
        report[f"val_cos_epoch{epoch + 1}"] = round(val_cos(table), 4)
        print(f"  lsq epoch {epoch + 1}: validation cosine {report[f'val_cos_epoch{epoch + 1}']}", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, table)
    (CACHE / "table-lsq.json").write_text(json.dumps(report))
    return table, report


def make(variant: str, folder: Path) -> StaticEmbedder:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    if variant == "lsq":
        trained, _ = train_lsq(folder)
        emb = StaticEmbedder(trained, tok, sif_weights(tok, trained.shape[0]))
        emb.table = trained  # already centred and fitted: no further centring
        return emb
    table = distill(folder)
    weights = sif_weights(tok, table.shape[0]) if "sif" in variant else None
    return StaticEmbedder(table, tok, weights, drop_components=1 if variant.endswith("-pc") else 0)


def texts_per_s(embedder: Any, texts: list[str], rounds: int = 2) -> float:
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        embedder.embed(texts)
        best = max(best, len(texts) / (time.perf_counter() - t))
    return round(best, 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Static (distilled) embedder vs MiniLM: speed and memory recall.")
    ap.add_argument("--variants", default="mean,sif,sif-pc")
    ap.add_argument("--speed-texts", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)

    from . import memory_embedder, memory_recall
    from .data import build_longchat

    folder = ensure_exported(DEFAULT_DIR)
    turns, _ = build_longchat.load(memory_recall.DEFAULT_SET) if (memory_recall.DEFAULT_SET / "turns.jsonl").exists() \
        else (None, None)
    if turns is None:
        build_longchat.write(memory_recall.DEFAULT_SET, *build_longchat.build())
        turns, _ = build_longchat.load(memory_recall.DEFAULT_SET)
    sample = [t["text"] for t in turns[: a.speed_texts]]
    minilm = load_embedder()
    result: dict[str, Any] = {"minilm_texts_per_s": texts_per_s(minilm, sample), "variants": {}}
    real_loader = memory_embedder.load_embedder
    for variant in a.variants.split(","):
        emb = make(variant, folder)
        row: dict[str, Any] = {"texts_per_s": texts_per_s(emb, sample)}
        row["speedup_vs_minilm"] = round(row["texts_per_s"] / result["minilm_texts_per_s"], 1)
        out = CACHE / f"recall-{variant}.json"
        memory_embedder.load_embedder = lambda *_a, _e=emb, **_k: _e  # type: ignore[misc]
        try:
            memory_recall.main(["--no-memo", "--modes", "hybrid", "--json", str(out)])
        finally:
            memory_embedder.load_embedder = real_loader
        rec = json.loads(out.read_text())
        row["recall_at_10"] = rec["results"]["edgemem"]["all"]["recall"]
        row["answer_at_10"] = rec["results"]["edgemem"]["all"]["answer"]
        for key in ("turns_per_s", "turns_per_cpu_s", "search_p50_ms", "search_p99_ms"):
            row[key] = rec["edgemem"].get(key)
        result["variants"][variant] = row
        print(json.dumps({variant: row}), file=sys.stderr)
    emit(result, a.json, indent=2)


if __name__ == "__main__":
    main()
