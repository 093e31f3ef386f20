"""Assemble hand-written conversations (conv_*.py) into turns.jsonl / questions.jsonl.

Each conv module holds the hand-written text: SESSIONS = [(start_iso, block)], where block lines are
"X| text" (X = speaker code) with an optional trailing "@@key" marking an evidence turn, and
QUESTIONS = [(type, question, answer, "key1 key2")]. Only ids and timestamps are computed here.
"""
import datetime as dt
import importlib
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent
MODULES = ["conv_1", "conv_2", "conv_3", "conv_4"]


def build_conv(mod):
    rng = random.Random(mod.CONV)  # only for minute gaps between turns
    turns, keys = [], {}
    for si, (start, block) in enumerate(mod.SESSIONS, 1):
        sid = f"{mod.CONV}-s{si:02d}"
        t = dt.datetime.fromisoformat(start)
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        for ti, ln in enumerate(lines, 1):
            code, text = ln.split("|", 1)
            text = text.strip()
            key = None
            if "@@" in text:
                text, key = text.rsplit("@@", 1)
                text, key = text.strip(), key.strip()
            tid = f"{sid}-t{ti:02d}"
            if key:
                for k in key.split(","):
                    assert k not in keys, (mod.CONV, k)
                    keys[k] = tid
            name = mod.NAMES[code.strip()]
            turns.append({"user": mod.CONV, "session": sid, "id": tid, "speaker": name,
                          "role": "user" if name == mod.OWNER else "other", "text": text,
                          "time": t.isoformat()})
            t += dt.timedelta(minutes=rng.choice([1, 1, 2, 2, 3]), seconds=rng.randint(0, 50))
    qtime = mod.QUESTION_TIME
    qs = []
    for qi, (qtype, q, a, ev) in enumerate(mod.QUESTIONS, 1):
        evidence = [keys[k] for k in ev.split()]
        qs.append({"qid": f"{mod.CONV}-q{qi:02d}", "user": mod.CONV, "type": qtype, "question": q,
                   "answer": a, "evidence": evidence, "stale": [], "time": qtime})
    return turns, qs


def main():
    sys.path.insert(0, str(HERE))
    all_turns, all_qs = [], []
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError:
            print("skip", name)
            continue
        t, q = build_conv(mod)
        all_turns += t
        all_qs += q
    with open(OUT / "turns.jsonl", "w", encoding="utf-8") as f:
        for t in all_turns:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    with open(OUT / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in all_qs:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    print(len(all_turns), "turns", len(all_qs), "questions")


if __name__ == "__main__":
    main()
