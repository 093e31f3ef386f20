"""Keep the device offline: hub libraries told so, and outbound sockets refused in-process.

Patient text must never leave the kiosk over a network, and a model library that "helpfully"
checks a hub for updates would both leak metadata and hang on a kiosk without internet. Two
layers, both cheap:

* ``force_offline_env()`` sets the variables the Hugging Face stack, telemetry-aware tools and
  pip-free runtimes read (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``, ``HF_DATASETS_OFFLINE``,
  ``HF_HUB_DISABLE_TELEMETRY``, ``DO_NOT_TRACK``, ...). The runtime does not import those
  libraries, but the export toolchain and any plugin might.
* ``guard()`` / ``install()`` replace ``socket.socket.connect``/``connect_ex``/``sendto`` and
  ``socket.getaddrinfo``/``create_connection`` with versions that refuse any address that is not
  loopback (127.0.0.0/8, ::1) or a Unix socket, raising ``OfflineViolation`` (an ``OSError``, so
  libraries handle it as "no network") and recording the attempt. Listening and accepting on
  loopback — the kiosk server — are untouched.

Use ``python -m edgemem.cli.offline [edgemem arguments]`` to run any ``edgemem`` command with
the guard installed (the systemd unit in docs/privacy.md does this for ``serve``), or set
``EDGEMEM_OFFLINE_LOG`` to a file to have every refused attempt appended there. At the kernel
level, ``IPAddressDeny=any`` + ``IPAddressAllow=localhost`` in the unit enforce the same for
native code that does not go through Python's ``socket`` module.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from typing import Any, Iterator

OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
}
LOG_ENV = "EDGEMEM_OFFLINE_LOG"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""})


class OfflineViolation(ConnectionRefusedError):
    """Something tried to reach a non-loopback address while the offline guard was on."""


def force_offline_env(environ: "os._Environ[str] | dict[str, str] | None" = None) -> dict[str, str]:
    """Set the offline variables (overriding values that would allow network use); returns them."""
    env = os.environ if environ is None else environ
    for k, v in OFFLINE_ENV.items():
        env[k] = v
    return dict(OFFLINE_ENV)


def is_loopback(host: Any) -> bool:
    """True for loopback IPs and names, and for Unix-socket paths."""
    if isinstance(host, (bytes, bytearray)):
        host = host.decode("utf-8", "replace")
    if not isinstance(host, str):
        return False
    h = host.strip().strip("[]").lower()
    if h in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(h.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


class _Guard:
    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.depth = 0
        self.lock = threading.Lock()
        self.saved: dict[str, Any] = {}

    def refuse(self, what: str) -> None:
        with self.lock:
            self.attempts.append(what)
        path = os.environ.get(LOG_ENV)
        if path:
            try:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(what + "\n")
            except OSError:
                pass
        raise OfflineViolation(f"offline: refused outbound connection to {what}")


_GUARD = _Guard()


def _check_address(sock: socket.socket, address: Any) -> None:
    family = getattr(sock, "family", None)
    if family == getattr(socket, "AF_UNIX", object()):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_loopback(host):
        _GUARD.refuse(f"{host}:{address[1] if isinstance(address, tuple) and len(address) > 1 else '?'}")


def install() -> None:
    """Turn the guard on for this process (idempotent; counts nested installs)."""
    with _GUARD.lock:
        _GUARD.depth += 1
        if _GUARD.depth > 1:
            return
        s = _GUARD.saved
        s["connect"] = socket.socket.connect
        s["connect_ex"] = socket.socket.connect_ex
        s["sendto"] = socket.socket.sendto
        s["getaddrinfo"] = socket.getaddrinfo
        s["create_connection"] = socket.create_connection

    orig_connect, orig_connect_ex = s["connect"], s["connect_ex"]
    orig_sendto, orig_gai = s["sendto"], s["getaddrinfo"]

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self, address)
        return orig_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self, address)
        return orig_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _check_address(self, args[-1])
        return orig_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # A DNS lookup of a remote name is itself an outbound packet: refuse it too.
        if host is not None and not is_loopback(host):
            _GUARD.refuse(f"{host if isinstance(host, str) else host!r} (name lookup)")
        return orig_gai(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    # create_connection resolves through the module-level getaddrinfo, so it is covered; it is
    # saved only so uninstall() restores the exact original object.


def uninstall() -> None:
    with _GUARD.lock:
        if _GUARD.depth == 0:
            return
        _GUARD.depth -= 1
        if _GUARD.depth:
            return
        s = _GUARD.saved
        socket.socket.connect = s["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = s["connect_ex"]  # type: ignore[method-assign]
        socket.socket.sendto = s["sendto"]  # type: ignore[method-assign]
        socket.getaddrinfo = s["getaddrinfo"]
        socket.create_connection = s["create_connection"]


def attempts() -> list[str]:
    """Every refused attempt since the process started (for tests and ``/readyz``)."""
    with _GUARD.lock:
        return list(_GUARD.attempts)


def active() -> bool:
    return _GUARD.depth > 0


@contextlib.contextmanager
def guard() -> Iterator[list[str]]:
    """``with guard() as refused:`` — offline inside the block; ``refused`` lists the attempts."""
    start = len(attempts())
    install()
    box: list[str] = []
    try:
        yield box
    finally:
        uninstall()
        box.extend(attempts()[start:])


def self_test() -> bool:
    """Check the installed guard really refuses a remote address (not logged as an attempt)."""
    if not active():
        return False
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        saved = os.environ.pop(LOG_ENV, None)
        try:
            before = len(_GUARD.attempts)
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: refused by the guard before any packet
        except OfflineViolation:
            with _GUARD.lock:
                del _GUARD.attempts[before:]
            return True
        finally:
            if saved is not None:
                os.environ[LOG_ENV] = saved
        return False
    finally:
        s.close()
