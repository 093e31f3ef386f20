"""``edgemem memory``: the JSONL importer, search output formats, list/show/export/forget, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemem.cli.main import run

TURNS = [
    {"user": "u1", "session": "visit-1", "id": "u1-1", "speaker": "Ann", "role": "user",
     "text": "I have had a migraine for three days and I take sumatriptan.", "time": "2025-03-01T10:00:00Z"},
    {"user": "u1", "session": "visit-1", "id": "u1-2", "speaker": "Doctor", "role": "assistant",
     "text": "I suggest resting in a dark room and drinking water.", "time": "2025-03-01T10:01:00Z"},
    {"user": "u1", "session": "visit-1", "id": "u1-3", "speaker": "Ann", "role": "user",
     "text": "I am allergic to penicillin. Please keep it short.", "time": "2025-03-01T10:02:00Z"},
    {"user": "u2", "session": "visit-1", "id": "u2-1", "speaker": "Bo", "role": "user",
     "text": "My ankle is swollen after football.", "time": "2025-03-02T09:00:00Z"},
    {"user": "u1", "session": "visit-2", "id": "u1-4", "speaker": "Ann", "role": "user",
     "text": "I stopped taking sumatriptan because it made me dizzy.", "time": "2025-03-20T10:00:00Z"},
]


@pytest.fixture()
def imported(tmp_path: Path, minilm_embedder_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    f = tmp_path / "turns.jsonl"
    f.write_text("\n".join(json.dumps(t) for t in TURNS) + "\n")
    assert run(["memory", "import", str(f), "--embedder", str(minilm_embedder_dir), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["turns"] == 5 and counts["sessions"] == 3 and counts["users"] == 2
    return f, minilm_embedder_dir


def test_search_json_and_queries_file(imported: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, emb = imported
    assert run(["memory", "search", "--user", "u1", "--k", "3", "--json", "--embedder", str(emb),
                "which drug did I stop"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["query"] == "which drug did I stop" and 1 <= len(line["hits"]) <= 3
    for h in line["hits"]:
        assert set(h) >= {"text", "score", "tier", "source_ids"} and isinstance(h["score"], float)
        assert h["tier"] in ("working", "short", "long", "turn", "summary")
        assert all(s.startswith("u1-") for s in h["source_ids"])
    assert any("u1-4" in h["source_ids"] for h in line["hits"])
    q = tmp_path / "q.txt"
    q.write_text("allergies\n\nmigraine medicine\n")
    assert run(["memory", "search", "--user", "u1", "--json", "--queries", str(q), "--embedder", str(emb)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["query"] for x in lines] == ["allergies", "migraine medicine"]
    assert any("penicillin" in h["text"] for h in lines[0]["hits"])


def test_search_without_embedder_warns_and_still_works(imported: tuple[Path, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memory", "search", "--user", "u1", "--json", "penicillin allergy"]) == 0
    out = capsys.readouterr()
    assert "warning: no embedder" in out.err
    assert any("penicillin" in h["text"] for h in json.loads(out.out)["hits"])


def test_list_show_export_forget(imported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["memory", "list", "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out)) == ["u1", "u2"]
    assert run(["memory", "list", "--user", "u1", "--json"]) == 0
    mems = json.loads(capsys.readouterr().out)
    med = [m for m in mems if m["kind"] == "medication"]
    assert len(med) == 1 and med[0]["negated"] and {"u1-1", "u1-4"} <= set(med[0]["source_ids"])
    assert run(["memory", "show", "--user", "u1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["preference"] == "concise" and shown["turns"] == 4
    assert any(h["event"] == "UPDATE" for m in shown["memories"] for h in m["history"])
    assert run(["memory", "export", "--user", "u1"]) == 0
    ex = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in ex["turns"]] == ["u1-1", "u1-2", "u1-3", "u1-4"]
    assert run(["memory", "forget", "--user", "u1", "--yes"]) == 0
    capsys.readouterr()
    assert run(["memory", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == ["u2"]


def test_prompt_explain(imported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, emb = imported
    assert run(["memory", "prompt", "--user", "u1", "-q", "My head hurts again, any advice?", "--budget", "300",
                "--explain", "--json", "--embedder", str(emb)]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["tokens"] <= 300 + 20  # the query appended for display is outside the budget
    assert any(e["section"] == "core" and "penicillin" in e["text"] for e in plan["explain"])
    assert "penicillin" in plan["messages"][0]["content"]


@pytest.mark.parametrize("args,message", [
    (["memory", "search", "--user", "u1"], "give a QUERY or --queries FILE"),
    (["memory", "import", "/nonexistent.jsonl"], "no such file"),
    (["memory", "forget", "--user", "nobody", "--yes"], "no patient 'nobody'"),
    (["memory", "show", "--user", "nobody"], "no patient 'nobody'"),
])
def test_errors_are_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1] and "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("line,message", [
    ("not json", "line 1: not JSON"),
    ('{"user": "a", "session": "s", "role": "doctor", "text": "x"}', "role must be"),
    ('{"user": "a", "session": "s", "role": "user"}', "missing or empty 'text'"),
    ('{"user": "a", "session": "s", "role": "user", "text": "x", "time": "yesterday"}', "bad time"),
])
def test_bad_import_lines(tmp_path: Path, line: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(line + "\n")
    assert run(["memory", "import", str(f)]) == 2
    assert message in capsys.readouterr().err


def test_reimport_is_refused(imported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    f, emb = imported
    assert run(["memory", "import", str(f), "--embedder", str(emb)]) == 2
    assert "duplicate turn id" in capsys.readouterr().err
