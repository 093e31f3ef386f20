"""Assemble the clinic-kiosk memory set from the hand-written patient files.

Each patient module (kpNN.py) holds hand-written sessions and questions. Turns carry
optional labels; questions cite labels, which are resolved here to turn ids so that
evidence never depends on counting turns by hand.
"""
import importlib.util
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

SRC = Path(__file__).parent
OUT = SRC.parent


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    turns, questions = [], []
    for path in sorted(SRC.glob("kp*.py")):
        m = load(path)
        rng = random.Random(m.USER)
        labels = {}
        last_time = None
        for si, (start, lines) in enumerate(m.SESSIONS, 1):
            sid = f"{m.USER}-s{si:02d}"
            t = datetime.fromisoformat(start).replace(tzinfo=timezone.utc)
            assert last_time is None or t > last_time + timedelta(days=6), (sid, start)
            for ti, line in enumerate(lines, 1):
                role, text = line[0], line[1]
                tid = f"{sid}-t{ti:02d}"
                if len(line) > 2:
                    assert line[2] not in labels, (m.USER, line[2])
                    labels[line[2]] = tid
                    assert role == "u", (tid, "facts live in patient turns")
                speaker = m.NAME if role == "u" else "assistant"
                turns.append({"user": m.USER, "session": sid, "id": tid, "speaker": speaker,
                              "role": "user" if role == "u" else "assistant",
                              "text": text, "time": t.isoformat()})
                t += timedelta(seconds=rng.randint(35, 130))
            last_time = t
        ask = datetime.fromisoformat(m.ASK_TIME).replace(tzinfo=timezone.utc)
        assert ask > last_time
        for qi, q in enumerate(m.QUESTIONS, 1):
            qtype, text, answer, ev, stale = q
            questions.append({"qid": f"{m.USER}-q{qi:02d}", "user": m.USER, "type": qtype,
                              "question": text, "answer": answer,
                              "evidence": [labels[x] for x in ev],
                              "stale": [labels[x] for x in stale],
                              "time": (ask + timedelta(minutes=qi)).isoformat()})
    with open(OUT / "turns.jsonl", "w", encoding="utf-8") as f:
        for t in turns:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    with open(OUT / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    print(len(turns), "turns,", len(questions), "questions")


if __name__ == "__main__":
    main()
