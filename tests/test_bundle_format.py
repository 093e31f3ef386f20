"""The bundle format on its own: signing, hashing, archive form, and every way to break it.

These use small synthetic files (no model) so each tamper case runs in milliseconds; the full
path with a real ONNX decoder is in test_export_pipeline.py.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from edgemem import bundle, signing_keys
from edgemem.cli.main import run
from edgemem.errors import BundleError
from edgemem.home import Home

FILES = {
    "model.onnx": b"\x08\x07fake-onnx" * 100,
    "model.onnx.data": os.urandom(4096),
    "tokenizer.json": b'{"model": {}}',
    "embedder/model.onnx": b"embedder-bytes" * 10,
    "embedder/tokenizer.json": b'{"vocab": []}',
}


def _manifest() -> dict:
    return {
        "version": 7, "parent_version": 6, "profile": "pi-5", "quantization": "int8",
        "model": {"family": "llama", "architecture": {"layers": 2}, "io": {}, "special_tokens": {"bos": 1},
                  "chat_template": "{{ x }}", "stop_token_ids": [2]},
        "base": {"id": "test", "sha256": "0" * 64}, "adapter": None,
        "quality": {"ppl_fp32": 10.0, "ppl_quant": 10.1, "passed": True, "forced": False},
        "golden": {"text": "héllo", "max_ppl": 12.0},
    }


@pytest.fixture()
def signed(tmp_path: Path) -> tuple[Path, object]:
    root = tmp_path / "b"
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    key = signing_keys.generate()
    bundle.write(root, _manifest(), key)
    return root, key


def test_roundtrip_lists_every_file_and_verifies(signed: tuple[Path, object]) -> None:
    root, key = signed
    m = bundle.verify(root, [key.public_key()])
    assert set(m.files) == set(FILES)
    for rel, data in FILES.items():
        assert m.files[rel]["size"] == len(data)
    assert m.version == 7 and m.parent_version == 6 and m.profile == "pi-5"
    assert m.key_id == signing_keys.key_id(key.public_key())
    assert m["format_version"] == bundle.FORMAT_VERSION
    assert m.path("embedder/model.onnx").read_bytes() == FILES["embedder/model.onnx"]


def test_signature_is_over_canonical_json(signed: tuple[Path, object]) -> None:
    root, key = signed
    data = json.loads((root / "manifest.json").read_text())
    sig = bytes.fromhex(data.pop("signature")["value"])
    key.public_key().verify(sig, bundle.canonical_json(data))  # raises if not
    # Re-serializing the manifest differently on disk does not break it: the bytes signed are canonical.
    (root / "manifest.json").write_text(json.dumps(json.loads((root / "manifest.json").read_text())))
    bundle.verify(root, [key.public_key()])


@pytest.mark.parametrize("rel", sorted(FILES))
def test_one_changed_byte_in_any_file_fails(signed: tuple[Path, object], rel: str) -> None:
    root, key = signed
    p = root / rel
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=rf"{rel}.*sha256"):
        bundle.verify(root, [key.public_key()])


def test_changed_manifest_byte_fails(signed: tuple[Path, object]) -> None:
    root, key = signed
    text = (root / "manifest.json").read_text()
    assert '"version": 7' in text
    (root / "manifest.json").write_text(text.replace('"version": 7', '"version": 8'))
    with pytest.raises(BundleError, match="bad signature"):
        bundle.verify(root, [key.public_key()])


def test_every_manifest_value_is_covered(signed: tuple[Path, object]) -> None:
    root, key = signed
    data = json.loads((root / "manifest.json").read_text())
    data["golden"]["max_ppl"] = 1e9
    (root / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="bad signature"):
        bundle.verify(root, [key.public_key()])


def test_truncated_file_and_missing_and_extra_files(signed: tuple[Path, object]) -> None:
    root, key = signed
    pub = [key.public_key()]
    (root / "extra.txt").write_text("nobody signed me")
    with pytest.raises(BundleError, match="unlisted file extra.txt"):
        bundle.verify(root, pub)
    (root / "extra.txt").unlink()
    with open(root / "model.onnx.data", "ab") as f:
        f.write(b"x")
    with pytest.raises(BundleError, match="model.onnx.data has 4097 bytes"):
        bundle.verify(root, pub)
    (root / "model.onnx.data").unlink()
    with pytest.raises(BundleError, match="model.onnx.data is missing"):
        bundle.verify(root, pub)


def test_symlink_in_bundle_is_refused(signed: tuple[Path, object]) -> None:
    root, key = signed
    os.symlink(root / "tokenizer.json", root / "link.json")
    with pytest.raises(BundleError, match="regular files"):
        bundle.verify(root, [key.public_key()])


def test_untrusted_key_and_no_keys(signed: tuple[Path, object]) -> None:
    root, key = signed
    other = signing_keys.generate()
    with pytest.raises(BundleError, match="does not trust"):
        bundle.verify(root, [other.public_key()])
    with pytest.raises(BundleError, match="no trusted signing keys"):
        bundle.verify(root, [])


def test_forged_signature_with_right_key_id_fails(signed: tuple[Path, object]) -> None:
    root, key = signed
    data = json.loads((root / "manifest.json").read_text())
    attacker = signing_keys.generate()
    forged = bundle.sign({**data, "profile": "evil"}, attacker)
    forged["signature"]["key_id"] = data["signature"]["key_id"]
    (root / "manifest.json").write_text(json.dumps(forged))
    with pytest.raises(BundleError, match="bad signature"):
        bundle.verify(root, [key.public_key()])


def test_bad_manifest_shapes(tmp_path: Path, signed: tuple[Path, object]) -> None:
    root, key = signed
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        bundle.verify(root, [key.public_key()])
    (root / "manifest.json").write_text(json.dumps({"format_version": 1}))
    with pytest.raises(BundleError, match="lacks"):
        bundle.verify(root, [key.public_key()])
    with pytest.raises(BundleError, match="no bundle"):
        bundle.verify(tmp_path / "nope", [key.public_key()])
    m = _manifest()
    m["files"] = {"../etc/passwd": {"sha256": "0" * 64, "size": 1}}
    m.update(format_version=1, created="x")
    (root / "manifest.json").write_text(json.dumps(bundle.sign(m, key)))
    with pytest.raises(BundleError, match="bad file path"):
        bundle.verify(root, [key.public_key()])


def test_archive_roundtrip_tamper_and_extract(signed: tuple[Path, object], tmp_path: Path) -> None:
    root, key = signed
    pub = [key.public_key()]
    tar = bundle.pack(root, tmp_path / "b.tar")
    assert bundle.pack(root, tmp_path / "b2.tar").read_bytes() == tar.read_bytes()  # reproducible
    m = bundle.verify(tar, pub)
    assert m.root is None and set(m.files) == set(FILES)
    assert bundle.read_manifest(tar).version == 7

    out = bundle.extract(tar, tmp_path / "x", pub)
    assert out.root == tmp_path / "x"
    assert (tmp_path / "x" / "embedder" / "tokenizer.json").read_bytes() == FILES["embedder/tokenizer.json"]

    # Flip one byte inside the archive's copy of model.onnx.data.
    raw = bytearray(tar.read_bytes())
    needle = FILES["model.onnx.data"][:64]
    i = bytes(raw).index(needle)
    raw[i + 10] ^= 0xFF
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="model.onnx.data does not match"):
        bundle.verify(bad, pub)
    with pytest.raises(BundleError, match="does not match"):
        bundle.extract(bad, tmp_path / "y", pub)
    assert not (tmp_path / "y").exists()

    # An archive with an extra member is refused.
    extra = tmp_path / "extra.tar"
    with tarfile.open(tar) as src, tarfile.open(extra, "w") as dst:
        for mem in src:
            dst.addfile(mem, src.extractfile(mem))
        info = tarfile.TarInfo("evil.sh")
        payload = b"echo hi"
        info.size = len(payload)
        import io

        dst.addfile(info, io.BytesIO(payload))
    with pytest.raises(BundleError, match="unlisted file evil.sh"):
        bundle.verify(extra, pub)
    (tmp_path / "junk.tar").write_bytes(b"junk" * 10)
    with pytest.raises(BundleError):
        bundle.verify(tmp_path / "junk.tar", pub)


def test_dev_key_is_created_once_trusted_and_private(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    key, created = signing_keys.dev_key(home)
    assert created
    key2, created2 = signing_keys.dev_key(home)
    assert not created2 and signing_keys.key_id(key2.public_key()) == signing_keys.key_id(key.public_key())
    assert (signing_keys.dev_key_path(home).stat().st_mode & 0o777) == 0o600
    assert set(signing_keys.trusted_keys(home)) == {signing_keys.key_id(key.public_key())}


def test_keypair_files_roundtrip_and_pem(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = signing_keys.generate()
    priv, pub = signing_keys.save_keypair(key, tmp_path / "k")
    assert pub.name == "k.pub" and (priv.stat().st_mode & 0o777) == 0o600
    assert signing_keys.key_id(signing_keys.load_private_key(priv).public_key()) == signing_keys.key_id(signing_keys.load_public_key(pub))
    pem = tmp_path / "k.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    assert signing_keys.key_id(signing_keys.load_private_key(pem).public_key()) == signing_keys.key_id(key.public_key())
    (tmp_path / "bad.key").write_text("zz")
    with pytest.raises(BundleError, match="not an ed25519 private key"):
        signing_keys.load_private_key(tmp_path / "bad.key")


def test_cli_verify_ok_json_and_one_line_failure(signed: tuple[Path, object], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root, key = signed
    _, pub = signing_keys.save_keypair(key, tmp_path / "signer.key")
    # Not trusted by the home yet: one line, non-zero.
    assert run(["verify", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "no trusted signing keys" in err
    assert run(["verify", str(root), "--key", str(pub), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["version"] == 7 and out["files"] == len(FILES)
    signing_keys.trust(key.public_key())  # the isolated test home now trusts it
    assert run(["verify", str(root)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")
    (root / "tokenizer.json").write_bytes(b"{}")
    assert run(["verify", str(root)]) == 1
    err = capsys.readouterr().err
    assert "tokenizer.json" in err and err.count("\n") == 1


def test_verify_isolated_is_verify_in_a_child(signed: tuple[Path, object], tmp_path: Path) -> None:
    """Engine.from_bundle checks in a child process (bundle.verify_isolated): same verdicts and the
    same trust root (the home's keys/trusted) as verify, the manifest it returns is the verified
    one, and the caller's process never imports cryptography or hashlib for it."""
    import subprocess
    import sys

    root, key = signed
    home = Home(tmp_path / "home")
    signing_keys.trust(key.public_key(), home)  # type: ignore[attr-defined]
    m = bundle.verify_isolated(root, home)
    assert m.data == bundle.verify(root, None, home).data and m.root == root

    with pytest.raises(BundleError, match="no trusted signing keys"):
        bundle.verify_isolated(root, Home(tmp_path / "empty-home"))
    signing_keys.trust(signing_keys.generate().public_key(), Home(tmp_path / "stranger"))
    with pytest.raises(BundleError, match="does not trust"):
        bundle.verify_isolated(root, Home(tmp_path / "stranger"))
    (root / "tokenizer.json").write_bytes(b'{"model": {"x": 1}}')
    with pytest.raises(BundleError, match="tokenizer.json has .* bytes|tokenizer.json does not match"):
        bundle.verify_isolated(root, home)

    code = ("import sys; from pathlib import Path; from edgemem import bundle; from edgemem.home import Home\n"
            "try:\n    bundle.verify_isolated(Path(sys.argv[1]), Home(Path(sys.argv[2])))\n"
            "except Exception as e:\n    print(type(e).__name__)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cryptography', 'hashlib', '_hashlib')))")
    out = subprocess.run([sys.executable, "-c", code, str(root), str(home.root)], capture_output=True, text=True,
                         check=True, cwd=str(Path(__file__).resolve().parent.parent)).stdout
    assert out.strip().splitlines()[-1] == "[]", out
