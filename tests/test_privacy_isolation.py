"""Isolation: many patients, interleaved sessions, deliberately similar content — zero leaks.

Every patient says nearly the same sentences (same drugs, same allergies, same wording), each
carrying the patient's own canary words, over interleaved sessions (several open at once). Then,
for every patient: searches (own wording, other patients' exact sentences, other patients'
canaries, generic questions), prompts, listings and exports must contain no other patient's
canary, and every hit's provenance must be the patient's own turns. The same holds over the HTTP
API of a running kiosk server (tiny bundle, real memory, real engine).
"""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path

import httpx
import pytest

from edgemem.home import Home
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.memory.service import MemoryService
from edgemem.privacy.cipher import DataKey
from privacy_helpers import canary

TEMPLATES = [
    "I am allergic to penicillin, my allergy card number is {c0}.",
    "I take metformin 500 mg twice a day, prescription {c1}.",
    "My knee hurts when I climb stairs since the {c2} accident.",
    "My daughter {c3} drives me to the clinic on Mondays.",
    "I stopped taking ibuprofen because of {c4} stomach pain.",
    "Please keep your answers short, I read slowly. My code word is {c5}.",
]


def _sentences(user: str) -> list[str]:
    c = {f"c{i}": canary(user, i) for i in range(6)}
    return [t.format(**c) for t in TEMPLATES]


def _foreign(text: str, me: str, users: list[str]) -> list[str]:
    return [canary(u, i) for u in users if u != me for i in range(6) if canary(u, i) in text]


@pytest.fixture(scope="module")
def embedder(minilm_embedder_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_embedder_dir)


def test_randomized_interleaved_patients_never_see_each_other(tmp_path, embedder):
    rnd = random.Random(7)
    users = [f"p-{n:03d}" for n in range(8)]
    svc = MemoryService(Home(tmp_path).ensure(), embedder, DataKey.generate())
    own_tids: dict[str, set[str]] = {u: set() for u in users}
    # Two visits per patient; visits interleave, with up to three sessions open at once.
    queue = [(u, v) for u in users for v in range(2)]
    rnd.shuffle(queue)
    open_sessions: dict[str, tuple[str, list[str]]] = {}
    t = 1_700_000_000.0
    while queue or open_sessions:
        if queue and (len(open_sessions) < 3 or rnd.random() < 0.3):
            u, _v = queue.pop()
            if u not in open_sessions:
                lines = _sentences(u)
                rnd.shuffle(lines)
                open_sessions[u] = (svc.start_session(u, time=t), lines)
                continue
            queue.insert(0, (u, _v))
        u = rnd.choice(sorted(open_sessions))
        sid, lines = open_sessions[u]
        t += 30
        if lines:
            tid = svc.add_turn(u, sid, "user", lines.pop(), time=t)
            own_tids[u].add(tid)
            if rnd.random() < 0.5:
                own_tids[u].add(svc.add_turn(u, sid, "assistant", "Thank you, I have noted that.", time=t + 1))
        else:
            svc.end_session(u, sid)
            del open_sessions[u]

    checked = leaks = 0
    for u in users:
        others = [x for x in users if x != u]
        queries = (["penicillin allergy card", "who drives me to the clinic", "what is my code word"]
                   + [rnd.choice(_sentences(x)) for x in rnd.sample(others, 3)]
                   + [canary(x, rnd.randrange(6)) for x in rnd.sample(others, 2)])
        for n, q in enumerate(queries):
            hits = svc.search(u, q, 10, reinforce=False)
            for h in hits:
                checked += 1
                leaks += len(_foreign(h.text, u, users))
                assert set(h.source_ids) <= own_tids[u], (u, q, h.source_ids)
            if n % 2:
                continue
            plan = svc.build_prompt(u, None, 400, lambda s: len(s.split()), "You are a kiosk assistant.", query=q)
            prompt = json.dumps([getattr(m, "content", m) if not isinstance(m, dict) else m for m in plan.messages],
                                default=str)
            checked += 1
            leaks += len(_foreign(prompt, u, users))
        dump = json.dumps([svc.export(u), svc.list_memories(u, include_archived=True), svc.short_term(u)], default=str)
        checked += 1
        leaks += len(_foreign(dump, u, users))
        assert all(canary(u, i) in dump for i in range(6))  # and the patient's own data are all there
    svc.close()
    print(f"\nisolation: {len(users)} patients, {checked} retrievals/prompts/exports checked, {leaks} cross-patient hits")
    assert leaks == 0 and checked > 300


