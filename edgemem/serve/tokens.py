"""Who may do what: the local admin token and per-session capabilities.

The admin token (32 random bytes, a 0600 file under the home folder's keys) guards the memory of
every patient; a vendor's integration reads it once. The kiosk page must not hold it: the page
gets a *session token* when a patient starts a session, and that token can read, delete and
forget only that patient's memories and chat only in that session. Ending the session (or the
idle timer) revokes it, so a token left in a browser tab is worthless to the next person.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..home import Home

ADMIN_TOKEN_FILE = "serve-admin.token"
# Session tokens carry a prefix so an expired one is told apart from an OpenAI tool's dummy key:
# the first gets 401 (the page goes back to its start screen), the second a memoryless chat.
SESSION_PREFIX = "ems_"


def admin_token_path(home: Home) -> Path:
    return home.keys / ADMIN_TOKEN_FILE


def load_or_create_admin_token(home: Home) -> str:
    """Read the admin token, creating it (0600, written atomically) on first start."""
    path = admin_token_path(home)
    if path.exists():
        token = path.read_text(encoding="ascii").strip()
        if token:
            return token
    home.ensure()
    token = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class Session:
    """A patient's open session: the memory's session id and the capability that reaches it."""

    token: str
    user: str
    session_id: str | None
    kind: str  # "kiosk" (the page) or "api" (an integration using the admin token and `user`)
    started: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)

    def public(self) -> dict[str, object]:
        return {"session_id": self.session_id, "patient": self.user, "kind": self.kind}


class SessionRegistry:
    """Open sessions by token; thread-safe because the idle sweep and requests both touch it."""

    def __init__(self) -> None:
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def add(self, user: str, session_id: str | None, kind: str) -> Session:
        s = Session(token=SESSION_PREFIX + secrets.token_urlsafe(24), user=user, session_id=session_id, kind=kind)
        with self._lock:
            self._by_token[s.token] = s
        return s

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
            if s is not None:
                s.last_used = time.monotonic()
            return s

    def find(self, *, user: str | None = None, session_id: str | None = None,
             kind: str | None = None, token: str | None = None) -> Session | None:
        """The first open session matching every given field (``last_used`` untouched)."""
        with self._lock:
            if token is not None:
                s = self._by_token.get(token)
                if s is None or (user is not None and s.user != user) or (kind is not None and s.kind != kind):
                    return None
                return s
            for s in self._by_token.values():
                if ((user is None or s.user == user) and (kind is None or s.kind == kind)
                        and (session_id is None or s.session_id == session_id)):
                    return s
        return None

    def remove(self, token: str) -> Session | None:
        with self._lock:
            return self._by_token.pop(token, None)

    def remove_user(self, user: str) -> list[Session]:
        with self._lock:
            gone = [s for s in self._by_token.values() if s.user == user]
            for s in gone:
                del self._by_token[s.token]
            return gone

    def touch(self, *, session_id: str) -> None:
        """Restart a session's idle timer (a reply to it just ended)."""
        with self._lock:
            for s in self._by_token.values():
                if s.session_id == session_id:
                    s.last_used = time.monotonic()

    def idle(self, idle_s: float, busy: "set[str | None] | frozenset[str | None]" = frozenset()) -> list[Session]:
        """Remove and return sessions unused for ``idle_s`` seconds (never one in ``busy``)."""
        now = time.monotonic()
        with self._lock:
            gone = [s for s in self._by_token.values() if now - s.last_used > idle_s and s.session_id not in busy]
            for s in gone:
                del self._by_token[s.token]
            return gone

    def all(self) -> list[Session]:
        with self._lock:
            return list(self._by_token.values())

    def __len__(self) -> int:
        return len(self._by_token)
