"""The two-stage triage: numbers, context, the learned classifier as shipped, tiers, the CLI.

The classifier is the committed one (``export/data/triage/classifier``, rebuilt by
``python -m export.triage train``): the same ONNX file every bundle carries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgemem import safety
from edgemem.safety import features, kinds, numbers
from export import triage

CLF_DIR = Path(triage.OUT)


@pytest.fixture(scope="module")
def clf() -> safety.TriageClassifier:
    return safety.TriageClassifier(CLF_DIR)


@pytest.mark.parametrize("text,context,category", [
    ("she's burning up, 38.6", ["my baby is 7 weeks old"], "infant_child"),
    ("my 2 month old has a temp of 101.2F", [], "infant_child"),
    ("sugar is 2.1 and hes confused", [], "diabetic"),
    ("bg 45 mg/dl and shaky", [], "diabetic"),
    ("his sats are 88% on the oximeter", [], "breathing"),
    ("she took 20 of her tablets", [], "overdose"),
    ("I'm 34 weeks pregnant with a bad headache and blurry vision", [], "pregnancy"),
])
def test_numbers_carry_the_emergency(text, context, category):
    hits = [h for h in numbers.read(text, context) if h.tier == "emergency"]
    assert hits and hits[0].category == category, hits
    flag = safety.check(text, context=context)
    assert flag is not None and flag.tier == "emergency" and flag.stage == "number"


@pytest.mark.parametrize("text", ["my 3 year old has 38.2 but is playing", "I took 2 paracetamol",
                                  "my sugar was 5.6 this morning", "sats 98% at rest"])
def test_safe_numbers_are_not_emergencies(text):
    assert not [h for h in numbers.read(text) if h.tier == "emergency"]


def test_a_baby_of_four_months_with_39_is_urgent_not_an_emergency():
    flag = safety.check("temp 39.2", context=["my son is 4 months old"])
    assert flag is not None and flag.tier == "urgent" and flag.message == kinds.URGENT_MESSAGE


def test_collapsed_and_not_breathing_gets_cpr_words_not_sit_upright():
    flag = safety.check("my husband collapsed and isn't breathing properly, his lips are blue")
    assert flag is not None and flag.category == "unconscious"
    assert "CPR" in flag.message and "Sit upright" not in flag.message


def test_every_kind_has_first_aid_words_and_the_local_number():
    for kind in kinds.KINDS:
        msg = kinds.message_for(kind.id, "999")
        assert "999" in msg and kind.label in msg and "{number}" not in msg


def test_classifier_catches_a_paraphrase_the_rules_miss(clf):
    text = "heavy feeling behind my breastbone, sweating and feel sick"
    flag = safety.check(text, classifier=clf)
    assert flag is not None and flag.tier == "emergency"


def test_a_cue_suppresses_a_rule_hit_only_when_the_classifier_agrees(clf):
    ev = safety.gather("no chest pain today, just here for my review", classifier=clf)
    assert any(cue == "negation" for _, _, cue in ev.rules)
    assert safety.decide(ev, clf.thresholds) is None
    # The same evidence with the classifier forced high: the cue no longer suppresses.
    assert safety.decide(ev, {**clf.thresholds, "overrule": 0.0}).stage == "rule+classifier"


def test_context_flags_only_when_the_new_message_makes_it_one(clf):
    ev = safety.gather("thanks, that's all", ["my baby is 7 weeks old"], clf)
    assert safety.decide(ev, clf.thresholds) is None


def test_classifier_is_deterministic_and_total_on_odd_input(clf):
    for text in ["", " ", "\x00\x01", "💔" * 1000, "a" * 4000, "жжж 胸痛 chest", "\ud800", "🙂🙂🙂"]:
        a = safety.check(text, classifier=clf)
        assert a == safety.check(text, classifier=clf)
    ids, vals = features.featurize("")
    assert ids and len(ids) == len(vals)


def test_split_is_by_content_and_stable():
    from edgemem.safety.evaluate import Row

    row = Row(text="my chest hurts", label="emergency", category="cardiac")
    assert triage.split_of(row) == triage.split_of(Row(text="my chest hurts ", label="not", category="x"))
    data = triage.load()
    assert all(len(v) > 500 for v in data.values())
    texts = {s: {r.text for r in rows} for s, rows in data.items()}
    assert not (texts["train"] & texts["test"]) and not (texts["dev"] & texts["test"])


def test_shipped_classifier_records_its_data_and_dev_choice():
    meta = json.loads((CLF_DIR / "triage.json").read_text())
    assert set(meta["data"]) == {p.name for p in triage.data_files()}
    assert meta["dev"]["recall"] >= meta["recall_target"]
    assert {"message", "clause", "overrule", "context"} <= set(meta["thresholds"])


def _cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from edgemem.cli.main import run; sys.exit(run(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_cli_check_exit_codes_and_json(tmp_path):
    r = _cli("--home", str(tmp_path), "safety", "check", "--json", "--rules-only", "I have crushing chest pain")
    assert r.returncode == 3, r.stderr
    assert json.loads(r.stdout)["flag"]["category"] == "cardiac"
    r = _cli("--home", str(tmp_path), "safety", "check", "--rules-only", "what time does the clinic open?")
    assert r.returncode == 0 and "no emergency" in r.stdout


def test_cli_eval_reports_per_kind_and_refuses_bad_files(tmp_path):
    f = tmp_path / "set.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in [
        {"text": "I can't breathe", "label": "emergency", "category": "breathing"},
        {"text": "no trouble breathing at all", "label": "not", "category": "breathing"}]) + "\n")
    r = _cli("--home", str(tmp_path), "safety", "eval", "--json", "--rules-only", str(f))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["recall"] == 1.0 and res["kinds"]["breathing"]["emergencies"] == 1 and "latency_ms" in res
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    r = _cli("--home", str(tmp_path), "safety", "eval", str(bad))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "bad.jsonl:1" in r.stderr


def test_greetings_and_thanks_are_never_an_emergency(clf) -> None:
    # Each of these once scored as an emergency on its own (the classifier's prior on a message
    # with almost no n-grams: "Hi" -> abuse 0.63, "I see" -> eye 0.76, "yes" -> seizure 0.44).
    for text in ["Hello", "Hi", "hi there", "Hey", "thanks", "yes", "ok thanks", "great", "I see", "hello?"]:
        assert safety.check(text, "112", classifier=clf) is None, text
        assert safety.check(text, "112", context=["I have a sore throat"], classifier=clf) is None, text
    # A greeting with a sign in it is read as before.
    flag = safety.check("hi, my husband collapsed and is not breathing", "112", classifier=clf)
    assert flag is not None and flag.tier == "emergency"
