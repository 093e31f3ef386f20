"""Who is at the screen: the patient identification a clinic chooses (``[serve] identify``).

The review opened any patient's conditions and drugs with their number alone, tried 30 numbers
in 1.1 s, and every try left a permanent patient record. So, per mode:

- ``number``: the number alone (today's behaviour, for a staffed desk only: docs/privacy.md);
- ``number+pin``: a 4-8 digit PIN the patient sets at their first visit;
- ``number+dob``: the date of birth (YYYY-MM-DD), given at the first visit;
- ``badge``: a badge secret that staff enrol (``POST /api/admin/patients/{user}/credential``).

Secrets are stored as scrypt hashes (n=2**14, r=8, p=1, a random salt each) in
``identify.json`` (0600), keyed by the patient's audit pseudonym, never by number. A number the
memory already knows without a credential cannot be claimed at the kiosk (staff enrol it), or a
stranger could set the PIN of someone who came before the clinic switched modes.

Failures back off (1, 2, 4 ... s, capped at a minute) and lock the patient out after
``max_failures`` for ``lockout_s``; the kiosk as a whole stops taking attempts after
``kiosk_max_failures`` failures in ``kiosk_window_s`` (a sweep over many numbers). Every failure
is an audit entry ``identify_failed``. No patient record exists until identification succeeds:
the session starts only after it.

The failure counts, backoffs and lockouts live in ``identify-failures.json`` (0600, written
atomically by ``fsutil``), keyed by the same pseudonym, so killing and restarting the server does
not hand a locked-out number a fresh five tries. They run on the wall clock, because the monotonic
clock restarts with the machine; a lock read back at start is cut to at most ``lockout_s`` from
then, so a clock set backwards cannot lock a patient out for longer than one lockout.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import EdgememError
from ..fsutil import write_json
from ..privacy.audit import AuditLog
from ..profiles import IDENTIFY_MODES
from .http import HTTPError

log = logging.getLogger("edgemem.serve")
FILE = "identify.json"
FAILURES_FILE = "identify-failures.json"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass
class _Failures:
    count: int = 0
    next_allowed: float = 0.0


@dataclass
class Identifier:
    """Checks (and on a first visit records) a patient's credential; see the module docstring."""

    root: Path
    mode: str
    max_failures: int = 5
    lockout_s: float = 900.0
    backoff_s: float = 1.0
    kiosk_max_failures: int = 20
    kiosk_window_s: float = 600.0
    clock: Callable[[], float] = time.time
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _kiosk: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.mode not in IDENTIFY_MODES:
            raise EdgememError(f"identify must be one of {', '.join(IDENTIFY_MODES)}, got {self.mode!r}")
        self.audit = AuditLog(self.root)
        self.path = Path(self.root) / FILE
        self.failures_path = Path(self.root) / FAILURES_FILE
        self._load_failures()

    # Failure counts (keyed by pseudonym), kept across restarts.
    def _load_failures(self) -> None:
        try:
            data = json.loads(self.failures_path.read_text(encoding="utf-8"))
            patients, kiosk = dict(data.get("patients") or {}), list(data.get("kiosk") or [])
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError):
            # A torn or hand-edited file must not open the door: the kiosk waits one window.
            log.warning("%s is unreadable: the kiosk takes no sign-ins for %g s", self.failures_path,
                        self.kiosk_window_s)
            now = self.clock()
            self._kiosk.extend([now] * self.kiosk_max_failures)
            return
        now = self.clock()
        for key, row in patients.items():
            try:
                count, until = int(row["count"]), float(row["until"])
            except (KeyError, TypeError, ValueError):
                continue
            self._failures[str(key)] = _Failures(count, min(until, now + self.lockout_s))
        self._kiosk.extend(sorted(min(float(t), now) for t in kiosk if isinstance(t, (int, float))))

    def _save_failures(self) -> None:
        """Write the counts (caller holds the lock): small, rare (failures only), atomic. A count
        whose last wait ended more than ``lockout_s`` ago is dropped: old slips do not add up."""
        now = self.clock()
        for key in [k for k, f in self._failures.items() if f.next_allowed < now - self.lockout_s]:
            del self._failures[key]
        write_json(self.failures_path, {
            "patients": {k: {"count": f.count, "until": f.next_allowed} for k, f in self._failures.items()},
            "kiosk": list(self._kiosk)})

    def _clear(self, key: str) -> None:
        if self._failures.pop(key, None) is not None:
            self._save_failures()

    # Credentials file.
    def _load(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise EdgememError(f"{self.path} is unreadable ({type(e).__name__}): identification refused") from None

    def _save(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @staticmethod
    def _hash(secret: str, salt: bytes) -> str:
        return hashlib.scrypt(secret.encode("utf-8"), salt=salt, maxmem=64 * 2**20, dklen=32, **SCRYPT).hex()

    def enrol(self, user: str, secret: str) -> None:
        """Set (or reset) a patient's credential: staff, or the patient at a first visit."""
        secret = self._secret(secret)
        salt = secrets.token_bytes(16)
        with self._lock:
            data = self._load()
            data[self.audit.pseudonym(user)] = {"mode": self.mode, "salt": salt.hex(), "hash": self._hash(secret, salt)}
            self._save(data)
            self._clear(self.audit.pseudonym(user))

    def _secret(self, value: Any) -> str:
        """The secret in this mode's shape, or a one-line 400."""
        if not isinstance(value, str):
            raise HTTPError(400, self._what() + " is required", "credential_required")
        text = value.strip()
        if self.mode == "number+pin" and not (text.isascii() and text.isdigit() and 4 <= len(text) <= 8):
            raise HTTPError(400, "the PIN must be 4 to 8 digits", "bad_credential")
        if self.mode == "number+dob":
            try:
                day = _dt.date.fromisoformat(text)
            except ValueError:
                raise HTTPError(400, "the date of birth must be YYYY-MM-DD", "bad_credential") from None
            if not _dt.date(1890, 1, 1) <= day <= _dt.date.today():
                raise HTTPError(400, "the date of birth is not a plausible date", "bad_credential")
            text = day.isoformat()
        if self.mode == "badge" and not (8 <= len(text) <= 128 and text.isprintable()):
            raise HTTPError(400, "the badge secret must be 8-128 printable characters", "bad_credential")
        return text

    def _what(self) -> str:
        return {"number+pin": "a PIN", "number+dob": "the date of birth", "badge": "the badge secret"}.get(
            self.mode, "a credential")

    # The check.
    def check(self, user: str, secret: Any, known: bool, *, enrol: bool = True, again: Any = None) -> bool:
        """Raise an HTTPError unless ``secret`` identifies ``user``; True when this was the
        first visit and the credential was set now. ``known``: the memory holds this patient.

        A first visit sets the credential. ``again`` (the kiosk page's "type it again" field)
        must then match it, so a typo does not lock the patient out of their own PIN; with
        ``enrol=False`` and no ``again`` a first visit sets nothing and answers 409
        ``set_secret``, which is how the page learns to ask twice (it reveals no more than a
        first visit always did: that this number has no credential yet)."""
        if self.mode == "number":
            return False
        now = self.clock()
        with self._lock:
            while self._kiosk and now - self._kiosk[0] > self.kiosk_window_s:
                self._kiosk.popleft()
            if len(self._kiosk) >= self.kiosk_max_failures:
                wait = int(self.kiosk_window_s - (now - self._kiosk[0])) + 1
                raise HTTPError(429, "too many failed sign-ins at this kiosk; please ask a member of staff",
                                "kiosk_locked", retry_after=wait)
            f = self._failures.get(self.audit.pseudonym(user))
            if f is not None and now < f.next_allowed:
                locked = f.count >= self.max_failures
                raise HTTPError(429, "too many failed attempts for this number; please ask a member of staff"
                                if locked else "please wait a moment before trying again",
                                "locked" if locked else "slow_down", retry_after=int(f.next_allowed - now) + 1)
        text = self._secret(secret)
        record = self._load().get(self.audit.pseudonym(user))
        if record is None:
            if self.mode == "badge" or known:
                self._fail(user, "not_enrolled")
            if again is None and not enrol:
                raise HTTPError(409, f"first visit: choose {self._what()} and type it twice", "set_secret")
            if again is not None and self._secret(again) != text:
                raise HTTPError(400, f"the two entries of {self._what()} are not the same", "secret_mismatch")
            self.enrol(user, text)  # a first visit sets the PIN or date of birth
            return True
        ok = hmac.compare_digest(self._hash(text, bytes.fromhex(record["salt"])), record["hash"])
        if not ok:
            self._fail(user, "wrong_secret")
        with self._lock:
            self._clear(self.audit.pseudonym(user))
        return False

    def _fail(self, user: str, reason: str) -> None:
        now = self.clock()
        with self._lock:
            f = self._failures.setdefault(self.audit.pseudonym(user), _Failures())
            f.count += 1
            f.next_allowed = now + (self.lockout_s if f.count >= self.max_failures
                                    else min(60.0, self.backoff_s * 2 ** (f.count - 1)))
            self._kiosk.append(now)
            while self._kiosk and now - self._kiosk[0] > self.kiosk_window_s:
                self._kiosk.popleft()
            count = f.count
            try:
                self._save_failures()
            except OSError as e:  # a full disk: the count still holds in memory until a restart
                log.warning("could not save identification failures: %s", e)
        try:
            self.audit.record("identify_failed", user=user, actor="kiosk", mode=self.mode, reason=reason,
                              failures=count, locked=count >= self.max_failures)
        except EdgememError:
            pass
        if reason == "not_enrolled":
            raise HTTPError(401, "this number has no " + self._what().replace("a ", "").replace("the ", "")
                            + " set yet; please ask a member of staff", "not_enrolled")
        raise HTTPError(401, "the number and " + self._what().replace("a ", "the ") + " do not match",
                        "not_identified")
