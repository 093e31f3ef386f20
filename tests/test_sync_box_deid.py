"""Outbox encryption to the host key, and the de-identification rules (and their documented limits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemem.sync import box
from edgemem.sync.deid import Deidentifier


@pytest.fixture
def host(tmp_path: Path) -> tuple[Path, Path]:
    return box.generate_host_keypair(tmp_path / "host.key")


def test_seal_roundtrip_binds_aad_and_key(host: tuple[Path, Path], tmp_path: Path) -> None:
    priv, pub = host
    secret = "Greta's penicillin allergy".encode()
    blob = box.seal(secret, box.load_public(pub), aad=b"manifest-1")
    assert secret not in blob
    assert box.open_sealed(blob, box.load_private(priv), aad=b"manifest-1") == secret
    # Each package has its own ephemeral key: same input, different bytes.
    assert box.seal(secret, box.load_public(pub), aad=b"m") != box.seal(secret, box.load_public(pub), aad=b"m")
    with pytest.raises(box.BoxError, match="manifest swapped"):
        box.open_sealed(blob, box.load_private(priv), aad=b"manifest-2")
    flipped = bytearray(blob)
    flipped[-5] ^= 1
    with pytest.raises(box.BoxError, match="altered"):
        box.open_sealed(bytes(flipped), box.load_private(priv), aad=b"manifest-1")
    with pytest.raises(box.BoxError, match="truncated"):
        box.open_sealed(blob[:40], box.load_private(priv), aad=b"manifest-1")
    other, _ = box.generate_host_keypair(tmp_path / "other.key")
    with pytest.raises(box.BoxError, match="not to this key"):
        box.open_sealed(blob, box.load_private(other), aad=b"manifest-1")


def test_key_files_are_private_and_validated(host: tuple[Path, Path], tmp_path: Path) -> None:
    priv, pub = host
    assert priv.stat().st_mode & 0o777 == 0o600
    bad = tmp_path / "bad.pub"
    bad.write_text("not hex")
    with pytest.raises(box.BoxError, match="32-byte X25519"):
        box.load_public(bad)
    with pytest.raises(box.BoxError, match="not found"):
        box.load_public(tmp_path / "missing.pub")


@pytest.mark.parametrize("text, gone, kept", [
    ("Hi, my name is Greta Lindqvist.", ["Greta", "Lindqvist"], ["Hi, my name is"]),
    ("I live at 42 Maple Street, call me on +44 20 7946 0958.", ["42 Maple", "7946"], ["I live at"]),
    ("Write to greta.l@example.com please", ["greta.l", "example.com"], ["please"]),
    ("I was born on 12 March 1985, DOB 03/12/1985.", ["12 March 1985", "03/12/1985"], ["born on"]),
    ("Born March 3rd, 1985 in Hauptstraße 12, 10115 Berlin", ["March 3rd", "Hauptstraße", "10115"], ["Born"]),
    ("My patient number is AB-12345; SSN 123-45-6789.", ["AB-12345", "123-45-6789"], ["My"]),
    ("Dr. Okafor and Sarah said so.", ["Okafor", "Sarah"], ["said so"]),
])
def test_deid_removes_identifiers(text: str, gone: list[str], kept: list[str]) -> None:
    out = Deidentifier()(text)
    for g in gone:
        assert g not in out, out
    for k in kept:
        assert k in out, out


def test_deid_keeps_medical_content_and_known_ids() -> None:
    d = Deidentifier(known=["patient-7781", "Ingrid"])
    text = ("I am allergic to penicillin, take 500 mg metformin twice, blood pressure 140/90, "
            "fever of 39 degrees since 2019. I am patient-7781, ingrid to friends.")
    out = d(text)
    for k in ("allergic to penicillin", "500 mg metformin", "140/90", "39 degrees", "since 2019"):
        assert k in out
    assert "patient-7781" not in out and "ingrid" not in out.lower()
    assert d.counts["ID"] == 2


def test_deid_limits_are_real() -> None:
    # Documented limit: an uncued, lower-case name that is not in the list passes through.
    assert "zebulon" in Deidentifier()("zebulon has a cough")
