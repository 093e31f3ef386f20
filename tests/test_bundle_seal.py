"""Sealed starts: a bundle verified in full once is re-checked cheaply, and tampering still fails.

The seal (edgemem.seal) may only ever make a start *faster*: whenever it does not vouch for the
folder exactly, the full verification runs and refuses what it always refused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgemem import bundle, seal
from edgemem.engine import Engine
from edgemem.errors import BundleError
from edgemem.home import Home


@pytest.fixture()
def sealed_copy(tiny_bundle: Path, _isolated_home: Path, tmp_path: Path) -> tuple[Path, Home]:
    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle, copy)
    home = Home(_isolated_home)
    assert bundle.sealed(copy, home) is None  # never verified here
    bundle.verify(copy, None, home, seal=True)
    return copy, home


def flip_byte_keep_mtime(path: Path, at: int) -> None:
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # an attacker puts the mtime back


def test_sealed_folder_is_accepted_with_the_verified_manifest(sealed_copy: tuple[Path, Home]) -> None:
    copy, home = sealed_copy
    got = bundle.sealed(copy, home)
    assert got is not None and got.data == bundle.verify(copy, None, home).data and got.root == copy
    key = home.keys / "seal.key"
    assert key.stat().st_mode & 0o077 == 0


def test_the_engine_uses_the_seal_and_the_child_seals_on_first_start(tiny_bundle: Path, _isolated_home: Path,
                                                                     tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle, copy)
    home = Home(_isolated_home)
    Engine.from_bundle(copy, home=home)  # full check in the child, which seals
    assert seal.record_path(home, copy).is_file() and bundle.sealed(copy, home) is not None
    engine = Engine.from_bundle(copy, home=home)  # the sealed start
    assert engine.manifest.version == bundle.read_manifest(copy).version


def test_a_tampered_file_with_its_mtime_put_back_is_refused_before_use(sealed_copy: tuple[Path, Home]) -> None:
    copy, home = sealed_copy
    data = copy / "model.onnx.data"
    flip_byte_keep_mtime(data, data.stat().st_size // 2)
    assert bundle.sealed(copy, home) is None  # ctime moved: no user-space call sets it back
    with pytest.raises(BundleError, match="sha256"):
        Engine.from_bundle(copy, home=home)


def test_a_write_that_keeps_every_stat_field_is_caught_by_the_sampled_digests(sealed_copy: tuple[Path, Home]) -> None:
    # A raw block-device write leaves size, mtime, ctime and inode alone. Simulated here by
    # re-sealing the new stat figures with the device key but the old block digests.
    copy, home = sealed_copy
    target = "tokenizer.json"  # small: every block is sampled
    flip_byte_keep_mtime(copy / target, 10)
    path = seal.record_path(home, copy)
    rec = json.loads(path.read_bytes())
    st = (copy / target).stat()
    rec["files"][target].update(size=st.st_size, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns, ino=st.st_ino)
    body = {k: v for k, v in rec.items() if k != "mac"}
    rec["mac"] = seal._mac((home.keys / "seal.key").read_bytes(), body)
    path.write_bytes(seal._canonical(rec))
    assert bundle.sealed(copy, home) is None
    with pytest.raises(BundleError, match="sha256"):
        Engine.from_bundle(copy, home=home)


def test_a_forged_or_stale_seal_is_ignored(sealed_copy: tuple[Path, Home], tmp_path: Path) -> None:
    copy, home = sealed_copy
    path = seal.record_path(home, copy)
    good = path.read_bytes()
    rec = json.loads(good)
    rec["files"]["model.onnx.data"]["blocks"][0] = "0" * 32
    path.write_bytes(seal._canonical(rec))  # changed without the device key: MAC fails
    assert bundle.sealed(copy, home) is None
    path.write_bytes(good)
    assert bundle.sealed(copy, home) is not None
    # An unlisted file appears: the full check must see it.
    (copy / "extra.bin").write_bytes(b"x")
    assert bundle.sealed(copy, home) is None
    with pytest.raises(BundleError, match="unlisted"):
        Engine.from_bundle(copy, home=home)
    (copy / "extra.bin").unlink()
    assert bundle.sealed(copy, home) is not None
    # The signing key is no longer trusted: the seal no longer vouches, the full check refuses.
    for pub in home.trusted_keys.glob("*.pub"):
        pub.unlink()
    assert bundle.sealed(copy, home) is None
    with pytest.raises(BundleError, match="trust"):
        Engine.from_bundle(copy, home=home)


def test_a_seal_names_one_folder(sealed_copy: tuple[Path, Home], tmp_path: Path) -> None:
    copy, home = sealed_copy
    moved = tmp_path / "moved"
    shutil.copytree(copy, moved)
    shutil.copy2(seal.record_path(home, copy), seal.record_path(home, moved))  # the record is for another path
    assert bundle.sealed(moved, home) is None
