"""Which channel headers let the model judge phrases best? A dev-split sweep for ChoiceExtractor.

``ChoiceExtractor`` keeps a phrase when the model finds it much more likely after a header naming
a kind than after a neutral header (docs/memory.md, "Rehearsal by the bundled LLM"). This scores
the dev split's candidate phrases under several header sets and, per set, prints recall / kind
recall / precision / F1 against the gold facts for keep thresholds 0-6, and the lowest threshold
whose precision reaches the rules' (the rule that chose the shipped 4.0).

    nice -n 5 python -m benchmarks.rehearsal_headers --bundle DIR [--sets shipped,B,C] [--split dev]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from .ablation import load_engine
from .rehearsal_quality import load_gold, score_turn

OTHER_SETS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "B": ("Some words from the text:", (
        ("medication", "Medicines the patient takes:"), ("condition", "The patient was diagnosed with"),
        ("symptom", "The patient complains of"), ("history", "Tests, procedures and past events:"),
        ("personal", "About the patient (age, name, family, work):"))),
    "C": ("Text:", (("medication", "Medications:"), ("condition", "Diagnoses:"), ("symptom", "Symptoms:"),
                    ("history", "Past history:"), ("personal", "Social history:"))),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Channel header sets for LLM rehearsal, on the dev split.")
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--sets", default="shipped,B,C")
    a = ap.parse_args(argv)

    import edgemem.memory.rehearsal_choice as rc
    from edgemem.memory.rehearsal import RuleExtractor, clean

    sets = {"shipped": (rc.NEUTRAL, rc.HEADERS), **OTHER_SETS}
    gold = load_gold(a.split)
    engine = load_engine(a.bundle, not a.no_verify, "x86-kiosk")
    rules = RuleExtractor()
    base: Counter[str] = Counter()
    for g in gold:
        base += score_turn(rules.extract("t", "user", g["text"]), g["facts"])
    rules_precision = base["notes_right"] / max(1, base["notes"])
    thresholds = range(7)
    for name in a.sets.split(","):
        neutral, headers = sets[name]
        # keep = the lowest threshold, so every phrase any threshold keeps gets its kind scored.
        ex = rc.ChoiceExtractor(engine, keep=min(thresholds), neutral=neutral, headers=headers)
        data: list[Any] = []
        for g in gold:
            turn = clean(g["text"])[: rc.MAX_TURN_CHARS]
            r = rules.extract("t", "user", g["text"])
            fresh, taken = ex.fresh_candidates(turn, r)
            data.append((g, r, fresh, taken, ex.judge(turn, [c.phrase for c in fresh])))

        def at(thr: float) -> tuple[float, float, float, float]:
            tot: Counter[str] = Counter()
            for g, r, fresh, taken, judged in data:
                tot += score_turn(r + ex.select(fresh, judged, taken, "t", keep=thr), g["facts"])
            rec, prec = tot["gold_found"] / tot["gold"], tot["notes_right"] / max(1, tot["notes"])
            return (round(rec, 3), round(tot["gold_found_kind"] / tot["gold"], 3), round(prec, 3),
                    round(2 * rec * prec / max(1e-9, rec + prec), 3))

        rows = [(t, *at(t)) for t in thresholds]
        chosen = next((r for r in rows if r[3] >= rules_precision), None)
        print(f"{name}: neutral {neutral!r}; lowest keep with precision >= rules' {rules_precision:.3f}: {chosen}")
        for r in rows:
            print(f"   keep > {r[0]}: recall {r[1]}  kind recall {r[2]}  precision {r[3]}  F1 {r[4]}")


if __name__ == "__main__":
    main()
