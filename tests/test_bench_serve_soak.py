"""The soak benchmark drives real kiosk sessions end to end and samples the server between them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from serve_helpers import running_kiosk

from benchmarks.serve_soak import _slope, soak


def test_soak_runs_sessions_like_the_page_and_samples_the_process(_tiny_bundle_built: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_kiosk(_tiny_bundle_built, home, request_timeout_s=60) as k:
        r = soak(k.url, os.getpid(), home, sessions=4, turns=2, patients=2, max_tokens=8, sample_every=2, pause_s=0)
    assert r["errors"] == {}
    assert r["statuses"] == {"session 200": 4, "chat 200": 8, "end 200": 4}
    assert [s["sessions"] for s in r["samples"]] == [0, 2, 4]
    assert all(s["rss_mb"] > 0 and s["threads"] >= 1 and s["fds"] > 0 for s in r["samples"])
    assert r["home_bytes_per_session"] > 0  # the patients' turns and notes were stored
    assert r["cached_share_median"] is not None and 0 <= r["cached_share_median"] <= 1


def test_slope_is_least_squares() -> None:
    assert _slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert _slope([5, 5], [1, 2]) == 0.0
