"""Crash-safe file writes: write a temporary file, fsync it, rename it over the target, fsync the dir.

A kiosk can lose power at any instant. POSIX ``rename`` within one folder is atomic, so a reader
sees either the whole old file or the whole new one; the two fsyncs make that true after a power
cut too (data before the rename, the directory entry after it).

This is the one writer for every small state and key file (A/B slot state, outbox ledgers, data
keys, short-term rings). It sits on the lowest floor (it imports nothing from edgemem) so that
memory, privacy and sync can all use it without importing one another.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames, creations) to disk; best effort where unsupported."""
    try:
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (FAT on a stick) cannot fsync a directory
        pass
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically and durably; the file has ``mode`` from its creation.

    The temporary name is unique per call, so two processes on one home (server + CLI) or two
    threads never write into the same half-finished file. ``fchmod`` before any byte is written:
    a key never exists with wider permissions, even briefly, whatever the umask or a leftover file.
    """
    path = Path(path)
    tmp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}-{os.urandom(4).hex()}")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def leftover_temps(path: Path) -> list[Path]:
    """Temporary files of writes to ``path`` that were killed before their rename (to clean or wipe)."""
    path = Path(path)
    return sorted(path.parent.glob(_temp_prefix(path) + "*"))


def write_json(path: Path, obj: Any) -> None:
    """Atomically write pretty JSON (small state files a person may read)."""
    write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def shred(path: Path) -> None:
    """Overwrite ``path`` with zeros, fsync, then unlink it; a missing file is fine. Best effort
    against recovery on simple filesystems (SD cards, ext4 without snapshots): the one way patient
    files (rings, index files, their leftovers) are erased."""
    try:
        size = os.stat(path).st_size
        with open(path, "r+b") as f:
            f.write(b"\0" * size)
            f.flush()
            os.fsync(f.fileno())
        os.unlink(path)
    except FileNotFoundError:
        pass


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (a staged bundle before it is renamed into place)."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))
