import json, collections, sys, os
D = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
turns = [json.loads(l) for l in open(os.path.join(D, "turns.jsonl"), encoding="utf-8")]
qs = [json.loads(l) for l in open(os.path.join(D, "questions.jsonl"), encoding="utf-8")]
TK = {"user", "session", "id", "speaker", "role", "text", "time"}
QK = {"qid", "user", "type", "question", "answer", "evidence", "stale", "time"}
ids = {}
errs = []
for t in turns:
    if set(t) != TK: errs.append(("turn keys", t["id"]))
    if t["id"] in ids: errs.append(("dup turn", t["id"]))
    ids[t["id"]] = t
    if t["role"] not in ("user", "other"): errs.append(("role", t["id"]))
    if not t["id"].startswith(t["session"]) or not t["session"].startswith(t["user"]): errs.append(("id prefix", t["id"]))
    n = len(t["text"].split())
    if n < 3 or n > 60: errs.append(("length", t["id"], n))
# sessions contiguous, times increasing, 12-22 turns
import datetime as dt
seen, prev = set(), None
sess_len = collections.Counter(t["session"] for t in turns)
for t in turns:
    if t["session"] != (prev["session"] if prev else None):
        if t["session"] in seen: errs.append(("non-contiguous", t["session"]))
        seen.add(t["session"])
    if prev and prev["user"] == t["user"] and dt.datetime.fromisoformat(t["time"]) <= dt.datetime.fromisoformat(prev["time"]):
        errs.append(("time order", t["id"]))
    prev = t
for s, n in sess_len.items():
    if not 12 <= n <= 22: errs.append(("session size", s, n))
qids = set()
last = {}
for t in turns:
    last[t["user"]] = max(last.get(t["user"], t["time"]), t["time"], key=dt.datetime.fromisoformat)
for q in qs:
    if set(q) != QK: errs.append(("q keys", q["qid"]))
    if q["qid"] in qids: errs.append(("dup qid", q["qid"]))
    qids.add(q["qid"])
    if q["type"] not in ("single-hop", "multi-hop", "temporal", "open-domain"): errs.append(("type", q["qid"]))
    if not q["evidence"]: errs.append(("no evidence", q["qid"]))
    for e in q["evidence"]:
        if e not in ids: errs.append(("missing evidence", q["qid"], e))
        elif ids[e]["user"] != q["user"]: errs.append(("evidence other user", q["qid"], e))
    if len(set(q["evidence"])) != len(q["evidence"]): errs.append(("dup evidence", q["qid"]))
    if q["type"] == "multi-hop" and len({ids[e]["session"] for e in q["evidence"] if e in ids}) < 2:
        errs.append(("multi-hop single session", q["qid"]))
    if dt.datetime.fromisoformat(q["time"]) <= dt.datetime.fromisoformat(last[q["user"]]): errs.append(("q time", q["qid"]))
for e in errs: print("ERROR", *e)
print("turns:", len(turns), "sessions:", len(sess_len), "questions:", len(qs))
for u in sorted({t["user"] for t in turns}):
    ut = [t for t in turns if t["user"] == u]
    us = {t["session"] for t in ut}
    uq = [q for q in qs if q["user"] == u]
    first, lastt = ut[0]["time"][:10], ut[-1]["time"][:10]
    print(f"{u}: {len(us)} sessions, {len(ut)} turns ({first} .. {lastt}), speakers {sorted({(t['speaker'], t['role']) for t in ut})}, "
          f"{len(uq)} questions {dict(collections.Counter(q['type'] for q in uq))}")
print("type totals:", dict(collections.Counter(q["type"] for q in qs)))
print("OK" if not errs else f"{len(errs)} errors")
sys.exit(1 if errs else 0)
