"""Rehearsal quality: the bundled LLM's note extraction against the rule extractor it must beat.

Issue 4 asks for rehearsal by the bundled LLM "with a deterministic extractor as fallback and as
the baseline you must beat". This measures both on text neither was written against: the
held-out MaLP patient profiles (``symptoms`` and ``personal_information``, free text in the
patients' own words, third person in some) that the longchat set does not use, the same pool as
``benchmarks.ablation``.

Per patient, the two profile fields are two user turns. Each extractor turns them into notes
(``KIND | SUBJECT | FACT``). A note's *subject* is the atomic fact's head: what retrieval, the
executive's merge and the prompt's core facts key on. So the figure is **subject recall of key
terms**: the patient's 8 rarest content words (``ablation.key_terms``, e.g. "duphaston",
"miscarriage", "cyst" rather than "pain") found among the words of the notes' subjects. The notes'
full texts quote the sentence and would contain every term whatever was extracted, so they are
not counted. Also reported: notes per patient, the LLM's valid / rejected lines (a rejected line
is a made-up subject or an unknown kind), how often it fell back to the rules, and seconds per
turn.

Conditions:
* ``rules``: ``RuleExtractor`` (the baseline);
* ``llm``: ``LLMExtractor`` as the memory runs it: the model's validated notes, plus the rules'
  notes for subjects the model missed (the model adds, never removes);
* ``llm-only``: the model's validated notes alone (what the model contributes by itself).

``--few-shot`` puts ``rehearsal.FEW_SHOT`` (three made-up worked examples) before the turn.
Also counted: notes the model marked *stopped* where the rules did not (a wrong "stopped" would
retire a medication the patient still takes: the dangerous error for a medical memory).

Run (a SmolLM2 bundle is needed; ``edgemem-export build`` or ``benchmarks/engine_smollm2.py``):

    nice -n 5 python -m benchmarks.rehearsal_quality --bundle DIR [--no-verify] --patients 40 --json F
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .ablation import key_terms, load_engine, pick_patients
from .data import malp
from .memory_retrievers import tokenize
from .report import emit


def subject_words(notes: list[Any]) -> set[str]:
    """Every word of every note's subject, tokenized as the key terms are."""
    got: set[str] = set()
    for n in notes:
        got.update(tokenize(n.subject))
    return got


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="LLM rehearsal vs the rule extractor on held-out MaLP profiles.")
    ap.add_argument("--bundle", type=Path, required=True, help="a SmolLM2 bundle folder")
    ap.add_argument("--no-verify", action="store_true", help="load the bundle without signature checks (dev bundles)")
    ap.add_argument("--profile", default="x86-kiosk")
    ap.add_argument("--patients", type=int, default=40)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--few-shot", action="store_true", help="prompt with rehearsal.FEW_SHOT worked examples")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--samples", type=Path, default=None, help="write every turn, model output and notes here (JSONL)")
    a = ap.parse_args(argv)

    from edgemem.memory.rehearsal import FEW_SHOT, LLMExtractor, RuleExtractor

    patients = pick_patients(a.patients, a.seed)
    all_profiles = [p for p in malp.load_profiles() if p is not None]
    df: Counter[str] = Counter()
    for p in all_profiles:
        df.update(set(tokenize(f"{p.symptoms} {p.personal_information}")))
    engine = load_engine(a.bundle, not a.no_verify, a.profile)

    class Recording:
        """Wraps the engine to keep the raw model output for the samples file."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.last = inner, ""

        def stream_chat(self, msgs: Any, config: Any) -> Any:
            self.last = ""
            for piece in self.inner.stream_chat(msgs, config):
                self.last += piece
                yield piece

    gen = Recording(engine)
    rules, llm = RuleExtractor(), LLMExtractor(gen, max_new_tokens=a.max_new_tokens,
                                              shots=FEW_SHOT if a.few_shot else ())
    parser = LLMExtractor(gen)  # re-parses the same output for llm-only; keeps llm.stats single-counted
    samples = open(a.samples, "w", encoding="utf-8") if a.samples else None
    per: dict[str, list[float]] = {c: [] for c in ("rules", "llm", "llm-only")}
    counts: dict[str, int] = {c: 0 for c in per}
    llm_seconds = 0.0
    flips = 0
    turns = 0
    for i, p in enumerate(patients):
        terms = key_terms(p, df, len(all_profiles))
        if not terms:
            continue
        notes: dict[str, list[Any]] = {c: [] for c in per}
        for j, text in enumerate(t for t in (p.symptoms, p.personal_information) if t.strip()):
            tid = f"p{i}t{j}"
            r = rules.extract(tid, "user", text)
            t0 = time.perf_counter()
            both = llm.extract(tid, "user", text)
            llm_seconds += time.perf_counter() - t0
            turns += 1
            only = parser.parse(gen.last, tid, text)
            notes["rules"] += r
            notes["llm"] += both
            notes["llm-only"] += only
            rule_negs = {n.subject for n in r if n.negated}
            flips += sum(1 for n in only if n.negated and n.subject not in rule_negs)
            if samples:
                samples.write(json.dumps({"patient": i, "turn": text, "model_output": gen.last,
                                          "terms": terms,
                                          "rules": [(n.kind, n.subject) for n in r],
                                          "llm_only": [(n.kind, n.subject) for n in only]}) + "\n")
        for c, ns in notes.items():
            got = subject_words(ns)
            per[c].append(sum(1 for t in terms if t in got) / len(terms))
            counts[c] += len(ns)
        print(f"\r  patient {i + 1}/{len(patients)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    n = len(per["rules"])
    result = {
        "patients": n, "turns": turns, "seed": a.seed, "few_shot": a.few_shot, "bundle": str(a.bundle),
        "subject_key_term_recall": {c: round(sum(v) / max(1, len(v)), 3) for c, v in per.items()},
        "notes_per_patient": {c: round(counts[c] / max(1, n), 2) for c in per},
        "llm_stats": dict(llm.stats),
        "llm_stopped_not_in_rules": flips,
        "llm_seconds_per_turn": round(llm_seconds / max(1, turns), 3),
        "patients_llm_better": sum(1 for x, y in zip(per["llm"], per["rules"]) if x > y),
        "patients_llm_worse": sum(1 for x, y in zip(per["llm"], per["rules"]) if x < y),
    }
    emit(result, a.json, indent=2)


if __name__ == "__main__":
    main()
