"""Offline: the guard refuses every non-loopback socket, and a whole kiosk session runs under it.

The session test starts the real server (tiny bundle, real memory) in a subprocess through
``python -m edgemem.cli.offline serve ...``, drives a patient session over loopback HTTP, and
then reads the guard's log of refused attempts: it must be empty. The control tests show the
guard does refuse (so an empty log means something).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest

from edgemem.privacy import offline


def test_guard_refuses_remote_addresses_and_names_but_not_loopback():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    acceptor = threading.Thread(target=lambda: srv.accept()[0].close(), daemon=True)
    acceptor.start()
    with offline.guard() as refused:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)  # loopback works
        c.close()
        with pytest.raises(OfflineViolationOrURLError):
            urllib.request.urlopen("http://192.0.2.1/", timeout=5)  # TEST-NET-1, never routed
        with pytest.raises(OSError):
            socket.getaddrinfo("example.org", 443)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(offline.OfflineViolation):
            s.sendto(b"x", ("8.8.8.8", 53))
        s.close()
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        with pytest.raises(offline.OfflineViolation):
            s6.connect_ex(("2001:db8::1", 80))
        s6.close()
    acceptor.join(timeout=5)  # the loopback connection was accepted before the socket closes
    srv.close()
    assert any("192.0.2.1" in a for a in refused)
    assert any("example.org" in a for a in refused)
    assert any("8.8.8.8" in a for a in refused) and any("2001:db8::1" in a for a in refused)
    assert not offline.active()


OfflineViolationOrURLError = (offline.OfflineViolation, urllib.error.URLError)


@pytest.mark.parametrize("host,ok", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
                                     ("::ffff:127.0.0.1", True), ("10.0.0.1", False), ("192.168.1.2", False),
                                     ("example.com", False), ("169.254.169.254", False), ("::ffff:8.8.8.8", False)])
def test_is_loopback(host, ok):
    assert offline.is_loopback(host) is ok


def test_hub_variables_forced_offline():
    env = {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}
    offline.force_offline_env(env)
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1" and env["HF_DATASETS_OFFLINE"] == "1"
    assert env["HF_HUB_DISABLE_TELEMETRY"] == "1" and env["DO_NOT_TRACK"] == "1"


def test_runner_refuses_and_logs_in_a_child_process(tmp_path):
    log = tmp_path / "refused.log"
    code = ("import sys, urllib.request\n"
            "from edgemem.privacy import offline\n"
            "offline.force_offline_env(); offline.install()\n"
            "try:\n    urllib.request.urlopen('http://192.0.2.1/', timeout=5)\n"
            "except OSError as e:\n    print('refused:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, offline.LOG_ENV: str(log)})
    assert "refused" in out.stdout and "offline" in out.stdout
    assert "192.0.2.1" in log.read_text()


def test_self_test_reports_whether_the_guard_is_on():
    assert not offline.self_test()
    with offline.guard() as refused:
        assert offline.self_test()
    assert refused == []  # the self-test is not counted as an attempt


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_whole_kiosk_session_under_the_guard(tiny_bundle: Path, tmp_path: Path):
    home = os.environ["EDGEMEM_HOME"]
    log = tmp_path / "refused.log"
    env = {**os.environ, offline.LOG_ENV: str(log), "EDGEMEM_HOME": home}
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(k, None)
    port = _free_port()
    token = subprocess.run([sys.executable, "-m", "edgemem.cli.offline", "serve", "--print-token"],
                           capture_output=True, text=True, env=env, timeout=60).stdout.strip()
    assert token
    proc = subprocess.Popen([sys.executable, "-m", "edgemem.cli.offline", "serve", "--bundle", str(tiny_bundle),
                             "--port", str(port), "--profile", "x86-kiosk"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as http:
            for _ in range(600):
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    pytest.fail(proc.stdout.read() if proc.stdout else "server exited")
                time.sleep(0.1)
            assert http.get("/").status_code == 200  # the kiosk page and its local assets
            s = http.post("/api/session", json={"patient": "p-offline"}).json()
            auth = {"Authorization": f"Bearer {s['token']}"}
            body = {"model": "edgemem", "max_tokens": 6,
                    "messages": [{"role": "user", "content": "I am allergic to penicillin."}]}
            assert http.post("/v1/chat/completions", json=body, headers=auth).status_code == 200
            with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}, headers=auth) as r:
                assert r.status_code == 200 and "data:" in r.read().decode()
            red = http.post("/v1/chat/completions", headers=auth, json={
                **body, "messages": [{"role": "user", "content": "I can't breathe"}]}).json()
            assert "112" in red["choices"][0]["message"]["content"]
            assert http.get("/api/session/memories", headers=auth).status_code == 200
            assert http.post("/api/session/end", headers=auth).status_code == 200
            admin = {"Authorization": f"Bearer {token}"}
            assert http.get("/api/admin/patients/p-offline/search", params={"q": "penicillin"}, headers=admin).status_code == 200
            assert http.delete("/api/admin/patients/p-offline", headers=admin).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    output = proc.stdout.read() if proc.stdout else ""
    assert "offline guard on" in output  # the server process ran with the guard installed
    refused = log.read_text() if log.exists() else ""
    assert refused == "", f"outbound attempts during the session: {refused}"
