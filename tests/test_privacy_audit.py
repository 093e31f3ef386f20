"""The audit log: append-only, chained, pseudonymous, and structurally free of patient text."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from edgemem.home import Home
from edgemem.privacy.audit import REDACTED, AuditLog, record

CANARY = "canary-zebra-7731 my chest hurts"


def test_entries_are_appended_with_pseudonyms_and_no_text(tmp_path):
    home = Home(tmp_path).ensure()
    log = AuditLog(home)
    log.record("session_start", user="patient-0042", session="s1")
    log.record("search", user="patient-0042", session="s1", hits=3, query=CANARY)
    log.record("forget", user="patient-0042", session="s1", turns=12, memories=4)
    raw = home.audit_log.read_bytes()
    assert b"patient-0042" not in raw
    assert b"canary-zebra" not in raw and b"chest" not in raw
    es = list(log.entries())
    assert [e["action"] for e in es] == ["session_start", "search", "forget"]
    assert [e["seq"] for e in es] == [1, 2, 3]
    assert es[1]["query"] == REDACTED and es[1]["redacted"] == ["query"]
    assert es[1]["hits"] == 3
    assert es[0]["patient"] == es[2]["patient"] == log.pseudonym("patient-0042")
    assert log.pseudonym("patient-0042") != log.pseudonym("patient-0043")
    assert stat.S_IMODE(os.stat(home.audit_log).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log.key_path).st_mode) == 0o600
    assert log.verify().ok and log.verify().entries == 3
    assert [e["action"] for e in log.query(user="patient-0042", action="forget")] == ["forget"]
    assert log.query(user="someone-else") == []


@pytest.mark.parametrize("value", ["two words", "line\nbreak", "x" * 129, b"bytes", {"a": 1},
                                   ["ok", "not ok"], object(), "tab\there"])
def test_free_text_is_redacted(tmp_path, value):
    e = AuditLog(tmp_path).record("read", note=value)
    assert e["note"] == REDACTED and e["redacted"] == ["note"]


def test_ids_and_counts_kept(tmp_path):
    e = AuditLog(tmp_path).record("delete", memory_ids=["m1", "m2"], n=2, ok=True, ratio=0.5, version=None)
    assert e["memory_ids"] == ["m1", "m2"] and e["n"] == 2 and e["ok"] is True and "redacted" not in e


def test_chain_detects_edit_removal_and_reorder(tmp_path):
    log = AuditLog(tmp_path)
    for i in range(5):
        log.record("read", user=f"u{i}", n=i)
    lines = log.path.read_text().splitlines(keepends=True)
    original = "".join(lines)

    log.path.write_text(original.replace('"n":2', '"n":9'))
    assert not log.verify().ok and log.verify().line == 3
    log.path.write_text("".join(lines[:2] + lines[3:]))
    assert not log.verify().ok
    log.path.write_text("".join([lines[1], lines[0]] + lines[2:]))
    assert not log.verify().ok
    log.path.write_text(original)
    assert log.verify().ok


def test_torn_last_line_is_tolerated_and_chain_continues(tmp_path):
    log = AuditLog(tmp_path)
    log.record("read", n=1)
    with open(log.path, "ab") as f:
        f.write(b'{"action":"read","se')  # power cut mid-write
    log.record("read", n=2)
    es = list(log.entries())
    assert [e["n"] for e in es] == [1, 2]
    report = log.verify()
    assert report.ok and report.entries == 2 and report.torn == 1


def test_concurrent_writers_keep_one_chain(tmp_path):
    code = ("import sys; from edgemem.privacy.audit import AuditLog\n"
            "log = AuditLog(sys.argv[1])\n"
            "for i in range(40): log.record('read', n=i)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(3)]
    assert all(p.wait(60) == 0 for p in procs)
    log = AuditLog(tmp_path)
    report = log.verify()
    assert report.ok and report.entries == 120


def test_full_disk_is_one_line_error_and_best_effort_helper(tmp_path, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    log = AuditLog(tmp_path)
    log.key  # create the key first
    log.path.symlink_to("/dev/full")
    from edgemem.privacy.audit import AuditError

    with pytest.raises(AuditError) as ei:
        log.record("read", n=1)
    assert "\n" not in str(ei.value)
    assert record(tmp_path, "read", n=1) is None
    assert "warning:" in capsys.readouterr().err


def test_bad_action_name_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError):
        AuditLog(tmp_path).record("Read Memories")
    assert json.loads  # keep import used


def test_verify_detects_a_cut_tail_an_emptied_or_deleted_log(tmp_path):
    """Issue 18: the chain alone said "ok" for a log cut after any entry or emptied."""
    from edgemem.privacy.audit import AuditLog

    log = AuditLog(tmp_path)
    for i in range(5):
        log.record("read", user=f"p-{i}", memories=i)
    assert log.verify().ok
    raw = log.path.read_bytes()
    lines = raw.split(b"\n")
    log.path.write_bytes(b"\n".join(lines[:3]) + b"\n")  # the last two entries cut
    r = log.verify()
    assert not r.ok and "truncated" in r.problem
    log.path.write_bytes(b"")
    assert not log.verify().ok
    log.path.unlink()
    assert not log.verify().ok
    log.path.write_bytes(raw)
    assert log.verify().ok
    head = log.head_path.read_text()
    log.head_path.write_text(head.replace('"seq": 5', '"seq": 3'))  # the head forged down
    assert not log.verify().ok and "seal" in log.verify().problem
