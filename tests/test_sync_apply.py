"""``edgemem sync apply``: real signed tiny bundles into A/B slots; every refusal leaves the device as it was."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgemem import bundle, signing_keys
from edgemem.cli.main import run
from edgemem.home import Home
from edgemem.sync import apply, slots
from sync_bundles import build_tiny_bundle, tree_digest


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> object:
    return signing_keys.generate()


@pytest.fixture(scope="module")
def bundles(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory, vendor: object) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bundles")
    b = {
        "v1": build_tiny_bundle(tiny_llama_dir, root / "v1", vendor, version=1),
        "v2": build_tiny_bundle(tiny_llama_dir, root / "v2", vendor, version=2, parent_version=1),
        "other-base": build_tiny_bundle(tiny_llama_dir, root / "other-base", vendor, version=3,
                                        base={"id": "another-model", "sha256": "0" * 64}),
        "bad-quality": build_tiny_bundle(tiny_llama_dir, root / "bad-quality", vendor, version=4, ppl_slack=0.5),
        "untrusted": build_tiny_bundle(tiny_llama_dir, root / "untrusted", signing_keys.generate(), version=5),
    }
    tampered = root / "tampered"
    shutil.copytree(b["v2"], tampered)
    with open(tampered / "model.onnx.data", "r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    b["tampered"] = tampered
    tar = bundle.pack(b["v2"], root / "v2.tar")
    b["v2.tar"] = tar
    truncated = root / "truncated.tar"
    truncated.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    b["truncated"] = truncated
    return b


@pytest.fixture
def home(vendor: object) -> Home:
    h = Home.resolve(None).ensure()
    signing_keys.trust(vendor.public_key(), h)  # type: ignore[attr-defined]
    return h


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_switches_and_rollback_restores(home: Home, bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "sync", "apply", str(bundles["v1"]), "--json")
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = _cli(capsys, "sync", "apply", str(bundles["v2.tar"]), "--json")
    res = json.loads(out)
    assert code == 0 and (res["version"], res["previous_version"], res["slot"]) == (2, 1, "b")
    assert res["smoke"]["golden_ppl"] <= res["smoke"]["max_ppl"]
    active = slots.active_bundle(home)
    assert active is not None and bundle.verify(active, None, home).version == 2
    # Sealed at apply time: the server's start re-checks stat and sampled blocks (edgemem.seal).
    sealed = bundle.sealed(active, home)
    assert sealed is not None and sealed.version == 2
    st = json.loads(_cli(capsys, "sync", "status", "--json")[1])
    assert (st["active_version"], st["previous_version"], st["trial"], st["can_rollback"]) == (2, 1, True, True)

    code, out, _ = _cli(capsys, "sync", "rollback", "--json")
    assert code == 0 and json.loads(out)["version"] == 1
    assert bundle.verify(slots.active_bundle(home), None, home).version == 1  # type: ignore[arg-type]
    # What the engine loads follows the switch.
    from edgemem.engine import Engine

    assert Engine.from_bundle(slots.active_bundle(home), home=home).manifest.version == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("name, reason", [
    ("tampered", "does not match its sha256"),
    ("truncated", "archive"),
    ("untrusted", "does not trust"),
    ("v1", "refusing downgrade"),
    ("v2", "already the active bundle"),
    ("other-base", "incompatible bundle: its base model"),
    ("bad-quality", "smoke test failed: golden-text perplexity"),
])
def test_refused_update_leaves_the_active_bundle_untouched(home: Home, bundles: dict[str, Path], name: str, reason: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    apply.apply(bundles["v1"], home)
    apply.apply(bundles["v2"], home)
    before = tree_digest(home.bundles)
    code, out, err = _cli(capsys, "sync", "apply", str(bundles[name]))
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and reason in lines[0], err
    assert tree_digest(home.bundles) == before
    assert slots.load_state(home).version_of(slots.load_state(home).active) == 2


def test_downgrade_only_when_asked(home: Home, bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    apply.apply(bundles["v2"], home)
    code, out, _ = _cli(capsys, "sync", "apply", str(bundles["v1"]), "--allow-downgrade", "--json")
    assert code == 0 and json.loads(out)["version"] == 1


def test_incompatible_base_can_be_migrated_explicitly(home: Home, bundles: dict[str, Path]) -> None:
    apply.apply(bundles["v2"], home)
    res = apply.apply(bundles["other-base"], home, allow_new_base=True)
    assert res.version == 3


def test_full_disk_is_refused_before_anything_is_written(home: Home, bundles: dict[str, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    apply.apply(bundles["v1"], home)
    before = tree_digest(home.bundles)
    real = shutil.disk_usage

    def full(path: os.PathLike[str] | str) -> object:
        u = real(path)
        return type(u)(u.total, u.total - 1000, 1000)

    monkeypatch.setattr(apply.shutil, "disk_usage", full)
    with pytest.raises(Exception, match="not enough free disk"):
        apply.apply(bundles["v2"], home)
    assert tree_digest(home.bundles) == before


def test_first_install_needs_no_active_bundle_and_is_not_on_trial(home: Home, bundles: dict[str, Path]) -> None:
    assert slots.active_bundle(home) is None
    apply.apply(bundles["v2.tar"], home)
    st = slots.load_state(home)
    assert st.active == "a" and st.trial is False and st.previous is None


def test_status_and_confirm_in_words(home: Home, bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(capsys, "sync", "status")[1].startswith("no bundle installed")
    apply.apply(bundles["v1"], home)
    apply.apply(bundles["v2"], home)
    out = _cli(capsys, "sync", "status")[1]
    assert "active: slot b version 2, on trial: 0/3 start attempts" in out and "previous: slot a version 1" in out
    code, out, _ = _cli(capsys, "sync", "confirm")
    assert code == 0 and "version 2 confirmed" in out and slots.load_state(home).trial is False
