"""The one crash-safe writer (edgemem.fsutil): modes, replacement, leftovers after a kill."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from edgemem import fsutil


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_bytes_replaces_whole_file_with_the_mode_asked(tmp_path):
    target = tmp_path / "data.key"
    fsutil.write_bytes(target, b"old")
    assert _mode(target) == 0o600
    fsutil.write_bytes(target, b"new contents", 0o644)
    assert target.read_bytes() == b"new contents"
    assert _mode(target) == 0o644
    assert fsutil.leftover_temps(target) == []


def test_private_mode_holds_whatever_the_umask(tmp_path):
    old = os.umask(0)  # a permissive umask must not widen a key file
    try:
        fsutil.write_bytes(tmp_path / "k", b"secret")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "k") == 0o600


def test_concurrent_writers_never_share_a_temp_file(tmp_path):
    target = tmp_path / "ring.stm"
    blobs = [bytes([i]) * 4096 for i in range(8)]
    threads = [threading.Thread(target=fsutil.write_bytes, args=(target, b)) for b in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_bytes() in blobs  # one whole write, never a mix
    assert fsutil.leftover_temps(target) == []


def test_failed_write_leaves_no_temp_and_the_old_file(tmp_path):
    target = tmp_path / "state.json"
    fsutil.write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        fsutil.write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == '{\n "a": 1\n}\n'
    assert fsutil.leftover_temps(target) == []


def test_leftover_temps_names_only_this_files_temps(tmp_path):
    target = tmp_path / "state.json"
    killed = tmp_path / ".state.json.tmp-123-abcd"  # a write killed before its rename
    killed.write_bytes(b"half")
    (tmp_path / ".other.json.tmp-1-2").write_bytes(b"x")
    assert fsutil.leftover_temps(target) == [killed]
