"""Validate turns.jsonl / questions.jsonl: JSON, unique ids, evidence exists and belongs to the
question's user, multi-hop spans sessions, session sizes, time order. Prints counts."""
import collections
import datetime as dt
import json
import re
import sys
from pathlib import Path

D = Path(__file__).resolve().parent.parent
TYPES = {"single-hop", "multi-hop", "temporal", "open-domain"}
errors = []
turns = [json.loads(l) for l in open(D / "turns.jsonl", encoding="utf-8")]
qs = [json.loads(l) for l in open(D / "questions.jsonl", encoding="utf-8")]
by_id = {}
for t in turns:
    assert set(t) == {"user", "session", "id", "speaker", "role", "text", "time"}, t
    if t["id"] in by_id:
        errors.append("dup turn " + t["id"])
    by_id[t["id"]] = t
    if not t["id"].startswith(t["session"] + "-") or not t["session"].startswith(t["user"] + "-"):
        errors.append("bad id nesting " + t["id"])
    if t["role"] not in ("user", "other"):
        errors.append("bad role " + t["id"])
    dt.datetime.fromisoformat(t["time"])
# sessions contiguous, time increasing, sizes
seen, prev = set(), None
sess = collections.OrderedDict()
for t in turns:
    if t["session"] != prev:
        if t["session"] in seen:
            errors.append("session not contiguous " + t["session"])
        seen.add(t["session"])
        prev = t["session"]
    sess.setdefault(t["session"], []).append(t)
last_time = {}
for sid, ts in sess.items():
    if not 12 <= len(ts) <= 22:
        errors.append(f"session size {sid} {len(ts)}")
    times = [dt.datetime.fromisoformat(t["time"]) for t in ts]
    if times != sorted(times):
        errors.append("time order " + sid)
    u = ts[0]["user"]
    if u in last_time and times[0] <= last_time[u]:
        errors.append("session order " + sid)
    last_time[u] = times[-1]
    if len({t["speaker"] for t in ts}) != 2:
        errors.append("not two speakers " + sid)
for u in {t["user"] for t in turns}:
    roles = collections.defaultdict(set)
    for t in turns:
        if t["user"] == u:
            roles[t["role"]].add(t["speaker"])
    if len(roles["user"]) != 1 or len(roles["other"]) != 1:
        errors.append("roles " + u)
qids = set()
for q in qs:
    assert set(q) == {"qid", "user", "type", "question", "answer", "evidence", "stale", "time"}, q
    if q["qid"] in qids:
        errors.append("dup qid " + q["qid"])
    qids.add(q["qid"])
    if q["type"] not in TYPES:
        errors.append("type " + q["qid"])
    if not q["evidence"]:
        errors.append("no evidence " + q["qid"])
    for e in q["evidence"]:
        if e not in by_id:
            errors.append(f"missing evidence {q['qid']} {e}")
        elif by_id[e]["user"] != q["user"]:
            errors.append(f"evidence of other user {q['qid']} {e}")
    if len(set(q["evidence"])) != len(q["evidence"]):
        errors.append("dup evidence " + q["qid"])
    if q["type"] == "multi-hop" and len({by_id[e]["session"] for e in q["evidence"] if e in by_id}) < 2:
        errors.append("multi-hop within one session " + q["qid"])
    qt = dt.datetime.fromisoformat(q["time"])
    if qt <= last_time[q["user"]]:
        errors.append("question before last session " + q["qid"])
# counts
print("turns", len(turns), "sessions", len(sess), "questions", len(qs))
for u in sorted({t["user"] for t in turns}):
    ut = [t for t in turns if t["user"] == u]
    us = [s for s in sess if s.startswith(u + "-")]
    uq = [q for q in qs if q["user"] == u]
    sizes = [len(sess[s]) for s in us]
    span = (dt.datetime.fromisoformat(ut[-1]["time"]) - dt.datetime.fromisoformat(ut[0]["time"])).days
    wc = [len(t["text"].split()) for t in ut]
    names = sorted({t["speaker"] for t in ut})
    addr = sum(1 for t in ut for n in names if n != t["speaker"] and re.search(r"\b" + n + r"\b", t["text"]))
    types = collections.Counter(q["type"] for q in uq)
    print(f"{u}: speakers={names} turns={len(ut)} sessions={len(us)} per-session={min(sizes)}-{max(sizes)} "
          f"span_days={span} words/turn={min(wc)}-{max(wc)} turns_naming_other={addr} questions={len(uq)} {dict(types)}")
if errors:
    print("ERRORS:", *errors, sep="\n  ")
    sys.exit(1)
print("OK")
