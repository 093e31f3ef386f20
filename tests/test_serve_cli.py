"""``edgemem serve`` as a process: token, one-line errors, start on a bundle, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from edgemem.cli.main import run
from edgemem.home import Home
from edgemem.serve.server import free_port
from edgemem.serve.tokens import admin_token_path

EDGEMEM = [sys.executable, "-c", "from edgemem.cli.main import main; main()"]


def test_print_token_is_stable_and_private(_isolated_home: Path, capsys) -> None:
    assert run(["serve", "--print-token"]) == 0
    first = capsys.readouterr().out.strip()
    assert run(["serve", "--print-token"]) == 0
    assert capsys.readouterr().out.strip() == first and len(first) >= 40
    path = admin_token_path(Home.resolve(None))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_bad_options_are_one_line_errors(capsys) -> None:
    assert run(["serve", "--profile", "no-such-board"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "no-such-board" in err


def test_serve_process_starts_answers_and_stops_on_sigterm(tiny_bundle: Path, _isolated_home: Path) -> None:
    port = free_port()
    env = {**os.environ, "EDGEMEM_HOME": str(_isolated_home)}
    proc = subprocess.Popen([*EDGEMEM, "serve", "--port", str(port), "--bundle", str(tiny_bundle)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(url + "/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert ready is not None and ready.status_code == 200, proc.stderr.read() if proc.poll() else ready
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "Health assistant" in page.text
        r = httpx.post(url + "/v1/chat/completions", timeout=60,
                       json={"max_tokens": 4, "messages": [{"role": "user", "content": "hello"}]})
        assert r.status_code == 200
        token = (_isolated_home / "keys" / "serve-admin.token").read_text().strip()
        r = httpx.post(url + "/v1/chat/completions", timeout=60, headers={"Authorization": f"Bearer {token}"},
                       json={"max_tokens": 4, "user": "p-9",
                             "messages": [{"role": "user", "content": "I am allergic to penicillin."}]})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    # uvicorn shuts down gracefully, then re-raises the signal: systemd counts that as a clean stop.
    assert code in (0, -signal.SIGTERM)
    assert "Traceback" not in proc.stderr.read()
    # The open session was ended on the way out, so it consolidated into long-term memory.
    from edgemem.memory import MemoryService

    memory = MemoryService(Home(_isolated_home), None)
    try:
        assert any("penicillin" in m["text"] for m in memory.list_memories("p-9"))
    finally:
        memory.close()
