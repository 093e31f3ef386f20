"""Emergency triage figures: the project's test split (and any extra labelled set), rules alone
against rules + numbers + the learned stage, recall and false positives per kind, latency.

    python -m benchmarks.triage                      # test split of export/data/triage
    python -m benchmarks.triage --extra FILE.jsonl   # also a set written apart (the fresh set)
    python -m benchmarks.triage --json

The test split is never used to choose anything (export/triage.py chooses on dev); report it once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgemem import safety
from edgemem.safety.evaluate import evaluate, read_rows
from export.triage import OUT, load


def run(rows, clf):
    res = evaluate(rows, lambda r: safety.check(r.text, context=r.context, classifier=clf))
    low = {k: v["recall"] for k, v in res["kinds"].items() if v["recall"] is not None}
    res["worst_kind"] = min(low.items(), key=lambda kv: kv[1]) if low else None
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.triage")
    ap.add_argument("--split", default="test", choices=("train", "dev", "test"))
    ap.add_argument("--extra", type=Path, action="append", default=[])
    ap.add_argument("--classifier", type=Path, default=OUT)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args(argv)
    clf = safety.TriageClassifier(args.classifier)
    sets = {f"project {args.split} split": load()[args.split]}
    for p in args.extra:
        sets[p.name] = read_rows([p])
    out = {}
    for name, rows in sets.items():
        full, rules = run(rows, clf), run(rows, None)
        out[name] = {"rules_and_classifier": full, "rules_only": rules}
        if not args.json:
            print(f"{name}: {full['emergencies']} emergencies, {full['look_alikes']} look-alikes")
            for label, r in (("rules only", rules), ("rules + numbers + classifier", full)):
                print(f"  {label:30} recall {r['recall']:.1%}  FP {r['false_positive_rate']:.1%}  "
                      f"p50 {r['latency_ms']['p50']} ms  p99 {r['latency_ms']['p99']} ms  worst kind {r['worst_kind']}")
            for k, v in full["kinds"].items():
                if v["emergencies"]:
                    print(f"    {k:20} recall {v['recall']:.0%} ({v['caught']}/{v['emergencies']})"
                          + (f"  FP {v['false_positive_rate']:.0%} ({v['false_alarms']}/{v['look_alikes']})"
                             if v["look_alikes"] else ""))
            if args.show_errors:
                for m in full["missed"]:
                    print("    missed:", m["category"], "|", m["text"])
                for a in full["false_alarms"]:
                    print("    false alarm:", a["as"], a["stage"], "|", a["text"])
        if not args.show_errors:
            for r in (full, rules):
                r.pop("missed"), r.pop("false_alarms")
    if args.json:
        print(json.dumps({"classifier": {"thresholds": clf.thresholds, "version": clf.version}, "sets": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
