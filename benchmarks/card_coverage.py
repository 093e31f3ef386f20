"""Card coverage: for held-out patient questions labelled with the cards a clinician would accept
(``benchmarks/data/card_questions.jsonl``, written before the labeller read any card), how often
card search puts a relevant card first, and in its top 3.

    python -m benchmarks.card_coverage [--json]

The questions were never used to tune the search (BM25 with fixed field weights, chosen before).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from edgemem.care import CareContent
from export.care import compile_content

DATA = Path(__file__).resolve().parent / "data" / "card_questions.jsonl"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.card_coverage")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        compile_content(Path(tmp) / "care")
        content = CareContent.load(Path(tmp) / "care")
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    answerable = [r for r in rows if r["relevant"]]
    top1 = top3 = 0
    misses = []
    for r in answerable:
        ids = [h.card.id for h in content.search(r["question"], 3)]
        rel = set(r["relevant"])
        top1 += bool(ids[:1] and ids[0] in rel)
        hit3 = bool(rel & set(ids))
        top3 += hit3
        if not hit3:
            misses.append({"question": r["question"], "relevant": r["relevant"], "got": ids})
    res = {"questions": len(rows), "answerable": len(answerable), "cards": len(content.cards),
           "top1": round(top1 / len(answerable), 4), "top3": round(top3 / len(answerable), 4)}
    if args.json:
        print(json.dumps(res))
    else:
        print(f"{res['answerable']} answerable of {res['questions']} questions, {res['cards']} cards: "
              f"relevant card first {res['top1']:.1%}, in the top 3 {res['top3']:.1%}")
        if args.show_misses:
            for m in misses:
                print("  miss:", m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
