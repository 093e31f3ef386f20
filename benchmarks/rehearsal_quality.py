"""Rehearsal quality: the bundled LLM's note extraction against the rule extractor it must beat.

Issue 4 asks for rehearsal by the bundled LLM "with a deterministic extractor as fallback and as
the baseline you must beat". This measures them against **hand-labelled gold facts**
(``benchmarks/data/rehearsal_gold/{dev,test}.jsonl``): 40 held-out MaLP patients (the ablation's
pool, seed 5; ``test`` is its first 20, ``dev`` the next 20), two turns each (the profile's
``symptoms`` and ``personal_information``, free text in the patients' own words, third person in
some). Each line lists the facts a medical memory should keep as (kind, subject copied from the
text, negated). They were written by an annotator who saw neither extractor's code nor output,
to the guideline in ``benchmarks/data/rehearsal_gold/README.md``.

Figures per method, over all turns of the split:

* **recall**: gold facts whose subject shares a content word (``text.terms``: folded, stemmed,
  stop words dropped) with some note's subject; **kind recall** also needs the same kind;
* **precision**: notes whose subject shares a content word with some gold subject of that turn;
* **F1**, notes per turn, seconds per turn;
* **wrong negation**: notes matched to a gold fact that is *not* negated but marked negated (a
  wrong "stopped" would retire a medication the patient still takes);
* the old figure, **subject key-term recall** (the patient's 8 rarest content words found among
  the subjects), kept for comparison with earlier runs.

Methods: ``rules`` (``RuleExtractor``, the baseline); ``choice`` (``ChoiceExtractor``: rules plus
phrases of the turn the model scores as facts; the shipped LLM rehearsal); ``write`` (the older
``LLMExtractor`` with ``FEW_SHOT``: the model writes ``KIND | SUBJECT | FACT`` lines); and the
control ``phrases`` (rules plus *every* candidate phrase, no model: what the model's judgement
adds is ``choice`` against it). Tune on ``dev``; report ``test``.

    nice -n 5 python -m benchmarks.rehearsal_quality --bundle DIR [--no-verify] --split test --json F
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .ablation import key_terms, load_engine
from .data import malp
from .memory_retrievers import tokenize
from .report import emit

GOLD = Path(__file__).resolve().parent / "data" / "rehearsal_gold"


def load_gold(split: str) -> list[dict[str, Any]]:
    profiles = {p.index: p for p in malp.load_profiles() if p is not None}
    rows = []
    for line in open(GOLD / f"{split}.jsonl", encoding="utf-8"):
        g = json.loads(line)
        g["text"] = getattr(profiles[g["profile"]], g["field"])
        rows.append(g)
    return rows


def score_turn(notes: list[Any], facts: list[dict[str, Any]]) -> dict[str, int]:
    """Counts for one turn: matched gold facts (any kind / same kind), matched notes, wrong negations."""
    from edgemem.memory.text import terms

    g_terms = [set(terms(f["subject"])) for f in facts]
    n_terms = [set(terms(n.subject)) for n in notes]
    out = Counter()
    for f, gt in zip(facts, g_terms):
        hits = [n for n, nt in zip(notes, n_terms) if nt & gt]
        out["gold_found"] += bool(hits)
        out["gold_found_kind"] += any(n.kind == f["kind"] for n in hits)
        out["wrong_negation"] += sum(1 for n in hits if n.negated and not f["negated"])
    for nt in n_terms:
        out["notes_right"] += any(nt & gt for gt in g_terms)
    out["gold"], out["notes"] = len(facts), len(notes)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="LLM rehearsal vs the rule extractor on hand-labelled MaLP facts.")
    ap.add_argument("--bundle", type=Path, required=True, help="a SmolLM2 bundle folder")
    ap.add_argument("--no-verify", action="store_true", help="load the bundle without signature checks (dev bundles)")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--methods", default="rules,choice", help="comma list of rules, phrases, choice, write")
    ap.add_argument("--keep", type=float, default=None, help="ChoiceExtractor keep threshold (default: its own)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--samples", type=Path, default=None, help="write every turn's notes per method here (JSONL)")
    a = ap.parse_args(argv)

    from edgemem.memory.rehearsal import FEW_SHOT, LLMExtractor, RuleExtractor
    from edgemem.memory.rehearsal_choice import ChoiceExtractor

    gold = load_gold(a.split)
    all_profiles = [p for p in malp.load_profiles() if p is not None]
    by_index = {p.index: p for p in all_profiles}
    df: Counter[str] = Counter()
    for p in all_profiles:
        df.update(set(tokenize(f"{p.symptoms} {p.personal_information}")))
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    engine = load_engine(a.bundle, not a.no_verify, a.profile) if set(methods) - {"rules", "phrases"} else None
    extractors: dict[str, Any] = {"rules": RuleExtractor()}
    if "choice" in methods:
        extractors["choice"] = ChoiceExtractor(engine, **({"keep": a.keep} if a.keep is not None else {}))
    if "phrases" in methods:
        class AllPhrases(ChoiceExtractor):
            """The control: every candidate phrase kept, no model (kind "other")."""

            def judge(self, turn: str, phrases: Any) -> list[tuple[str, float, float]]:
                return [("other", float("inf"), 0.0) for _ in phrases]

        extractors["phrases"] = AllPhrases(None)  # type: ignore[arg-type]
    if "write" in methods:
        extractors["write"] = LLMExtractor(engine, shots=FEW_SHOT)
    totals = {m: Counter() for m in methods}
    seconds = {m: 0.0 for m in methods}
    subjects: dict[str, dict[int, set[str]]] = {m: {} for m in methods}
    samples = open(a.samples, "w", encoding="utf-8") if a.samples else None
    for i, g in enumerate(gold):
        row = {"profile": g["profile"], "field": g["field"], "gold": g["facts"]}
        for m in methods:
            t0 = time.perf_counter()
            notes = extractors[m].extract(f"p{g['profile']}{g['field'][0]}", "user", g["text"])
            seconds[m] += time.perf_counter() - t0
            totals[m] += score_turn(notes, g["facts"])
            subjects[m].setdefault(g["profile"], set()).update(w for n in notes for w in tokenize(n.subject))
            row[m] = [(n.kind, n.subject, n.negated) for n in notes]
        if samples:
            samples.write(json.dumps(row) + "\n")
        print(f"\r  turn {i + 1}/{len(gold)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    result: dict[str, Any] = {"split": a.split, "turns": len(gold), "gold_facts": sum(len(g["facts"]) for g in gold),
                              "bundle": str(a.bundle), "methods": {}}
    for m in methods:
        t = totals[m]
        rec, prec = t["gold_found"] / max(1, t["gold"]), t["notes_right"] / max(1, t["notes"])
        kt = []
        for pidx, got in subjects[m].items():
            terms_ = key_terms(by_index[pidx], df, len(all_profiles))
            if terms_:
                kt.append(sum(1 for w in terms_ if w in got) / len(terms_))
        result["methods"][m] = {
            "recall": round(rec, 3), "kind_recall": round(t["gold_found_kind"] / max(1, t["gold"]), 3),
            "precision": round(prec, 3), "f1": round(2 * rec * prec / max(1e-9, rec + prec), 3),
            "notes_per_turn": round(t["notes"] / len(gold), 2), "wrong_negation": t["wrong_negation"],
            "subject_key_term_recall": round(sum(kt) / max(1, len(kt)), 3),
            "seconds_per_turn": round(seconds[m] / len(gold), 3),
        }
        if hasattr(extractors[m], "stats"):
            result["methods"][m]["stats"] = dict(extractors[m].stats)
    emit(result, a.json, indent=2)


if __name__ == "__main__":
    main()
