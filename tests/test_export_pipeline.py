"""The whole off-device path on the tiny random Llama: base -> train -> merge -> ONNX -> gate ->
signed bundle -> verify, through the CLI a release engineer uses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgemem import bundle
from edgemem.errors import BundleError
from export.cli import run

DATA = Path(__file__).resolve().parent / "data" / "dialogues.jsonl"


@pytest.fixture(scope="module")
def tiny_base(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.base import convert

    out = tmp_path_factory.mktemp("pipeline") / "base"
    convert(tiny_llama_dir, out)
    return out


@pytest.fixture(scope="module")
def trained(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adapter") / "lora"
    assert run(["train", "--base", str(tiny_base), "--data", str(DATA), "--out", str(out), "--steps", "4",
                "--seq-len", "64", "--batch-size", "2", "--lr", "0.01", "--heldout", str(DATA),
                "--no-progress", "--json"]) == 0
    return out


def test_train_writes_a_peft_adapter_and_skips_heldout(trained: Path) -> None:
    meta = json.loads((trained / "edgemem_adapter.json").read_text())
    assert (trained / "adapter_model.safetensors").is_file() and (trained / "adapter_config.json").is_file()
    assert meta["steps"] == 4 and meta["skipped_heldout"] == 3 and meta["train_dialogues"] == 17
    assert meta["config"]["rank"] == 8 and meta["heldout_ppl_base"] > 1
    assert not (trained / "checkpoint").exists()
    cfg = json.loads((trained / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and set(cfg["target_modules"]) >= {"q_proj", "v_proj"}


def test_merge_build_verify_with_adapter(tiny_base: Path, trained: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    merged = tmp_path / "merged"
    assert run(["merge", "--base", str(tiny_base), "--adapter", str(trained), "--out", str(merged),
                "--heldout", str(DATA), "--seq-len", "64", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["adapter"]["id"].startswith("lora-") and res["heldout_ppl_merged"] > 1
    # lr 0.01 for 4 steps on a random model: the merged weights really differ from the base.
    assert res["heldout_ppl_merged"] != pytest.approx(res["heldout_ppl_base"], rel=1e-6)

    out = tmp_path / "bundle"
    assert run(["build", "--profile", "x86-kiosk", "--out", str(out), "--base", str(tiny_base),
                "--adapter", str(trained), "--heldout", str(DATA), "--no-embedder", "--gate-tokens", "512",
                "--version", "5", "--parent-version", "4", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert "development signing key" in capsys.readouterr().err or r["dev_key_created"]
    m = bundle.verify(out)  # the dev key was trusted in this (isolated) home
    assert m.version == 5 and m.parent_version == 4 and m.quantization == "int8"
    assert m["adapter"]["sha256"] == json.loads((trained / "edgemem_adapter.json").read_text())["sha256"]
    assert m["base"]["id"].startswith("tiny") and len(m["base"]["sha256"]) == 64
    q = m.quality
    assert q["passed"] and q["ppl_increase"] <= 0.03 and q["agreement"] >= 0.9 and q["n_tokens"] > 100
    for k in ("layers", "hidden", "heads", "kv_heads", "head_dim", "vocab", "rope_theta", "rms_eps", "context_length"):
        assert k in m.architecture
    assert m["tokenizer_sha256"] == m.files["tokenizer.json"]["sha256"]
    assert m["build"]["size_bytes"] == sum(e["size"] for e in m.files.values())
    assert bundle.verify(out.with_name("bundle.tar")).version == 5
    assert not (tmp_path / ".bundle.work").exists()


@pytest.fixture(scope="module")
def int8_bundle(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from edgemem import signing_keys

    root = tmp_path_factory.mktemp("int8")
    priv, pub = signing_keys.save_keypair(signing_keys.generate(), root / "k")
    assert run(["build", "--profile", "pi-5", "--out", str(root / "b"), "--base", str(tiny_base), "--key", str(priv),
                "--heldout", str(DATA), "--no-embedder", "--gate-tokens", "512"]) == 0
    return root / "b", pub


def test_one_changed_byte_in_every_file_or_the_manifest_fails_verify(int8_bundle: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    src, pub = int8_bundle
    assert bundle.verify(src, [pub]).profile == "pi-5"
    names = sorted(bundle.read_manifest(src).files) + ["manifest.json"]
    assert {"model.onnx", "model.onnx.data", "tokenizer.json"} <= set(names)
    for rel in names:
        copy = tmp_path / rel.replace("/", "_")
        shutil.copytree(src, copy)
        p = copy / rel
        data = bytearray(p.read_bytes())
        if not data:  # an empty file (e.g. no external weights in a tiny graph): one added byte
            data = bytearray(b"\0")
        else:
            i = data.find(b'"version"') + 11 if rel == "manifest.json" else len(data) // 3
            data[i] ^= 0x01
        p.write_bytes(bytes(data))
        with pytest.raises(BundleError):
            bundle.verify(copy, [pub])
        assert run_verify(copy, pub) == 1


def run_verify(path: Path, pub: Path) -> int:
    from edgemem.cli.main import run as edgemem_run

    return edgemem_run(["verify", str(path), "--key", str(pub)])


def test_failing_gate_writes_nothing_unless_forced(tiny_base: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    strict = tmp_path / "strict.toml"
    text = (Path(__file__).resolve().parents[1] / "firmware_profiles" / "pi-zero-2w.toml").read_text()
    strict.write_text(text.replace("max_ppl_increase = 0.08", "max_ppl_increase = 0.0")
                      .replace("min_agreement = 0.90", "min_agreement = 1.0"))
    out = tmp_path / "b"
    args = ["build", "--profile", str(strict), "--out", str(out), "--base", str(tiny_base), "--heldout", str(DATA),
            "--no-embedder", "--gate-tokens", "256"]
    assert run(args) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: quality gate failed") and "no bundle written" in lines[-1]
    assert sum(line.startswith("error") for line in lines) == 1 and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "b.tar").exists()
    assert run(args + ["--force", "--json"]) == 0
    m = bundle.verify(out)
    assert m.quantization == "int4" and m.quality["forced"] and not m.quality["passed"]
    assert m.quality["reasons"]


def test_build_errors_are_one_line(tiny_base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["build", "--profile", "no-such-board", "--out", str(tmp_path / "x"), "--base", str(tiny_base)]) == 1
    assert "no firmware profile 'no-such-board'" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "f").write_text("x")
    assert run(["build", "--profile", "pi-5", "--out", str(tmp_path / "taken"), "--base", str(tiny_base)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_keygen_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgemem import signing_keys

    assert run(["keygen", "--out", str(tmp_path / "release.key"), "--trust", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert (tmp_path / "release.key").stat().st_mode & 0o777 == 0o600
    assert r["key_id"] in signing_keys.trusted_keys()
    assert run(["keygen", "--out", str(tmp_path / "release.key")]) == 2
