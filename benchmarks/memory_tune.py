"""Choose the memory's fusion weights on the dev splits of every set, never on a test split.

Run:
    nice -n 10 python -m benchmarks.memory_tune --sets "artifacts/longchat;benchmarks/data/memsets/twoperson_a,benchmarks/data/memsets/twoperson_b;benchmarks/data/memsets/kiosk" \
        --json benchmarks/results/memory-tune-dev.json

For each set, its dev conversations (``memory_recall.split_users``) are imported once through
``MemoryService`` as the recall benchmark does (live turns, session ends, a restart); then
retrieval settings are searched by coordinate ascent from the current defaults: each knob in
``GRID`` is tried at each of its values with the others held, the best kept, for ``--passes``
rounds. The objective is the mean over sets of edgemem's evidence R@10 minus the set's best
raw-turn baseline (BM25, dense, RRF) on the same dev questions, so that no one set's shape wins
the choice; ties keep the earlier (default) value. The chosen settings are printed as JSON, to
be frozen into ``RetrievalConfig``'s defaults; the test splits are then reported once with
``memory_recall --split test``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from .memory_recall import (embed_cached, import_into_memory, load_set, open_service, run_baselines)
from .memory_retrievers import RankedHit, aggregate, score_question

GRID: dict[str, list[Any]] = {
    "local_idf": [True, False],
    "w_bm25": [1.0, 0.5, 1.5],
    "w_speaker": [1.0, 0.0, 2.0, 3.0],
    "addressed": [1.0, 0.7, 0.4],
    "w_self": [0.5, 0.0, 1.0],
    "w_when": [1.0, 0.0, 2.0],
    "w_time": [0.8, 0.4, 1.5],
    "expand": [0.2, 0.1, 0.35],
    "smalltalk": [0.5, 0.25, 1.0],
    "neighbour": [0.3, 0.0, 0.45, 0.6],
    "dense_drop_names": [True, False],
    "neighbour_span": [2, 1, 3],
    "neighbour_sum": [False, True],
}


def evaluate(svc: Any, questions: list[dict], k: int) -> float:
    rows = []
    for q in questions:
        hits = svc.search(q["user"], q["question"], k, now=q["time"], reinforce=False)
        ranked = [RankedHit(str(h.text), [str(x) for x in (h.source_ids or [])]) for h in hits]
        rows.append({"qid": q["qid"], "type": q["type"], **score_question(q, ranked, k)})
    return float(aggregate(rows)["all"]["recall"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Coordinate ascent of RetrievalConfig on the dev splits.")
    ap.add_argument("--sets", required=True,
                    help="set folders separated by ';' (a set of several folders joins them with ',')")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--knobs", default=",".join(GRID), help="which knobs of GRID to search")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    from edgemem.memory.retrieval import RetrievalConfig

    from .memory_embedder import Memoized, load_embedder

    embedder = load_embedder()
    sets: list[dict[str, Any]] = []
    tmp = tempfile.TemporaryDirectory(prefix="edgemem-tune-")
    for i, folder in enumerate(Path(s) for s in a.sets.split(";")):
        turns, questions = load_set(folder, "dev")
        base = {name: aggregate(rows)["all"]["recall"] for name, rows in
                run_baselines(turns, questions, embedder, a.k).items()}
        texts = [t["text"] for t in turns] + [q["question"] for q in questions]
        mem = Memoized(embedder, texts, embed_cached(embedder, texts, "minilm"))
        home = Path(tmp.name) / f"set{i}"
        svc = open_service(home, mem)
        t0 = time.perf_counter()
        import_into_memory(svc, turns, live=True)
        svc.close()
        svc = open_service(home, mem)
        sets.append({"name": folder.name if "," not in str(folder) else "+".join(Path(f).name for f in str(folder).split(",")), "svc": svc, "questions": questions, "best_baseline": max(base.values()),
                     "baselines": base, "import_s": round(time.perf_counter() - t0, 1)})
        print(f"{sets[-1]['name']}: dev {len({t['user'] for t in turns})} conversations, {len(questions)} questions, "
              f"baselines {base}", flush=True)

    def objective(cfg: Any) -> tuple[float, dict[str, float]]:
        per = {}
        for s in sets:
            s["svc"].retrieval = cfg
            per[s["name"]] = evaluate(s["svc"], s["questions"], a.k)
        return sum(per[s["name"]] - s["best_baseline"] for s in sets) / len(sets), per

    current: dict[str, Any] = {}
    cfg = RetrievalConfig()
    best, per = objective(cfg)
    trail = [{"settings": {}, "objective": round(best, 4), "recall": per}]
    print(f"defaults: objective {best:.4f} {per}", flush=True)
    for _ in range(a.passes):
        changed = False
        for knob in a.knobs.split(","):
            for value in GRID[knob]:
                if getattr(cfg, knob) == value:
                    continue
                trial = dataclasses.replace(cfg, **{knob: value})
                obj, per_t = objective(trial)
                print(f"  {knob}={value}: {obj:.4f} {per_t}", flush=True)
                if obj > best + 1e-9:
                    best, cfg, per, changed = obj, trial, per_t, True
                    current[knob] = value
                    trail.append({"settings": dict(current), "objective": round(best, 4), "recall": per})
        if not changed:
            break
    for s in sets:
        s["svc"].close()
    tmp.cleanup()
    out = {"chosen": current, "objective": round(best, 4), "dev_recall": per,
           "dev_baselines": {s["name"]: s["baselines"] for s in sets}, "trail": trail, "grid": GRID}
    print(json.dumps(out["chosen"]), json.dumps(per))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
