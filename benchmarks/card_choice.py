"""Which card, among the ones card search finds: BM25 alone, BM25 + the embedder (hybrid), and the
model's closed-set choice (``Engine.score``), weights chosen on dev, test reported once.

    EDGEMEM_HOME=<home trusting the bundle's key> nice -n 10 python -m benchmarks.card_choice \
        --bundle BUNDLE [--extra benchmarks/data/card_questions_fresh.jsonl] [--no-model] [--json FILE]

``product_bm25`` and ``product`` are what the kiosk does (``care.route.find_cards``: the frozen
no-card bars, then BM25's order or ``care.choice``'s); a question the bars send to the staff
counts as a miss there, so they sit below the pool figures. The no-card bars decide *whether* a card fits (``benchmarks.card_scope``); this decides *which*.
The reply ablation's only unsupported drug came from a wrong first card (a knee question answered
from bruised ribs), so the measure is top-1: the first card of the reordered pool is relevant.
Pool: BM25's best ``--pool`` cards with no bars (a choice cannot bring back a card BM25 never
found; the pool's recall is printed as the ceiling).

Scores per candidate, each scaled to the pool:
* ``bm25``: BM25 score / the pool's best;
* ``dense``: the largest cosine between the question and the card's title, topics line, example
  questions and summary, minus the pool's best (the embedder is the bundle's, as memory uses);
* ``model``: mean log-probability per token of " <title>" after the question, in a chat prompt
  that asks which leaflet answers it, minus the pool's best.
Combined as ``bm25 + w_dense * dense + w_model * model``; the grid over the weights is searched on
dev (the hash-even half of card_questions.jsonl and the dev-only sets of card_scope), ties to the
smaller weights; test (the odd half) and every ``--extra`` set are reported once with the frozen
weights.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgemem.care import CareContent
from edgemem.care import choice as product_choice
from edgemem.care.choice import CardChooser, card_texts
from edgemem.care.route import find_cards
from edgemem.engine import Engine
from edgemem.home import Home
from edgemem.interfaces import ChatMessage
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.profiles import load
from export.care import compile_content

from .card_scope import DATA, read, split_of

W_DENSE = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0]
W_MODEL = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
CHOOSER = ("You help a clinic kiosk pick the one leaflet that answers a patient's question. "
           "Reply with the leaflet's title only.")


class Features:
    """Per-question candidate pools with their raw scores, computed once (the grid only reweights)."""

    def __init__(self, content: CareContent, embedder: OnnxEmbedder | None, engine: Engine | None,
                 pool: int) -> None:
        self.content, self.embedder, self.engine, self.pool = content, embedder, engine, pool
        self.card_vecs: dict[str, np.ndarray] = {}
        if embedder is not None:
            for card in content.cards:
                self.card_vecs[card.id] = embedder.embed(card_texts(card))
        self.model_ms: list[float] = []

    def of(self, question: str) -> list[dict[str, Any]]:
        hits = self.content.index.search(question, self.pool)
        if not hits:
            return []
        top = max(h.score for h in hits) or 1.0
        rows = [{"id": h.card.id, "bm25": h.score / top, "dense": 0.0, "model": 0.0} for h in hits]
        if self.embedder is not None:
            q = self.embedder.embed_one(question)
            dense = [float(np.max(self.card_vecs[r["id"]] @ q)) for r in rows]
            for r, d in zip(rows, dense):
                r["dense"] = d - max(dense)
        if self.engine is not None:
            t0 = time.perf_counter()
            prompt = self.engine.render_chat([ChatMessage("system", CHOOSER), ChatMessage("user", question)])
            options = [self.engine.encode(" " + self.content.by_id[r["id"]].title) for r in rows]
            logp = self.engine.score(prompt, options)
            means = [lp / max(1, len(o)) for lp, o in zip(logp, options)]
            self.model_ms.append((time.perf_counter() - t0) * 1000)
            for r, m in zip(rows, means):
                r["model"] = m - max(means)
        return rows


def top1(rows: list[dict[str, Any]], w_dense: float, w_model: float) -> str | None:
    if not rows:
        return None
    return max(rows, key=lambda r: r["bm25"] + w_dense * r["dense"] + w_model * r["model"])["id"]


def measure(pools: list[tuple[list[dict[str, Any]], list[str]]], w_dense: float, w_model: float) -> dict[str, Any]:
    n = len(pools)
    right = sum(top1(rows, w_dense, w_model) in rel for rows, rel in pools)
    ceiling = sum(bool({r["id"] for r in rows} & set(rel)) for rows, rel in pools)
    return {"questions": n, "top1": round(right / max(1, n), 4), "pool_recall": round(ceiling / max(1, n), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.card_choice")
    ap.add_argument("--bundle", type=Path, help="the bundle whose embedder and model are used")
    ap.add_argument("--embedder", type=Path, help="another embedder folder (model.onnx + tokenizer.json)")
    ap.add_argument("--extra", type=Path, action="append", default=[], help="a test-only set (JSONL)")
    ap.add_argument("--pool", type=int, default=5)
    ap.add_argument("--no-model", action="store_true", help="skip Engine.score (dense and BM25 only)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        compile_content(Path(tmp) / "care")
        content = CareContent.load(Path(tmp) / "care")
    if args.bundle is None and (args.embedder is None or not args.no_model):
        ap.error("--bundle is needed (or --embedder with --no-model)")
    embedder = OnnxEmbedder(args.embedder or args.bundle / "embedder")
    engine = None if args.no_model else Engine.from_bundle(args.bundle, profile=load("x86-kiosk"),
                                                           home=Home.resolve(None))
    feats = Features(content, embedder, engine, args.pool)
    base = read(DATA / "card_questions.jsonl")
    sets = {"dev": [r for r in base if split_of(r["question"]) == "dev"] + read(DATA / "card_scope_dev_short.jsonl")
            + read(DATA / "card_scope_dev_kiosk.jsonl"),
            "test": [r for r in base if split_of(r["question"]) == "test"]}
    for path in args.extra:
        sets[path.stem] = read(path)
    pools = {name: [(feats.of(r["question"]), r["relevant"]) for r in rows if r["relevant"]]
             for name, rows in sets.items()}
    grid = [(wd, wm) for wd in W_DENSE for wm in (W_MODEL if engine is not None else [0.0])]
    best = max(grid, key=lambda w: (measure(pools["dev"], *w)["top1"], -w[0] - w[1]))
    dense_only = max(W_DENSE, key=lambda wd: (measure(pools["dev"], wd, 0.0)["top1"], -wd))
    res: dict[str, Any] = {"pool": args.pool, "chosen": {"w_dense": best[0], "w_model": best[1]},
                           "chosen_without_model": {"w_dense": dense_only, "w_model": 0.0},
                           "model_ms_median": float(np.median(feats.model_ms)) if feats.model_ms else None}
    # What the kiosk does: the frozen bars, then its chooser (care.choice, weight frozen there).
    chooser = CardChooser.build(content, embedder)
    for name, p in pools.items():
        res[name] = {"bm25": measure(p, 0.0, 0.0), "hybrid": measure(p, dense_only, 0.0),
                     "hybrid+model": measure(p, *best)}
        asked = [r for r in sets[name] if r["relevant"]]
        for arm, ch in (("product_bm25", None), ("product", chooser)):
            chosen = [find_cards(content, r["question"], ch)[:1] for r in asked]
            res[name][arm] = {"questions": len(asked), "w_dense": product_choice.W_DENSE if ch else 0.0,
                              "top1": round(sum(bool(c) and c[0].card.id in r["relevant"]
                                                for c, r in zip(chosen, asked)) / max(1, len(asked)), 4),
                              "no_card": sum(not c for c in chosen)}
        if engine is not None:
            res[name]["model_only_rerank"] = measure(p, 0.0, 1e6)
    print(f"weights chosen on dev: hybrid w_dense {dense_only}; with the model w_dense {best[0]}, w_model {best[1]}")
    for name in pools:
        print(f"  {name:22s} " + "  ".join(f"{k} {v['top1']:.3f}" for k, v in res[name].items())
              + f"  (pool recall {res[name]['bm25']['pool_recall']:.3f}, n {res[name]['bm25']['questions']},"
              f" product sent {res[name]['product']['no_card']} to staff)")
    if res["model_ms_median"] is not None:
        print(f"  model choice: {res['model_ms_median']:.0f} ms median per question")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
