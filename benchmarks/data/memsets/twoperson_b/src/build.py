import json, datetime as dt, importlib, sys, os
OUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODS = ["conv1", "conv2", "conv3", "conv4"]

def build():
    turns_out, q_out = [], []
    for m in MODS:
        mod = importlib.import_module(m)
        cid = mod.CID
        keymap = {}
        for si, (start, turns) in enumerate(mod.SESSIONS, 1):
            sid = f"{cid}-s{si:02d}"
            t = dt.datetime.fromisoformat(start)
            for ti, tup in enumerate(turns, 1):
                letter, text = tup[0], tup[1]
                name, role = mod.SPEAKERS[letter]
                tid = f"{sid}-t{ti:02d}"
                if len(tup) > 2:
                    for k in tup[2].split(","):
                        assert k not in keymap, (cid, k)
                        keymap[k] = tid
                turns_out.append({"user": cid, "session": sid, "id": tid, "speaker": name,
                                  "role": role, "text": text, "time": t.isoformat()})
                # next turn 1-2 minutes later, longer texts take longer to type
                words = len(text.split())
                t += dt.timedelta(seconds=45 + int(1.2 * words) + (ti * 7) % 30)
        for qi, q in enumerate(mod.QUESTIONS, 1):
            typ, question, answer, keys = q[:4]
            ev = [keymap[k] for k in keys]
            q_out.append({"qid": f"{cid}-q{qi:02d}", "user": cid, "type": typ, "question": question,
                          "answer": answer, "evidence": ev, "stale": [], "time": mod.QTIME})
    with open(os.path.join(OUT, "turns.jsonl"), "w", encoding="utf-8") as f:
        for r in turns_out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(OUT, "questions.jsonl"), "w", encoding="utf-8") as f:
        for r in q_out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(len(turns_out), "turns", len(q_out), "questions")

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    build()
