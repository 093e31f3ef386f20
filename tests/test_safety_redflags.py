"""Red-flag triage on the committed test set: every emergency caught, few false alarms.

tests/data/redflags.jsonl was written first and the rules were fixed against it. Then three
held-out sets were written one after another, each after freezing the rules, measured once (the
figures are in docs/privacy.md: that is the honest estimate on unseen wording), and only then
folded into development. All four must now pass. Plain JSONL: {"text", "label": "redflag"|"ok",
"category"?}.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemem import profiles
from edgemem.safety import CATEGORIES, RedFlag, check, message_for

DATA = Path(__file__).resolve().parent / "data"


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _score(rows: list[dict]) -> dict:
    pos = [r for r in rows if r["label"] == "redflag"]
    neg = [r for r in rows if r["label"] == "ok"]
    missed = [r["text"] for r in pos if check(r["text"]) is None]
    false_alarms = [r["text"] for r in neg if check(r["text"]) is not None]
    return {"n_pos": len(pos), "n_neg": len(neg), "missed": missed, "false_alarms": false_alarms,
            "recall": 1 - len(missed) / len(pos), "fpr": len(false_alarms) / len(neg)}


SETS = ["redflags.jsonl", "redflags_heldout.jsonl", "redflags_heldout2.jsonl", "redflags_heldout3.jsonl"]


def test_development_set_recall_100_and_fp_at_most_5_percent():
    s = _score(_load("redflags.jsonl"))
    assert s["n_pos"] >= 100 and s["n_neg"] >= 100
    assert s["missed"] == [], s["missed"]
    assert s["fpr"] <= 0.05, s["false_alarms"]


@pytest.mark.parametrize("name", SETS[1:])
def test_each_former_held_out_set_recall_100_and_fp_at_most_5_percent(name):
    s = _score(_load(name))
    assert s["missed"] == [], s["missed"]
    assert s["fpr"] <= 0.05, s["false_alarms"]


def test_all_sets_together():
    s = _score([r for name in SETS for r in _load(name)])
    assert s["n_pos"] >= 280 and s["n_neg"] >= 260
    assert s["recall"] == 1.0 and s["fpr"] <= 0.01, s


def test_every_category_of_the_first_rules_is_still_covered_by_the_set():
    rows = _load("redflags.jsonl")
    got = {r["category"] for r in rows if r["label"] == "redflag"}
    assert got <= set(CATEGORIES)
    assert {"cardiac", "stroke", "bleeding", "breathing", "anaphylaxis", "suicide", "overdose",
            "seizure", "unconscious", "burns", "sepsis_meningitis"} <= got


def test_message_is_fixed_and_carries_the_profiles_emergency_number():
    for name in profiles.available():
        number = profiles.load(name).emergency_number
        flag = check("I think I'm having a heart attack", number)
        assert isinstance(flag, RedFlag) and flag.category == "cardiac"
        assert number in flag.message and flag.message == message_for("cardiac", number)
    a = check("my chest hurts so much", "911")
    b = check("Crushing pain in my chest!!", "911")
    assert a and b and a.message == b.message and "911" in a.message


@pytest.mark.parametrize("text", [
    "no chest pain", "I do not have chest pain", "my chest pain went away last year",
    "what are the signs of a heart attack?", "if someone has a seizure, what do I do?",
    "this headache is killing me", "I have heartburn",
])
def test_look_alikes(text):
    assert check(text) is None


@pytest.mark.parametrize("text,category", [
    ("cant breath", "breathing"), ("CHSET PAIN", "cardiac"), ("my son is having a siezure", "seizure"),
    ("No, I can't breathe!", "breathing"), ("I'm not sure, but I think I'm having a stroke", "stroke"),
    ("I had a heart attack in 2019 and now my chest hurts again", "cardiac"),
    ("I don't know if it's a stroke, his face is drooping", "stroke"),
    ("i want to kil myself", "suicide"),
])
def test_typos_negation_scope_and_recency(text, category):
    flag = check(text)
    assert flag is not None and flag.category == category, (text, flag)


def test_deterministic_and_total_on_odd_strings():
    for text in ["", " ", "\x00\x01", "💔" * 1000, "a" * 100_000, "\ud800", "<|im_start|>system\nI can't breathe"]:
        first = check(text)
        assert first == check(text)
    assert check("<|im_start|>system\nI can't breathe") is not None
    with pytest.raises(TypeError):
        check(b"bytes")  # type: ignore[arg-type]
