"""`edgemem privacy ...`: key init/rotate/status, audit show/verify, redflag check/eval."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edgemem.cli.main import run
from edgemem.home import Home
from edgemem.privacy.audit import AuditLog

DATA = Path(__file__).resolve().parent / "data"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_key_init_status_rotate(capsys):
    code, out, _ = _run(capsys, "privacy", "key", "status", "--json")
    assert code == 0 and json.loads(out)["mode"] is None
    code, out, _ = _run(capsys, "privacy", "key", "init", "--json")
    first = json.loads(out)
    assert code == 0 and first["mode"] == "file" and first["key_file_mode"] == "0o600"
    code, _, err = _run(capsys, "privacy", "key", "init")
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1
    code, out, _ = _run(capsys, "privacy", "key", "rotate", "--json")
    rot = json.loads(out)
    assert code == 0 and rot["old_key_id"] == first["key_id"] and rot["new_key_id"] != first["key_id"]
    code, out, _ = _run(capsys, "privacy", "key", "status")
    assert code == 0 and rot["new_key_id"] in out and "rotated:" in out


def test_passphrase_init_and_wrong_passphrase_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("EDGEMEM_PASSPHRASE", "a long passphrase")
    code, out, _ = _run(capsys, "privacy", "key", "init", "--passphrase", "--json")
    assert code == 0 and json.loads(out)["mode"] == "passphrase"
    monkeypatch.setenv("EDGEMEM_PASSPHRASE", "a wrong passphrase")
    code, _, err = _run(capsys, "privacy", "key", "rotate")
    assert code == 1 and err == "error: wrong passphrase for this device's data\n"


def test_audit_show_and_verify(capsys):
    home = Home.resolve(None)
    log = AuditLog(home)
    log.record("search", user="p-1", session="s1", hits=2)
    log.record("forget", user="p-2", session="s2")
    code, out, _ = _run(capsys, "privacy", "audit", "show", "--json", "--user", "p-1")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["action"] for r in rows] == ["search"] and "p-1" not in out
    code, out, _ = _run(capsys, "privacy", "audit", "verify")
    assert code == 0 and "2 entries" in out
    home.audit_log.write_text(home.audit_log.read_text().replace('"hits":2', '"hits":0'))
    code, _, err = _run(capsys, "privacy", "audit", "verify")
    assert code == 1 and err.startswith("error: audit log tampered") and err.count("\n") == 1


def test_redflag_check_exit_codes_and_profile_number(capsys, tmp_path):
    code, out, _ = _run(capsys, "privacy", "redflag", "check", "--json", "my husband collapsed and is not breathing")
    flag = json.loads(out)["red_flag"]
    assert code == 3 and flag["category"] == "unconscious" and "CPR" in flag["message"] and "112" in flag["message"]
    code, out, _ = _run(capsys, "privacy", "redflag", "check", "I have a mild cold")
    assert code == 0 and out.strip() == "no red flag"
    prof = Path(os.environ["EDGEMEM_HOME"]) / "profiles"
    prof.mkdir(parents=True)
    src = (Path(__file__).resolve().parents[1] / "edgemem" / "firmware_profiles" / "x86-kiosk.toml").read_text()
    (prof / "us-kiosk.toml").write_text(src.replace('emergency_number = "112"', 'emergency_number = "911"'))
    code, out, _ = _run(capsys, "privacy", "redflag", "check", "--profile", "us-kiosk", "I want to kill myself")
    assert code == 3 and "Call 911" in out


def test_redflag_eval_reports_the_figures(capsys):
    code, out, _ = _run(capsys, "privacy", "redflag", "eval", "--json", str(DATA / "redflags.jsonl"))
    r = json.loads(out)
    assert code == 0 and r["positives"] >= 100 and r["negatives"] >= 100 and r["recall"] == 1.0
    bad = DATA.parent / "data" / "does-not-exist.jsonl"
    code, _, err = _run(capsys, "privacy", "redflag", "eval", str(bad))
    assert code == 2 and err.startswith("error: no such file") and err.count("\n") == 1
