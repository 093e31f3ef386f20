"""The RSS budget as a contract: the server reports its own peak in /readyz and warns past it."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from edgemem.profiles import SHIPPED_DIR
from edgemem.rss import REWARN_MB, RssBudget, peak_rss_mb, rss_mb, status_mb
from edgemem.serve.server import free_port

EDGEMEM = [sys.executable, "-c", "from edgemem.cli.main import main; main()"]


def fake_status(path: Path, rss_kb: int, hwm_kb: int) -> str:
    path.write_text(f"Name:\tpython\nVmHWM:\t{hwm_kb} kB\nVmRSS:\t{rss_kb} kB\nRssAnon:\t{rss_kb // 2} kB\n")
    return str(path)


def test_figures_of_this_process_are_consistent() -> None:
    s = status_mb()
    assert s["VmRSS"] > 10 and s["VmHWM"] >= s["VmRSS"]
    assert peak_rss_mb() >= rss_mb() > 0
    # Resident memory grows when 40 MB are touched, and the peak follows it.
    before = peak_rss_mb()
    block = bytearray(40 << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    assert peak_rss_mb() >= before and peak_rss_mb() >= rss_mb() > 40


def test_budget_warns_once_then_only_when_the_peak_grows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    status = tmp_path / "status"
    watch = RssBudget(300, name="pi-zero-2w", status_path=fake_status(status, 200_000, 250_000))
    with caplog.at_level(logging.WARNING, logger="edgemem.rss"):
        first = watch.check()
        assert not first.over_budget and not first.warned and first.to_dict()["peak_mb"] == pytest.approx(244.1, abs=0.1)
        fake_status(status, 300_000, 320 * 1024)
        over = watch.check("after a reply")
        again = watch.check()
        fake_status(status, 300_000, int((320 + REWARN_MB + 1) * 1024))
        grown = watch.check()
    assert over.over_budget and over.warned and again.over_budget and not again.warned and grown.warned
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "320.0 MB exceeds the pi-zero-2w profile's rss_budget_mb = 300 (after a reply)" in lines[0]


def test_no_budget_never_warns(tmp_path: Path) -> None:
    watch = RssBudget(None, status_path=fake_status(tmp_path / "status", 1 << 20, 1 << 21))
    got = watch.check()
    assert not got.over_budget and not got.warned and got.budget_mb is None


def test_server_reports_its_peak_and_warns_past_a_small_budget(tiny_bundle: Path, _isolated_home: Path) -> None:
    # A profile whose budget no Python server can meet: the warning must reach the log.
    text = (SHIPPED_DIR / "x86-kiosk.toml").read_text()
    text = re.sub(r"(?m)^rss_budget_mb\s*=.*$", "rss_budget_mb = 64", text)
    (_isolated_home / "profiles").mkdir(parents=True, exist_ok=True)
    (_isolated_home / "profiles" / "tight.toml").write_text(text.replace('name = "x86-kiosk"', 'name = "tight"'))
    port = free_port()
    env = {**os.environ, "EDGEMEM_HOME": str(_isolated_home)}
    proc = subprocess.Popen([*EDGEMEM, "serve", "--port", str(port), "--bundle", str(tiny_bundle), "--profile", "tight"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    body = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(url + "/readyz", timeout=2)
                if r.status_code == 200:
                    body = r.json()
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert body is not None, proc.stderr.read() if proc.poll() is not None else "not ready"
        rss = body["rss"]
        assert rss["budget_mb"] == 64 and rss["over_budget"] is True
        assert rss["peak_mb"] >= rss["current_mb"] > 64
        # The server's own figure is the kernel's figure for that process.
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))
        assert abs(hwm - rss["peak_mb"]) < 25
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    err = proc.stderr.read()
    assert "exceeds the tight profile's rss_budget_mb = 64" in err
    # Once, and again only when the peak grew by REWARN_MB since the last warning.
    peaks = [float(x) for x in re.findall(r"peak RSS ([0-9.]+) MB exceeds the tight", err)]
    assert all(b >= a + REWARN_MB for a, b in zip(peaks, peaks[1:])), peaks
