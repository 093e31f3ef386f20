"""Append-only audit log: who read, searched, exported or forgot what, and when — never patient text.

A kiosk is shared by many patients and serviced by others, so it must be able to answer "which
session touched this patient's memories?" without the answer itself becoming a leak. Three rules
make that hold:

* **No free text, structurally.** Field values may be numbers, booleans, ``None`` or short
  *identifier-like* strings (no whitespace, at most 128 characters, no control characters), or
  lists of those. Anything else (a sentence, a query, a reply) is replaced by ``"<redacted>"`` and
  the field name is listed under ``redacted``; a caller cannot write a patient's words into the
  log by mistake, and an audit call never crashes the patient's flow.
* **Patients by pseudonym.** A patient id is often a badge or patient number, i.e. identifying
  and guessable, so ``user=`` / ``patient=`` fields are stored as ``patient``: HMAC-SHA256 of the
  id under a random 256-bit audit key (``keys/audit.key``, 0600). The same patient gets the same
  pseudonym across sessions, restarts and data-key rotations (the log stays linkable), but the log
  alone, copied off the device for support, does not reveal who came.
* **Append-only and tamper-evident.** Each entry is one JSON line written with one ``write()`` to
  a file opened ``O_APPEND`` and fsynced, under an exclusive ``flock`` so that the server, the CLI
  and the sync worker can all write. Every entry carries ``mac`` = HMAC(audit key, previous mac +
  the entry), a chain that ``verify()`` walks: a deleted, edited or reordered line breaks it.

Actions in use (free to extend; keep them lower_snake_case): ``session_start``, ``session_end``,
``read`` (memories shown/listed), ``search``, ``prompt`` (memories put in a prompt), ``export``,
``outbox``, ``delete`` (one memory), ``forget`` (a whole patient), ``consent``, ``key_init``,
``key_rotate``, ``redflag``, ``bundle_apply``, ``rollback``.

Usage (the API other modules call)::

    AuditLog(home).record("search", user=user_id, session=session_id, hits=7)
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..errors import EdgememError

KEY_FILE = "audit.key"
HEAD_FILE = "audit.head"
REDACTED = "<redacted>"
# Field names whose value is a patient id: stored only as a pseudonym under "patient".
PATIENT_FIELDS = ("user", "patient", "user_id", "patient_id")
_ID_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{0,128}$")
_ACTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RESERVED = ("ts", "seq", "action", "mac", "redacted")
_MAX_LIST = 256
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class AuditError(EdgememError):
    """The audit log or its key cannot be used (corrupt, tampered with, or unreadable)."""


def _root(home: Any) -> Path:
    """A ``Home`` or a path (``Path.root`` is "/", so check the type, not the attribute)."""
    from ..home import Home

    return home.root if isinstance(home, Home) else Path(home).expanduser()


def _write_new_secret(path: Path) -> bytes:
    """Create a 0600 file holding 32 random bytes (hex); never overwrite an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    try:
        os.write(fd, secret.hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return secret


def _read_secret(path: Path) -> bytes:
    try:
        raw = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(raw)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise AuditError(f"audit key {path} is unreadable or corrupt ({e.__class__.__name__})") from None
    if len(secret) != 32:
        raise AuditError(f"audit key {path} is corrupt: expected 32 bytes")
    return secret


def _clean(value: Any) -> tuple[Any, bool]:
    """(value to store, ok). Only numbers, booleans, None, identifier-like strings and lists of them."""
    if value is None or isinstance(value, bool):
        return value, True
    if isinstance(value, (int, float)):
        return value, True
    if isinstance(value, str):
        return (value, True) if _ID_RE.match(value) else (REDACTED, False)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if len(items) > _MAX_LIST:
            return {"count": len(items)}, True
        out = []
        for item in items:
            cleaned, ok = _clean(item)
            if not ok or isinstance(cleaned, (list, dict)):
                return REDACTED, False
            out.append(cleaned)
        return out, True
    if isinstance(value, os.PathLike):
        return _clean(os.path.basename(os.fspath(value)))
    return REDACTED, False


@dataclass(frozen=True)
class VerifyReport:
    """What ``AuditLog.verify`` found."""

    entries: int
    ok: bool
    problem: str | None = None
    line: int | None = None
    torn: int = 0  # unparseable lines skipped (a write cut short by power loss)
    last_mac: str = ""


class AuditLog:
    """The device's audit log (``$EDGEMEM_HOME/audit.log``)."""

    def __init__(self, home: Any, *, actor: str | None = None) -> None:
        root = _root(home)
        self.path = root / "audit.log"
        self.key_path = root / "keys" / KEY_FILE
        self.head_path = root / "keys" / HEAD_FILE
        self.actor = actor or os.environ.get("EDGEMEM_ACTOR") or "edgemem"
        self._key: bytes | None = None
        with _locks_guard:
            self._lock = _locks.setdefault(str(self.path), threading.Lock())

    # -- keys and pseudonyms -------------------------------------------------------------------
    @property
    def key(self) -> bytes:
        if self._key is None:
            if self.key_path.exists():
                self._key = _read_secret(self.key_path)
            else:
                self._key = _write_new_secret(self.key_path)
        return self._key

    def pseudonym(self, user: str) -> str:
        """Stable, keyed pseudonym of a patient id (``p_`` + 16 hex digits)."""
        digest = hmac.new(self.key, b"edgemem/audit-patient/v1\0" + str(user).encode("utf-8"),
                          hashlib.sha256).hexdigest()
        return "p_" + digest[:16]

    def _mac(self, prev: str, body: dict[str, Any]) -> str:
        msg = prev.encode("ascii") + b"\0" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
        return hmac.new(self.key, b"edgemem/audit-chain/v1\0" + msg, hashlib.sha256).hexdigest()[:32]

    # -- writing -------------------------------------------------------------------------------
    def record(self, action: str, **fields: Any) -> dict[str, Any]:
        """Append one entry and fsync it; returns the entry as written.

        ``user=``/``patient=`` become a pseudonym; ``session=``, ``actor=``, counts and ids are kept
        as they are; free text is redacted (see the module docstring). Raises ``AuditError`` only
        if the log cannot be written (e.g. a full disk): callers that must not fail may catch it.
        """
        if not _ACTION_RE.match(action or ""):
            raise ValueError(f"audit action must be lower_snake_case, got {action!r}")
        entry: dict[str, Any] = {"ts": "", "seq": 0, "action": action, "actor": self.actor}
        redacted: list[str] = []
        for name, value in fields.items():
            if name in PATIENT_FIELDS:
                if value is not None:
                    entry["patient"] = self.pseudonym(str(value))
                continue
            if name in _RESERVED:
                redacted.append(name)
                continue
            cleaned, ok = _clean(value)
            entry[name] = cleaned
            if not ok:
                redacted.append(name)
        if redacted:
            entry["redacted"] = sorted(redacted)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as e:
                raise AuditError(f"cannot open audit log {self.path}: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                prev_mac, prev_seq, torn = self._tail()
                entry["seq"] = prev_seq + 1
                entry["ts"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                entry["mac"] = self._mac(prev_mac, entry)
                line = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
                data = (b"\n" if torn else b"") + line.encode("ascii")
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(28, "short write to audit log")
                os.fsync(fd)
                self._seal(entry["seq"], entry["mac"])
            except OSError as e:
                raise AuditError(f"cannot write audit log {self.path}: {e.strerror or e}") from None
            finally:
                os.close(fd)  # also releases the flock
        return entry

    # -- the sealed head ---------------------------------------------------------------------
    # The MAC chain finds an edited, removed or reordered line but not a cut tail or an emptied
    # file: what is left still chains. So the count and last MAC of the log are kept apart from it
    # (keys/audit.head, itself MAC'd under the audit key), rewritten after every entry, and
    # ``verify`` checks the log reaches them.
    def _head_mac(self, seq: int, mac: str) -> str:
        return hmac.new(self.key, f"edgemem/audit-head/v1\0{seq}\0{mac}".encode("ascii"), hashlib.sha256).hexdigest()

    def _seal(self, seq: int, mac: str) -> None:
        tmp = self.head_path.with_suffix(".tmp")
        body = json.dumps({"seq": seq, "mac": mac, "seal": self._head_mac(seq, mac)}).encode("ascii")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.head_path)

    def head(self) -> tuple[int, str] | None:
        """(entry count, last MAC) as last sealed, or None when no entry was ever sealed."""
        try:
            h = json.loads(self.head_path.read_text(encoding="ascii"))
            seq, mac, seal = int(h["seq"]), str(h["mac"]), str(h["seal"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise AuditError(f"the audit head {self.head_path} is corrupt") from None
        if not hmac.compare_digest(seal, self._head_mac(seq, mac)):
            raise AuditError(f"the audit head {self.head_path} does not carry a valid seal")
        return seq, mac

    def _tail(self) -> tuple[str, int, bool]:
        """(mac, seq) of the last complete entry, and whether the file ends in a torn line."""
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                if size == 0:
                    return "", 0, False
                chunk = 8192
                while True:
                    start = max(0, size - chunk)
                    f.seek(start)
                    data = f.read(size - start)
                    lines = data.split(b"\n")
                    if start == 0 or len(lines) > 2:
                        break
                    chunk *= 4
        except FileNotFoundError:
            return "", 0, False
        torn = not data.endswith(b"\n")
        for raw in reversed(lines):
            try:
                e = json.loads(raw)
                return str(e["mac"]), int(e["seq"]), torn
            except (ValueError, KeyError, TypeError):
                continue
        return "", 0, torn

    # -- reading -------------------------------------------------------------------------------
    def entries(self) -> Iterator[dict[str, Any]]:
        """Every well-formed entry, oldest first (a torn last line, from a power cut, is skipped)."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return
        with f:
            for raw in f:
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    e = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(e, dict):
                    yield e

    def query(self, *, user: str | None = None, action: str | None = None,
              since: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Entries filtered by patient id (compared by pseudonym), action and ISO time; newest last."""
        want = self.pseudonym(user) if user is not None else None
        out = [e for e in self.entries()
               if (want is None or e.get("patient") == want)
               and (action is None or e.get("action") == action)
               and (since is None or str(e.get("ts", "")) >= since)]
        return out[-limit:] if limit else out

    def verify(self) -> VerifyReport:
        """Walk the MAC chain; the first broken, missing or reordered entry is reported, and a log
        that stops short of its sealed head (cut, emptied or deleted) too."""
        report = self._verify_chain()
        if not report.ok:
            return report
        try:
            head = self.head()
        except AuditError as e:
            return VerifyReport(report.entries, False, str(e), None, report.torn)
        if head is not None:
            seq, mac = head
            if report.entries < seq:
                return VerifyReport(report.entries, False, f"the log ends at entry {report.entries} but "
                                    f"{seq} were written (truncated or emptied)", None, report.torn)
            if report.entries == seq and report.last_mac != mac:
                return VerifyReport(report.entries, False, "the last entry is not the one sealed "
                                    "(log replaced)", None, report.torn)
        return report

    def _verify_chain(self) -> "VerifyReport":
        if not self.path.exists():
            return VerifyReport(0, True)
        prev, n, torn = "", 0, 0
        with open(self.path, "rb") as f:
            lines = f.read().split(b"\n")
        for i, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                e = json.loads(raw)
                mac = e.pop("mac")
                seq = int(e["seq"])
            except (ValueError, KeyError, TypeError, AttributeError):
                # A write cut short by a power cut: not an entry, and the chain skips over it
                # (a forged line could not carry a valid MAC anyway).
                torn += 1
                continue
            if seq != n + 1:
                return VerifyReport(n, False, f"sequence jumps from {n} to {seq}", i, torn)
            if not hmac.compare_digest(str(mac), self._mac(prev, e)):
                return VerifyReport(n, False, "MAC mismatch (entry edited, removed or reordered)", i, torn)
            prev, n = str(mac), seq
        return VerifyReport(n, True, None, None, torn, last_mac=prev)


def record(home: Any, action: str, **fields: Any) -> dict[str, Any] | None:
    """Best-effort ``AuditLog(home).record(...)``: a full disk must not break a patient's session.

    Returns the entry, or ``None`` if it could not be written (the failure goes to stderr).
    """
    try:
        return AuditLog(home).record(action, **fields)
    except AuditError as e:
        import sys

        print(f"warning: {e}", file=sys.stderr)
        return None
