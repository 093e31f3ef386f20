"""The long multi-session evaluation set: deterministic, held-out only, and its evidence is real.

Runs on a small MaLP-shaped folder made here (the real release lives outside the repository)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import build_longchat, malp  # noqa: E402

SYMPTOMS = ["headache", "back pain", "a rash", "a cough", "dizziness", "stomach ache", "sore knees", "tiredness"]


@pytest.fixture()
def fake_malp(tmp_path: Path) -> Path:
    dialogues = []
    for i in range(400):
        s = SYMPTOMS[i % len(SYMPTOMS)]
        rounds = [{"0": {"Assistant": "Doctor: Hello, how can I help you today?",
                         "User": f'"Patient: I have had {s} for {i % 9 + 1} days."'}}]
        for r in range(1, 6):
            rounds.append({str(r): {"Assistant": f"Doctor: For {s}, rest and drink water (note {i}-{r}).",
                                    "User": f"Patient: Thank you, point {r} of visit {i} is clear."}})
        dialogues.append(rounds)
    profiles = []
    for i in range(300):
        pref = ["prefer concise answer", "prefer detailed description", "prefer polite response"][i % 3]
        profiles.append(json.dumps({"personal_information": f"I am a {20 + i % 50}-year-old teacher.",
                                    "symptoms": f"I have {SYMPTOMS[i % 8]} since case {i}.",
                                    "dialogue_preference": pref}))
    profiles.append("{not json")
    (tmp_path / "dialogues.json").write_text(json.dumps(dialogues))
    (tmp_path / "profiles.json").write_text(json.dumps(profiles))
    return tmp_path


def test_malp_cleaning_and_preferences(fake_malp: Path) -> None:
    d = malp.load_dialogues(fake_malp)
    assert d[0][0].text == "Hello, how can I help you today?" and d[0][1].text == "I have had headache for 1 days."
    assert malp.normalize_preference("Prefer concise answers") == "concise"
    assert malp.normalize_preference("The patient prefers a detailed description.") == "detailed"
    assert malp.normalize_preference("concise or detailed") is None
    assert malp.load_profiles(fake_malp)[-1] is None


def test_only_heldout_dialogues_are_used(fake_malp: Path) -> None:
    from export.dialogues import malp_dialogue

    raw = json.loads((fake_malp / "dialogues.json").read_text())
    held = malp.heldout_dialogue_indices(fake_malp)
    assert 0 < len(held) < len(raw) * 0.25
    assert all(malp_dialogue(i, raw[i]).heldout for i in held)
    _, _, meta = build_longchat.build(seed=3, patients=3, min_sessions=8, max_sessions=10, folder=fake_malp)
    assert set(meta["malp_dialogues"]) <= held
    assert all(malp.is_heldout("profile", i) for i in meta["malp_profiles"])


def test_build_is_deterministic_and_evidence_is_consistent(fake_malp: Path) -> None:
    a = build_longchat.build(seed=3, patients=3, min_sessions=8, max_sessions=10, folder=fake_malp)
    b = build_longchat.build(seed=3, patients=3, min_sessions=8, max_sessions=10, folder=fake_malp)
    c = build_longchat.build(seed=4, patients=3, min_sessions=8, max_sessions=10, folder=fake_malp)
    assert a == b and a[0] != c[0]
    turns, questions, meta = a
    by_id = {t["id"]: t for t in turns}
    assert len(by_id) == len(turns) == meta["turns"]
    # Sessions are contiguous and time moves forward.
    times = [t["time"] for t in turns if t["user"] == "p000"]
    assert times == sorted(times)
    types = {q["type"] for q in questions}
    assert {"single-hop", "update", "temporal", "recency", "advice", "multi-session", "preference"} <= types
    for q in questions:
        assert q["evidence"] and all(e in by_id and by_id[e]["user"] == q["user"] for e in q["evidence"])
        ev = by_id[q["evidence"][0]]
        if q["type"] in ("single-hop", "update", "recency", "advice"):
            assert q["answer"].lower() in ev["text"].lower(), q
        if q["type"] == "advice":
            assert ev["role"] == "assistant"
        for s in q["stale"]:  # stale turns come before the evidence that replaced them
            assert by_id[s]["time"] < ev["time"]
        assert q["time"] > max(t["time"] for t in turns if t["user"] == q["user"])


def test_write_and_load_round_trip(fake_malp: Path, tmp_path: Path) -> None:
    turns, qs, meta = build_longchat.build(seed=3, patients=2, min_sessions=8, max_sessions=9, folder=fake_malp)
    build_longchat.write(tmp_path / "set", turns, qs, meta)
    assert build_longchat.load(tmp_path / "set") == (turns, qs)
    first = json.loads((tmp_path / "set" / "turns.jsonl").read_text().splitlines()[0])
    assert set(first) == {"user", "session", "id", "speaker", "role", "text", "time"}
