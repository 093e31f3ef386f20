"""Kiosk hardening (issue 18) against a real ``edgemem serve`` process over real sockets.

Two findings need a process, not a server thread: a client that sends its headers slowly
(slowloris) must be cut off by the server's own protocol, and a PIN lockout must survive the
server being killed and started again (it lived in memory before).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from edgemem.serve.server import free_port

EDGEMEM = [sys.executable, "-c", "from edgemem.cli.main import main; main()"]
PROFILE = Path(__file__).resolve().parents[1] / "firmware_profiles" / "x86-kiosk.toml"


def profile_with(tmp: Path, **serve: Any) -> Path:
    """The x86-kiosk profile plus a ``[serve]`` table, as a file ``--profile`` reads."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in serve.items()]
    text = PROFILE.read_text(encoding="utf-8").replace('name = "x86-kiosk"', 'name = "test-kiosk"')
    path = tmp / "test-kiosk.toml"
    path.write_text(text + "\n[serve]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


class ServeProcess:
    """``edgemem serve`` on a free port, waited on until ``/readyz`` says ready."""

    def __init__(self, home: Path, bundle: Path, profile: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "EDGEMEM_HOME": str(home)}
        self.proc = subprocess.Popen([*EDGEMEM, "serve", "--port", str(self.port), "--bundle", str(bundle),
                                      "--profile", str(profile), *extra],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"edgemem serve exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError("edgemem serve did not get ready")

    def kill(self) -> None:
        """SIGKILL: the crash a power cut or the OOM killer gives, no clean shutdown."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.stderr.read() if self.proc.stderr else ""  # type: ignore[union-attr]


@pytest.fixture
def serve_process(tiny_bundle: Path, _isolated_home: Path) -> Iterator[Any]:
    started: list[ServeProcess] = []

    def start(profile: Path, *extra: str) -> ServeProcess:
        p = ServeProcess(_isolated_home, tiny_bundle, profile, *extra)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Read until the server closes ``sock`` or ``seconds`` pass: (closed, what it sent)."""
    sock.settimeout(0.2)
    got = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def _wait_closed(socks: list[socket.socket], seconds: float) -> dict[socket.socket, tuple[float, bytes]]:
    """Wait (all at once) until the server closes each socket: {socket: (when, what it sent)}."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    got = {s: b"" for s in socks}
    closed: dict[socket.socket, tuple[float, bytes]] = {}
    deadline = time.monotonic() + seconds
    while len(closed) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj  # type: ignore[assignment]
            try:
                chunk = s.recv(4096)  # type: ignore[union-attr]
            except (ConnectionResetError, BlockingIOError):
                chunk = b""
            if chunk:
                got[s] += chunk  # type: ignore[index]
                continue
            closed[s] = (time.monotonic(), got[s])  # type: ignore[index]
            sel.unregister(s)
    sel.close()
    return closed


def test_half_sent_headers_are_cut_off_and_good_requests_still_work(serve_process: Any, tmp_path: Path) -> None:
    """The review's 200 half-sent requests stayed open for ever; uvicorn's keep-alive timer never
    starts before a first response, and each trickled byte cancels it after one."""
    timeout = 1.5
    server = serve_process(profile_with(tmp_path, header_timeout_s=timeout))
    t0 = time.monotonic()
    half = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
        half.append(s)
    silent = socket.create_connection(("127.0.0.1", server.port))  # connects, sends nothing
    opened = time.monotonic() - t0
    closed = _wait_closed([*half, silent], timeout + 10)
    assert len(closed) == len(half) + 1, f"{len(half) + 1 - len(closed)} connections still open"
    after = sorted(when - t0 for when, _ in closed.values())
    assert after[0] >= timeout - 0.2 and after[-1] <= opened + timeout + 5
    assert all(closed[s][1].startswith(b"HTTP/1.1 408 ") for s in half)
    assert closed[silent][1] == b""  # nothing to answer: closed without a word
    print(f"\n200 half-sent heads + 1 silent connection, header_timeout_s={timeout}: all closed "
          f"{after[0]:.2f}-{after[-1]:.2f} s after the first opened (opening took {opened:.2f} s); "
          f"200 x 408, silent closed without a response")
    for s in (*half, silent):
        s.close()
    # A trickler: one byte every 0.25 s, well inside keep-alive's 5 s, for 3 x the deadline.
    trickle = socket.create_connection(("127.0.0.1", server.port))
    t0 = time.monotonic()
    cut_at = None
    for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 40:
        try:
            trickle.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            cut_at = time.monotonic() - t0
            break
        time.sleep(0.25)
        if time.monotonic() - t0 > 3 * timeout:
            break
    if cut_at is None:
        done = _wait_closed([trickle], timeout)
        assert done, "a trickled head kept its connection open"
        cut_at = done[trickle][0] - t0
    assert cut_at <= timeout + 1.0
    print(f"a head trickled at 4 bytes/s: cut off after {cut_at:.2f} s")
    trickle.close()
    # A keep-alive connection: the first request's response arms the deadline for the next head.
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.3)
        first = s.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 ")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        ok, sent = _closed_within(s, 2 * timeout + 1)
        assert ok and sent.startswith(b"HTTP/1.1 408 ")
    # The server is unharmed: ordinary requests, and a streamed chat, still work.
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
    body = {"model": "edgemem", "stream": True, "max_tokens": 16,
            "messages": [{"role": "user", "content": "hello"}]}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert "Traceback" not in server.stop()


def test_a_slow_body_after_a_prompt_head_is_not_cut_by_the_header_deadline(serve_process: Any,
                                                                            tmp_path: Path) -> None:
    """The deadline covers the head only: the body has its own 10 s limit (http.BODY_TIMEOUT_S)."""
    server = serve_process(profile_with(tmp_path, header_timeout_s=1.0))
    payload = b'{"model": "edgemem", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}'
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {len(payload)}\r\n\r\n".encode())
        for i in range(0, len(payload), len(payload) // 5 + 1):  # the body over ~2.5 s
            time.sleep(0.5)
            s.sendall(payload[i:i + len(payload) // 5 + 1])
        s.settimeout(60)
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def _try(url: str, patient: str, pin: str) -> httpx.Response:
    return httpx.post(url + "/api/session", json={"patient": patient, "secret": pin}, timeout=30)


def test_a_pin_lockout_survives_killing_and_restarting_the_server(serve_process: Any, tmp_path: Path,
                                                                   _isolated_home: Path) -> None:
    profile = profile_with(tmp_path, identify="number+pin")
    server = serve_process(profile)
    first = _try(server.url, "B-2002", "4821")  # the first visit sets the PIN
    assert first.status_code == 200, first.text
    httpx.post(server.url + "/api/session/end", headers={"Authorization": f"Bearer {first.json()['token']}"})
    # Five wrong PINs (the default max_failures), waiting out each backoff (1, 2, 4, 8 s).
    codes = []
    for n in range(5):
        r = _try(server.url, "B-2002", f"000{n}")
        codes.append(r.status_code)
        if n < 4:
            time.sleep(2 ** n + 0.2)
    assert codes == [401] * 5
    assert _try(server.url, "B-2002", "4821").json()["error"]["code"] == "locked"
    server.kill()
    raw = (_isolated_home / "identify-failures.json").read_text()
    assert "B-2002" not in raw  # keyed by the audit pseudonym
    again = serve_process(profile)
    locked = _try(again.url, "B-2002", "4821")  # the right PIN, after a restart: still locked
    assert locked.status_code == 429, locked.text
    assert locked.json()["error"]["code"] == "locked" and int(locked.headers["Retry-After"]) > 800
    # Another patient is not affected by B's lockout.
    other = _try(again.url, "C-3003", "2468")
    assert other.status_code == 200, other.text
    assert "Traceback" not in again.stop()


def test_a_streamed_reply_longer_than_the_header_deadline_runs_to_its_end(
        _tiny_bundle_built: tuple[Path, Path], tmp_path: Path) -> None:
    """The deadline is disarmed once a head is parsed: a reply that streams for 4x the deadline
    (the model slowed per piece to a Pi's pace) ends with [DONE], and the kept-alive connection
    then serves the next request."""
    from serve_helpers import running_kiosk, slow_replies

    with running_kiosk(_tiny_bundle_built, tmp_path / "home", header_timeout_s=0.5) as k:
        k.runtime.assistant.care = None
        k.runtime.assistant.shape_model_replies = False
        slow_replies(k, 0.05)
        body = {"model": "edgemem", "stream": True, "max_tokens": 60, "temperature": 0,
                "messages": [{"role": "user", "content": "Please tell me everything about headaches."}]}
        with httpx.Client(timeout=60) as client:
            t0 = time.monotonic()
            with client.stream("POST", k.url + "/v1/chat/completions", json=body) as r:
                assert r.status_code == 200
                lines = [line for line in r.iter_lines() if line]
            took = time.monotonic() - t0
            assert lines[-1] == "data: [DONE]" and not any('"error"' in line for line in lines)
            assert took > 2.0, f"the reply took {took:.2f} s: too short to prove anything"
            assert client.get(k.url + "/healthz").status_code == 200
