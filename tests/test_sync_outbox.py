"""The outbox: consent, de-identification, encryption to the host, incrementality, host-side reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemem.cli.main import run
from edgemem.home import Home
from edgemem.memory.service import MemoryService
from edgemem.sync import box
from edgemem.sync.outbox import OutboxError, read_package, write_outbox
from export.dialogues import read_jsonl
from export.outbox_reader import outbox_to_jsonl, read_outbox

# Words that only the patient without consent ever says.
SECRET = ["Quetzalcoatl", "Vasquez-Moreau", "hydroxyzine-omega", "Brimblecombe"]
SESSIONS = {
    "alice-77": [("user", "My name is Alice Hartmann, I live at 12 Linden Street. I take metformin for diabetes."),
                 ("assistant", "Thank you. Keep taking metformin with meals and check your sugar.")],
    "bob-12": [("user", "I have had a headache and a mild fever for three days. Call me on 0176 5550123."),
               ("assistant", "Please drink plenty of fluids and rest.")],
    "carol-3": [("user", "I am Quetzalcoatl Vasquez-Moreau and I take hydroxyzine-omega at Brimblecombe farm."),
                ("assistant", "Noted, Quetzalcoatl: hydroxyzine-omega can make you drowsy.")],
}


def chat(svc: MemoryService, user: str, turns: list[tuple[str, str]], t0: float = 1_700_000_000.0) -> str:
    sid = svc.start_session(user, time=t0)
    for i, (role, text) in enumerate(turns):
        svc.add_turn(user, sid, role, text, time=t0 + i)
    svc.end_session(user, sid, time=t0 + 10)
    return sid


@pytest.fixture
def host(tmp_path: Path) -> tuple[Path, Path]:
    return box.generate_host_keypair(tmp_path / "host" / "host.key")


@pytest.fixture
def device() -> Home:
    home = Home.resolve(None).ensure()
    with MemoryService(home, None) as svc:
        for user, turns in SESSIONS.items():
            chat(svc, user, turns)
        svc.set_consent("alice-77", True)
        svc.set_consent("bob-12", True)
        # carol-3 never consented
    return home


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_only_consenting_patients_leave_the_device(device: Home, host: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "stick"
    m = write_outbox(device, out, host_key=host[1])
    assert m["counts"]["dialogues"] == 2 and m["counts"]["not_consenting"] == 1
    raw = _all_bytes(out)
    manifest, records = read_package(out / f"{m['package_id']}.json", box.load_private(host[0]))
    plain = json.dumps(records, ensure_ascii=False)
    for word in SECRET + ["carol-3"]:
        assert word.encode() not in raw and word.lower().encode() not in raw.lower()
        assert word not in plain and word.lower() not in plain.lower()
    # The consenting patients' medical content is there (so the check above could fail) ...
    assert "metformin" in plain and "fever for three days" in plain
    # ... but it is encrypted on the stick, and de-identified inside.
    assert b"metformin" not in raw
    for ident in ("Alice", "Hartmann", "12 Linden Street", "0176 5550123", "alice-77", "bob-12"):
        assert ident not in plain, ident
    assert manifest["deid_counts"]["NAME"] >= 1 and manifest["deid_counts"]["PHONE"] >= 1
    patients = {r["patient"] for r in records}
    assert len(patients) == 2 and all(p.startswith("p-") for p in patients)


def test_outbox_is_incremental_and_chained(device: Home, host: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "stick"
    first = write_outbox(device, out, host_key=host[1])
    again = write_outbox(device, out, host_key=host[1])
    assert again.get("empty") is True
    with MemoryService(device, None) as svc:
        chat(svc, "bob-12", [("user", "The fever is gone but I still cough at night."),
                             ("assistant", "Good. Honey in warm water can ease a night cough.")], t0=1_700_100_000.0)
        open_sid = svc.start_session("alice-77", time=1_700_200_000.0)
        svc.add_turn("alice-77", open_sid, "user", "Still talking...", time=1_700_200_001.0)
    second = write_outbox(device, out, host_key=host[1])
    assert second["previous_package_id"] == first["package_id"]
    assert second["counts"]["dialogues"] == 1 and second["counts"]["open_sessions_deferred"] == 1
    data = read_outbox(out, host[0])
    assert len(data.packages) == 2 and not data.gaps and data.duplicates == 0
    assert [d["messages"][0]["content"] for d in data.dialogues][-1].startswith("The fever is gone")


def test_host_reads_outbox_into_training_jsonl(device: Home, host: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "stick"
    write_outbox(device, out, host_key=host[1])
    stats = outbox_to_jsonl(out, host[0], tmp_path / "train" / "outbox.jsonl")
    assert stats["dialogues"] == 2 and stats["patients"] == 2
    dialogues = read_jsonl(tmp_path / "train" / "outbox.jsonl")  # the toolchain's own validator
    assert all(any(m["role"] == "assistant" for m in d.messages) for d in dialogues)


def test_wrong_host_key_and_tampering_are_refused(device: Home, host: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "stick"
    m = write_outbox(device, out, host_key=host[1])
    other, _ = box.generate_host_keypair(tmp_path / "other.key")
    with pytest.raises(box.BoxError, match="not to this key"):
        read_package(out / f"{m['package_id']}.json", box.load_private(other))
    mpath = out / f"{m['package_id']}.json"
    doctored = json.loads(mpath.read_text())
    doctored["counts"]["dialogues"] = 99
    mpath.write_text(json.dumps(doctored))
    with pytest.raises(box.BoxError, match="manifest swapped"):
        read_package(mpath, box.load_private(host[0]))


def test_cli_outbox_consent_and_missing_key(device: Home, host: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sync", "outbox", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no training-host key" in err[0]
    assert run(["sync", "pin-host", str(host[1])]) == 0
    assert run(["sync", "consent", "bob-12", "--no"]) == 0
    capsys.readouterr()
    assert run(["sync", "outbox", str(tmp_path / "s"), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["counts"]["dialogues"] == 1 and m["counts"]["not_consenting"] == 2
    with pytest.raises(OutboxError, match="no training-host key"):
        write_outbox(Home(tmp_path / "fresh"), tmp_path / "x")
