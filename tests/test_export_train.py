"""Dialogue format, MaLP importer, held-out split, assistant-only labels, reproducible LoRA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemem.errors import EdgememError, InputError
from export.cli import run
from export.dialogues import clean_turn, is_heldout, read_jsonl, split

DATA = Path(__file__).resolve().parent / "data" / "dialogues.jsonl"

MALP = [
    [{"0": {"Assistant": "Doctor: Hello, how can I help you today?",
            "User": "\"Patient: \"I have had a cough for two weeks.\""}},
     {"1": {"Assistant": "Doctor: \"Is it a dry cough, or do you bring up phlegm?\"",
            "User": "Patient: It is dry, mostly at night."}},
     {"2": {"Assistant": "Doctor: Try honey in warm water and see a doctor if it lasts.",
            "User": "Patient: Thank you!"}}],
    [{"0": {"Assistant": "Doctor: Good morning.", "User": "Patient: My back hurts."}},
     {"1": {"Assistant": "Doctor: Since when?",
            "User": "As an AI language model, I cannot experience back pain."}},
     {"2": {"Assistant": "Doctor: I see.", "User": "Patient: ok"}}],
    [{"0": {"Assistant": "Doctor: Hi.", "User": "As an AI language model, I do not have symptoms."}}],
]


def test_clean_turn() -> None:
    assert clean_turn('"Patient: "I have had a cough."') == "I have had a cough."
    assert clean_turn("Doctor: Take it   easy.") == "Take it easy."
    assert clean_turn('Doctor: "Rest."') == "Rest."
    assert clean_turn("Patient: My dose is 5 mg.") == "My dose is 5 mg."


def test_import_malp_cleans_cuts_and_splits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "dialogues.json"
    src.write_text(json.dumps(MALP))
    assert run(["import-malp", str(src), "--out", str(tmp_path / "out"), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["dialogues"] == 3 and stats["kept"] == 2 and stats["dropped"] == 1
    ds = [d for name in ("train.jsonl", "heldout.jsonl") for d in read_jsonl(tmp_path / "out" / name, allow_empty=True)]
    first = next(d for d in ds if d.id == "malp-0000")
    assert [m["role"] for m in first.messages] == ["assistant", "user", "assistant", "user", "assistant"]
    assert first.messages[1]["content"] == "I have had a cough for two weeks."
    assert first.messages[2]["content"] == "Is it a dry cough, or do you bring up phlegm?"
    second = next(d for d in ds if d.id == "malp-0001")
    # Cut at the broken-character turn; the trailing user turn without an answer is dropped too.
    assert [m["content"] for m in second.messages] == ["Good morning.", "My back hurts.", "Since when?"]
    assert all("language model" not in m["content"] for d in ds for m in d.messages)
    for d in read_jsonl(tmp_path / "out" / "heldout.jsonl", allow_empty=True):
        assert d.heldout


def test_heldout_split_is_fixed_by_content_and_about_ten_percent() -> None:
    msgs = [[{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
            for i in range(2000)]
    flags = [is_heldout(m) for m in msgs]
    assert 0.07 < sum(flags) / len(flags) < 0.13
    assert flags == [is_heldout(m) for m in msgs]  # a pure function of the content
    ds = read_jsonl(DATA)
    train, held = split(ds)
    assert len(held) == 3 and len(train) == 17 and all(d.heldout for d in held)


def test_malformed_and_empty_datasets(tmp_path: Path, tiny_llama_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InputError, match="holds no dialogues"):
        read_jsonl(empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "assistant", "content": "hi"}]}\n{"id": oops}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid JSON"):
        read_jsonl(bad)
    bad.write_text('{"messages": [{"role": "doctor", "content": "hi"}]}\n')
    with pytest.raises(InputError, match="role in"):
        read_jsonl(bad)
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(InputError, match="no assistant message"):
        read_jsonl(bad)
    bad.write_text('{"messages": [{"role": "assistant", "content": "hi"}], "preference": "loud"}\n')
    with pytest.raises(InputError, match="preference"):
        read_jsonl(bad)
    from export.base import convert

    convert(tiny_llama_dir, tmp_path / "base")
    assert run(["train", "--base", str(tmp_path / "base"), "--data", str(empty), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "holds no dialogues" in err and err.count("\n") == 1
    # A file of held-out dialogues only: refused, never trained on.
    only_held = tmp_path / "held.jsonl"
    only_held.write_text("".join(json.dumps(d.to_json()) + "\n" for d in split(read_jsonl(DATA))[1]))
    assert run(["train", "--base", str(tmp_path / "base"), "--data", str(only_held), "--out", str(tmp_path / "a")]) == 2
    assert "held-out split; nothing to train on" in capsys.readouterr().err


@pytest.fixture(scope="module")
def base_dir(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.base import convert

    out = tmp_path_factory.mktemp("train-base") / "base"
    convert(tiny_llama_dir, out)
    return out


def test_labels_cover_exactly_the_assistant_turns(base_dir: Path) -> None:
    from export.train import ChatEncoder

    enc = ChatEncoder(base_dir)
    d = read_jsonl(DATA)[1]  # has a system message
    ids, labels = enc.encode(d.messages)
    assert len(ids) == len(labels) and labels[0] == -100
    trained = enc.tok.decode([t for t, lab in zip(ids, labels) if lab != -100], skip_special_tokens=False)
    expected = "".join(m["content"] + "<|im_end|>\n" for m in d.messages if m["role"] == "assistant")
    assert trained == expected
    for m in d.messages:
        if m["role"] != "assistant":
            assert m["content"][:20] not in trained


def test_same_seed_same_adapter_bytes_and_resume_continues_the_same_run(base_dir: Path, tmp_path: Path) -> None:
    from export.train import TrainConfig, train

    cfg = TrainConfig(steps=4, seq_len=48, batch_size=2, save_every=2, seed=3)
    a = train(base_dir, [DATA], tmp_path / "a", cfg, progress=False)
    b = train(base_dir, [DATA], tmp_path / "b", cfg, progress=False)
    assert (tmp_path / "a" / "adapter_model.safetensors").read_bytes() == (tmp_path / "b" / "adapter_model.safetensors").read_bytes()
    assert a.adapter_sha256 == b.adapter_sha256 and a.losses == b.losses
    other = train(base_dir, [DATA], tmp_path / "c", TrainConfig(steps=4, seq_len=48, batch_size=2, seed=4), progress=False)
    assert other.adapter_sha256 != a.adapter_sha256

    with pytest.raises(EdgememError, match="continue with --resume"):
        train(base_dir, [DATA], tmp_path / "r", cfg, progress=False, stop_after=3)
    assert (tmp_path / "r" / "checkpoint" / "trainer_state.pt").is_file()
    r = train(base_dir, [DATA], tmp_path / "r", cfg, progress=False, resume=True)
    assert r.adapter_sha256 == a.adapter_sha256 and r.losses == a.losses
    assert not (tmp_path / "r" / "checkpoint").exists()
    with pytest.raises(InputError, match="already holds an adapter"):
        train(base_dir, [DATA], tmp_path / "r", cfg, progress=False)
    with pytest.raises(InputError, match="nothing to resume"):
        train(base_dir, [DATA], tmp_path / "none", cfg, progress=False, resume=True)
