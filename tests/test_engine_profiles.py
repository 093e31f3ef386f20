"""Firmware profiles: every shipped one validates; board detection and its override."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgemem import profiles
from edgemem.errors import ProfileError

REQUIRED = {"pi-zero-2w", "pi-4", "pi-5", "jetson-orin-nano", "x86-kiosk"}


def test_shipped_profiles_validate() -> None:
    names = set(profiles.available())
    assert REQUIRED <= names
    for name in names:
        p = profiles.load(name)
        assert p.threads >= 1 and p.context_length >= 128 and p.providers[-1] == "CPUExecutionProvider"
    assert profiles.load("jetson-orin-nano").quantization == "fp16"
    assert profiles.load("jetson-orin-nano").providers[0] == "TensorrtExecutionProvider"
    assert profiles.load("pi-zero-2w").rss_budget_mb <= 512
    # the AVX2 kiosk takes the GPTQ 4-bit build, under the same gate as the int8 x86 kiosk
    avx2, kiosk = profiles.load("x86-avx2"), profiles.load("x86-kiosk")
    assert avx2.quantization == "int4-gptq" and kiosk.quantization == "int8"
    assert (avx2.max_ppl_increase, avx2.min_agreement) == (kiosk.max_ppl_increase, kiosk.min_agreement)


@pytest.mark.parametrize("model, expected", [
    ("Raspberry Pi 5 Model B Rev 1.0", "pi-5"),
    ("Raspberry Pi 4 Model B Rev 1.4", "pi-4"),
    ("Raspberry Pi Zero 2 W Rev 1.0", "pi-zero-2w"),
    ("NVIDIA Jetson Orin Nano Developer Kit", "jetson-orin-nano"),
])
def test_detect_by_device_tree(tmp_path: Path, model: str, expected: str) -> None:
    dt = tmp_path / "model"
    dt.write_bytes(model.encode() + b"\x00")
    det = profiles.detect(device_tree_model=dt, tegra_release=tmp_path / "none", env={})
    assert det.name == expected and det.board == model


def test_detect_tegra_file_and_cpu_count(tmp_path: Path) -> None:
    tegra = tmp_path / "nv_tegra_release"
    tegra.write_text("# R36 (release), REVISION: 3.0\n")
    assert profiles.detect(device_tree_model=tmp_path / "none", tegra_release=tegra, env={}).name == "jetson-orin-nano"
    det = profiles.detect(device_tree_model=tmp_path / "none", tegra_release=tmp_path / "none", cpu_count=2, env={},
                          cpuinfo=tmp_path / "none")
    assert det.name == "x86-kiosk"


def test_generic_kiosk_wins_a_tie_whatever_the_names(tmp_path: Path) -> None:
    """x86-avx2 (and a vendor's own x86 profile) declare no board markers, like x86-kiosk: on a
    tie detection must keep the generic kiosk, not whichever name sorts last."""
    home = tmp_path / "home"
    (home / "profiles").mkdir(parents=True)
    text = profiles.load("x86-avx2").path.read_text()  # type: ignore[union-attr]
    (home / "profiles" / "zz-vendor.toml").write_text(text.replace('name = "x86-avx2"', 'name = "zz-vendor"'))
    assert "zz-vendor" in profiles.available(home)
    det = profiles.detect(home, device_tree_model=tmp_path / "none", tegra_release=tmp_path / "none", cpu_count=2, env={},
                          cpuinfo=tmp_path / "none")
    assert det.name == "x86-kiosk"


def write_cpuinfo(path: Path, flags: str) -> Path:
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


@pytest.mark.parametrize("flags, cls, expected", [
    ("fpu sse2 avx avx2 fma", "avx2", "x86-avx2"),              # the AMD EPYC measured: int4-gptq is faster
    ("fpu sse2 avx avx2 fma avx_vnni", "avx2-vnni", "x86-kiosk"),  # nothing measured there: the generic kiosk
    ("fpu sse2 avx avx2 fma avx512f avx512_vnni", "avx512-vnni", "x86-kiosk"),
    ("fpu sse2 avx", None, "x86-kiosk"),
])
def test_detection_picks_the_fastest_measured_profile_within_its_gate(tmp_path: Path, flags: str, cls: str | None,
                                                                      expected: str) -> None:
    cpuinfo = write_cpuinfo(tmp_path / "cpuinfo", flags)
    assert profiles.cpu_class(cpuinfo) == cls
    det = profiles.detect(device_tree_model=tmp_path / "none", tegra_release=tmp_path / "none", cpu_count=2, env={},
                          cpuinfo=cpuinfo)
    assert det.name == expected
    if expected == "x86-avx2":
        assert det.cpu_class == "avx2" and [r[0] for r in det.ranking] == ["x86-avx2", "x86-kiosk"]
        assert det.ranking[0][1] > det.ranking[1][1] and "within its quality gate" in det.reason
        assert "x86-kiosk" in det.reason  # the reason names the runner-up and its figure


def test_a_faster_profile_that_failed_its_gate_is_not_chosen(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "profiles").mkdir(parents=True)
    text = profiles.load("x86-avx2").path.read_text()  # type: ignore[union-attr]
    text = text.replace('name = "x86-avx2"', 'name = "x86-fast-bad"').replace("gate_passed = true", "gate_passed = false")
    text = text.replace("decode_vs_llama_cpp = 1.155", "decode_vs_llama_cpp = 9.0")
    (home / "profiles" / "x86-fast-bad.toml").write_text(text)
    det = profiles.detect(home, device_tree_model=tmp_path / "none", tegra_release=tmp_path / "none", cpu_count=2,
                          env={}, cpuinfo=write_cpuinfo(tmp_path / "cpuinfo", "avx avx2 fma"))
    assert det.name == "x86-avx2" and "x86-fast-bad 9.00x (gate failed)" in det.reason
    bad = text.replace("[device.measured.avx2]", "[device.measured.z80]")
    (home / "profiles" / "x86-fast-bad.toml").write_text(bad)
    with pytest.raises(ProfileError, match="CPU class"):
        profiles.load("x86-fast-bad", home)


def test_env_override_wins_and_is_validated(tmp_path: Path) -> None:
    dt = tmp_path / "model"
    dt.write_text("Raspberry Pi 5 Model B")
    assert profiles.detect(device_tree_model=dt, env={"EDGEMEM_PROFILE": "pi-zero-2w"}).name == "pi-zero-2w"
    with pytest.raises(ProfileError, match="no firmware profile"):
        profiles.detect(env={"EDGEMEM_PROFILE": "toaster"})


def test_home_profile_overrides_and_bad_profile_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "profiles").mkdir(parents=True)
    good = profiles.load("pi-5").path.read_text()  # type: ignore[union-attr]
    (home / "profiles" / "pi-5.toml").write_text(good.replace("threads = 4", "threads = 3"))
    assert profiles.load("pi-5", home).threads == 3
    (home / "profiles" / "broken.toml").write_text(good.replace('quantization = "int8"', 'quantization = "int3"'))
    with pytest.raises(ProfileError, match="quantization"):
        profiles.load("broken", home)
    (home / "profiles" / "chatty.toml").write_text(good.replace('rehearsal = "llm"', 'rehearsal = "gpt"'))
    with pytest.raises(ProfileError, match="rehearsal must be one of rules, llm"):
        profiles.load("chatty", home)
    assert profiles.load("pi-5").rehearsal == "llm" and profiles.load("pi-zero-2w").rehearsal == "rules"
    (home / "profiles" / "embeds.toml").write_text(good.replace('rehearsal = "llm"', 'rehearsal = "llm"\nembedder = "bert-xl"'))
    with pytest.raises(ProfileError, match="embedder must be one of minilm-l6, minilm-l1"):
        profiles.load("embeds", home)
    assert profiles.load("pi-5").embedder == "minilm-l6" and profiles.load("x86-avx2").embedder == "minilm-l1"
    (home / "profiles" / "garbage.toml").write_text("[engine\n")
    with pytest.raises(ProfileError, match="TOML"):
        profiles.load("garbage", home)


def test_cli_profiles_json(tmp_path: Path) -> None:
    env = dict(os.environ, EDGEMEM_HOME=str(tmp_path / "home"), EDGEMEM_PROFILE="pi-4")
    proc = subprocess.run([sys.executable, "-c", "from edgemem.cli.main import main; main()", "profiles", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["detected"]["name"] == "pi-4" and "EDGEMEM_PROFILE" in out["detected"]["reason"]
    assert REQUIRED <= {p["name"] for p in out["profiles"]}
    proc = subprocess.run([sys.executable, "-c", "from edgemem.cli.main import main; main()", "profiles"],
                          capture_output=True, text=True, env=dict(env, EDGEMEM_PROFILE="nope"), timeout=60)
    assert proc.returncode != 0 and proc.stderr.startswith("error: no firmware profile")


@pytest.mark.parametrize("flags, detected, hinted", [
    ("fpu sse2 avx avx2 fma", "x86-kiosk", True),                  # AVX2, no VNNI: the AMD EPYC measured
    ("fpu sse2 avx avx2 fma avx512f avx512_vnni", "x86-kiosk", False),
    ("fpu sse2 avx avx2 fma avx_vnni", "x86-kiosk", False),
    ("fpu sse2 avx", "x86-kiosk", False),                          # no AVX2: no advice
    ("fpu sse2 avx avx2 fma", "pi-5", False),                      # only the generic kiosk is advised
])
def test_cpu_hint_for_avx2_without_vnni(tmp_path: Path, flags: str, detected: str, hinted: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    hint = profiles.cpu_hint(detected, cpuinfo)
    assert (hint is not None) == hinted
    if hint:
        assert "x86-avx2" in hint and profiles.load("x86-avx2").quantization == "int4-gptq"
    assert profiles.cpu_hint("x86-kiosk", tmp_path / "missing") is None


def test_first_start_builds_the_uncalibrated_kiosk_and_offers_the_detected_one(tmp_path: Path) -> None:
    none = tmp_path / "none"
    # AVX2 without VNNI: detection picks x86-avx2 (int4-gptq), the first start builds x86-kiosk (int8).
    det = profiles.detect(device_tree_model=none, tegra_release=none, cpu_count=2, env={},
                          cpuinfo=write_cpuinfo(tmp_path / "cpuinfo", "fpu sse2 avx avx2 fma"))
    first = profiles.first_start(det)
    assert det.name == "x86-avx2" and profiles.load(det.name).quantization in profiles.CALIBRATED_BUILDS
    assert first.name == "x86-kiosk" and first.upgrade == "x86-avx2" and "GPTQ" in first.reason
    assert profiles.load(first.name).quantization not in profiles.CALIBRATED_BUILDS
    # Where detection already gives an uncalibrated build, that is what the first start builds.
    det = profiles.detect(device_tree_model=none, tegra_release=none, cpu_count=2, env={},
                          cpuinfo=write_cpuinfo(tmp_path / "cpuinfo2", "fpu sse2 avx avx2 fma avx512f avx512_vnni"))
    assert profiles.first_start(det) == profiles.FirstStart("x86-kiosk", "the detected profile")
    # A board and an explicit choice are built as they are, calibrated or not.
    dt = tmp_path / "model"
    dt.write_text("Raspberry Pi Zero 2 W Rev 1.0")
    det = profiles.detect(device_tree_model=dt, tegra_release=none, env={})
    assert profiles.first_start(det).name == "pi-zero-2w" and profiles.first_start(det).upgrade is None
    det = profiles.detect(env={"EDGEMEM_PROFILE": "x86-avx2"})
    assert profiles.first_start(det).name == "x86-avx2" and profiles.first_start(det).upgrade is None


def test_cli_profiles_json_says_what_a_first_start_builds(tmp_path: Path) -> None:
    env = dict(os.environ, EDGEMEM_HOME=str(tmp_path / "home"), EDGEMEM_PROFILE="x86-avx2")
    proc = subprocess.run([sys.executable, "-c", "from edgemem.cli.main import main; main()", "profiles", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["first_start"] == {"name": "x86-avx2", "reason": "the detected profile",
                                                      "upgrade": None}
