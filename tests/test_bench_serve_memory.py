"""The memory benchmark on the tiny bundle: a real server through HTTP, and the step-by-step child."""

from __future__ import annotations

from pathlib import Path

from benchmarks.serve_memory import OPENERS, QUESTIONS, bench_home, conversation, run_breakdown, run_server


def test_server_and_breakdown_report_consistent_figures(_tiny_bundle_built: tuple[Path, Path],
                                                        _isolated_home: Path) -> None:
    from edgemem import signing_keys
    from edgemem.home import Home

    bundle, pub = _tiny_bundle_built
    signing_keys.trust(signing_keys.load_public_key(pub), Home(_isolated_home).ensure())
    home = bench_home(_isolated_home)
    assert list((home / "keys" / "trusted").glob("*.pub"))  # the bench home trusts the bundle's key
    s = run_server(bundle, "x86-kiosk", home, patients=2, turns=2, max_tokens=4, prompt_budget=256)
    assert s["replies"] == 4 and s["errors_in_log"] == 0
    assert len(s["peak_after_patient_mb"]) == 2 and s["peak_rss_mb"] >= s["peak_after_patient_mb"][0] > 30
    assert abs(s["proc_status_mb"]["VmHWM"] - s["peak_rss_mb"]) < 5  # /readyz is the kernel's figure
    from edgemem.profiles import load

    assert s["budget_mb"] == load("x86-kiosk").rss_budget_mb
    assert s["over_budget"] == (s["peak_rss_mb"] > s["budget_mb"])

    b = run_breakdown(bundle, "x86-kiosk", bench_home(_isolated_home), patients=2, turns=2, max_tokens=4,
                      prompt_budget=256)
    names = [p["part"] for p in b["parts"]]
    assert names[0] == "python + imports" and any(n.startswith("embedder") for n in names)
    assert any(n.startswith("KV cache") for n in names) and any(n.startswith("care cards") for n in names)
    assert any(n.startswith("safety classifier") for n in names)
    # The parts add up to where the child ended (RSS deltas, the KV cache split out of the sessions).
    assert abs(sum(p["mb"] for p in b["parts"]) - b["steps"][-1]["VmRSS"]) < 1.0
    assert 0 < b["kv_resident_mb"] <= b["kv_allocated_mb"] + 0.5  # whole pages around small buffers
    assert b["peak_rss_mb"] >= b["steps"][-1]["VmRSS"]


def test_patients_say_a_fact_first_then_different_questions() -> None:
    said = conversation(3, 4)
    assert said[0] in OPENERS and len(set(said)) == 4 and all(q in QUESTIONS for q in said[1:])
    assert conversation(3, 4) != conversation(4, 4)
