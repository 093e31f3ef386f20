"""Validate the kiosk memory set: JSON, unique ids, evidence/stale ids exist and belong to the user."""
import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

OUT = Path(__file__).parent.parent
TYPES = {"single-hop", "multi-hop", "temporal", "open-domain", "update"}

turns = [json.loads(l) for l in open(OUT / "turns.jsonl", encoding="utf-8")]
qs = [json.loads(l) for l in open(OUT / "questions.jsonl", encoding="utf-8")]
ids = Counter(t["id"] for t in turns)
assert all(c == 1 for c in ids.values()), "duplicate turn ids"
by_id = {t["id"]: t for t in turns}
keys = {"user", "session", "id", "speaker", "role", "text", "time"}
sessions = defaultdict(list)
last_user_time = {}
for t in turns:
    assert set(t) == keys, t["id"]
    assert t["role"] in {"user", "assistant"}
    assert (t["role"] == "assistant") == (t["speaker"] == "assistant")
    assert t["id"].startswith(t["session"]) and t["session"].startswith(t["user"] + "-s")
    datetime.fromisoformat(t["time"])
    sessions[t["session"]].append(t)
# sessions contiguous
order = [t["session"] for t in turns]
seen = set()
for i, s in enumerate(order):
    if i and order[i - 1] != s:
        assert s not in seen, f"session {s} not contiguous"
    seen.add(s)
per_user_sessions = defaultdict(list)
for sid, ts in sessions.items():
    assert 6 <= len(ts) <= 16, (sid, len(ts))
    per_user_sessions[ts[0]["user"]].append(sid)
for u, ss in per_user_sessions.items():
    assert 6 <= len(ss) <= 12, (u, len(ss))
qids = Counter(q["qid"] for q in qs)
assert all(c == 1 for c in qids.values()), "duplicate qids"
user_last = {}
for t in turns:
    user_last[t["user"]] = max(user_last.get(t["user"], t["time"]), t["time"])
for q in qs:
    assert q["type"] in TYPES, q["qid"]
    assert q["evidence"], q["qid"]
    for e in q["evidence"] + q["stale"]:
        assert e in by_id, (q["qid"], e)
        assert by_id[e]["user"] == q["user"], (q["qid"], e)
        assert by_id[e]["role"] == "user", (q["qid"], e)
    assert not set(q["evidence"]) & set(q["stale"]), q["qid"]
    if q["type"] == "multi-hop":
        assert len({by_id[e]["session"] for e in q["evidence"]}) >= 2, q["qid"]
    if q["type"] == "update":
        assert q["stale"], q["qid"]
    assert datetime.fromisoformat(q["time"]) > datetime.fromisoformat(user_last[q["user"]]), q["qid"]
per_user_q = Counter(q["user"] for q in qs)
assert all(per_user_q[u] >= 20 for u in per_user_sessions), per_user_q
words = [len(t["text"].split()) for t in turns if t["role"] == "user"]
print(f"patients: {len(per_user_sessions)}  sessions: {len(sessions)}  turns: {len(turns)} "
      f"(patient {sum(t['role']=='user' for t in turns)}, assistant {sum(t['role']=='assistant' for t in turns)})")
print(f"questions: {len(qs)}  by type: {dict(Counter(q['type'] for q in qs))}")
print(f"questions per patient: min {min(per_user_q.values())} max {max(per_user_q.values())}")
print(f"sessions per patient: {sorted(len(v) for v in per_user_sessions.values())}")
print(f"turns per session: min {min(len(v) for v in sessions.values())} max {max(len(v) for v in sessions.values())}")
print(f"patient turn words: min {min(words)} max {max(words)} mean {sum(words)/len(words):.1f}")
print(f"questions with stale turns: {sum(bool(q['stale']) for q in qs)}")
print("OK")