def test_api_answers_and_prompts_stay_per_patient(_tiny_bundle_built, tmp_path):
    """Over HTTP on a running kiosk: interleaved admin sessions for four patients chatting the
    same sentences; then every search, listing and prompt is checked for foreign canaries."""
    from serve_helpers import running_kiosk

    users = [f"p-{n}" for n in range(4)]
    rnd = random.Random(11)
    with running_kiosk(_tiny_bundle_built, tmp_path / "home") as kiosk, httpx.Client(base_url=kiosk.url, timeout=120) as http:
        admin = kiosk.admin_headers()
        tokens = {u: http.post("/api/admin/sessions", json={"user": u}, headers=admin).json()["token"] for u in users}
        todo = [(u, s) for u in users for s in _sentences(u)[:4]]
        rnd.shuffle(todo)  # turns of the four open sessions interleave
        for u, sentence in todo:
            r = http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {tokens[u]}"},
                          json={"model": "edgemem", "max_tokens": 4, "messages": [{"role": "user", "content": sentence}]})
            assert r.status_code == 200, r.text
            assert not _foreign(r.text, u, users)
        for u in users:
            assert http.post("/api/admin/sessions/end", json={"token": tokens[u]}, headers=admin).status_code == 200
        checked = 0
        for u in users:
            others = [x for x in users if x != u]
            for q in ["penicillin allergy card", rnd.choice(_sentences(rnd.choice(others))),
                      canary(rnd.choice(others), 0)]:
                r = http.get(f"/api/admin/patients/{u}/search", params={"q": q, "k": 10}, headers=admin)
                assert r.status_code == 200
                checked += len(r.json()["hits"])
                found = _foreign(json.dumps(r.json()["hits"]), u, users)  # (the echoed query aside)
                assert not found, (u, q, found)
            listed = http.get(f"/api/admin/patients/{u}/memories", headers=admin)
            checked += 1
            assert not _foreign(listed.text, u, users), u
            # The prompt the assistant would send to the engine for this patient's next turn.
            rt = kiosk.runtime
            sid = rt.memory.start_session(u)
            # (The patient's own message must not carry another's canary: it would become theirs.)
            ask = rnd.choice(TEMPLATES).format(**{f"c{i}": "which" for i in range(6)})
            turn = rt.assistant.prepare(u, sid, ask, rt.engine, max_new_tokens=8)
            prompt = " ".join(m.content for m in turn.messages)
            checked += 1
            found = _foreign(prompt, u, users)
            assert not found, (u, found, prompt)
            assert any(canary(u, i) in prompt for i in range(6)), prompt  # the memory did reach the prompt
            rt.memory.end_session(u, sid)
        forgotten = http.delete(f"/api/admin/patients/{users[0]}", headers=admin)
        assert forgotten.status_code == 200
    assert checked > 20
    # The audit log saw every access by pseudonym, and holds no patient text or patient id.
    from edgemem.privacy.audit import AuditLog

    log = AuditLog(tmp_path / "home")
    entries = list(log.entries())
    actions = collections.Counter(e["action"] for e in entries)
    assert actions["session_start"] >= 4 and actions["session_end"] >= 4 and actions["search"] >= 12
    assert actions["read"] >= 4 and actions["forget"] == 1 and log.verify().ok
    assert {e["patient"] for e in entries if e["action"] == "search"} == {log.pseudonym(u) for u in users}
    raw = (tmp_path / "home" / "audit.log").read_bytes()
    for u in users:
        assert u.encode() not in raw
        assert not any(canary(u, i).encode() in raw for i in range(6))
    assert b"penicillin" not in raw and b"metformin" not in raw
