"""Patient identification a clinic can choose (issue 18, finding 2), against a real server.

The review opened a patient's memories with their number alone, swept 30 numbers in 1.1 s, and
each try left a patient record. With ``identify = "number+pin"`` (and the others) a wrong secret
is a 401 and an audit entry, tries back off and lock out per patient and per kiosk, and no patient
record exists before identification succeeds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from serve_helpers import Kiosk, running_kiosk


def kiosk_with(built: Any, home: Path, mode: str, **extra: Any) -> Any:
    return running_kiosk(built, home, identify=mode, identify_backoff_s=0.5, identify_lockout_s=60,
                         identify_max_failures=3, **extra)


@pytest.fixture(scope="module")
def pin_kiosk(_tiny_bundle_built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kiosk]:
    with kiosk_with(_tiny_bundle_built, tmp_path_factory.mktemp("pin-home"), "number+pin",
                    identify_kiosk_max_failures=8) as k:
        yield k


def start(k: Kiosk, patient: str, secret: Any = None) -> httpx.Response:
    body: dict[str, Any] = {"patient": patient}
    if secret is not None:
        body["secret"] = secret
    return httpx.post(k.url + "/api/session", json=body)


def users(k: Kiosk) -> set[str]:
    rt = k.runtime
    return set(rt.on_memory(lambda: list(rt.memory.iter_users())).result())


def failures(k: Kiosk) -> list[dict[str, Any]]:
    from edgemem.privacy.audit import AuditLog

    return [e for e in AuditLog(k.runtime.home).entries() if e["action"] == "identify_failed"]


def test_a_pin_is_set_at_the_first_visit_and_needed_after(pin_kiosk: Kiosk) -> None:
    k = pin_kiosk
    assert httpx.get(k.url + "/api/config").json()["identify"] == "number+pin"
    assert start(k, "B-2002").status_code == 400  # the number alone no longer opens anything
    assert "B-2002" not in users(k)
    first = start(k, "B-2002", "4821")
    assert first.status_code == 200
    httpx.post(k.url + "/api/session/end", headers={"Authorization": f"Bearer {first.json()['token']}"})
    before = len(failures(k))
    wrong = start(k, "B-2002", "1111")
    assert wrong.status_code == 401 and "Traceback" not in wrong.text
    assert len(failures(k)) == before + 1  # an audit entry per failure, pseudonymous
    assert "B-2002" not in k.runtime.home.audit_log.read_text()
    time.sleep(0.6)
    again = start(k, "B-2002", "4821")
    assert again.status_code == 200, again.text
    httpx.post(k.url + "/api/session/end", headers={"Authorization": f"Bearer {again.json()['token']}"})
    raw = (k.runtime.home.root / "identify.json").read_text()
    assert '"4821"' not in raw and "B-2002" not in raw  # scrypt hashes under pseudonyms


def test_wrong_pins_back_off_then_lock_the_patient_out(pin_kiosk: Kiosk) -> None:
    k = pin_kiosk
    ok = start(k, "C-3003", "2468")
    assert ok.status_code == 200
    httpx.post(k.url + "/api/session/end", headers={"Authorization": f"Bearer {ok.json()['token']}"})
    assert start(k, "C-3003", "0000").status_code == 401
    fast = start(k, "C-3003", "0001")  # at once: the backoff says wait
    assert fast.status_code == 429 and int(fast.headers["Retry-After"]) >= 1
    time.sleep(0.6)
    assert start(k, "C-3003", "0002").status_code == 401
    time.sleep(1.1)  # the second failure doubled the wait
    assert start(k, "C-3003", "0003").status_code == 401
    time.sleep(0.3)
    locked = start(k, "C-3003", "2468")  # even the right PIN, once locked out
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked"
    assert failures(k)[-1]["locked"] is True


def test_a_known_number_without_a_pin_cannot_be_claimed_at_the_kiosk(pin_kiosk: Kiosk) -> None:
    k = pin_kiosk
    h = k.admin_headers()
    s = httpx.post(k.url + "/api/admin/sessions", headers=h, json={"user": "D-4004"}).json()
    httpx.post(k.url + "/api/admin/sessions/end", headers=h, json={"token": s["token"]})
    claimed = start(k, "D-4004", "9999")
    assert claimed.status_code == 401 and claimed.json()["error"]["code"] == "not_enrolled"
    set_pin = httpx.post(k.url + "/api/admin/patients/D-4004/credential", headers=h, json={"secret": "5555"})
    assert set_pin.status_code == 200
    time.sleep(0.2)
    assert start(k, "D-4004", "5555").status_code == 200


def test_a_sweep_over_many_numbers_locks_the_kiosk_and_creates_no_one(
        _tiny_bundle_built: tuple[Path, Path], tmp_path: Path) -> None:
    with kiosk_with(_tiny_bundle_built, tmp_path / "home", "badge", identify_kiosk_max_failures=10) as k:
        codes = [start(k, f"9{n:04d}", "not-the-badge-secret").status_code for n in range(30)]
        assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
        assert users(k) == set()  # no record for a failed identification
        assert len(failures(k)) == 10
        h = k.admin_headers()
        assert httpx.post(k.url + "/api/admin/patients/E-5005/credential", headers=h,
                          json={"secret": "badge-secret-123"}).status_code == 200
        assert start(k, "E-5005", "badge-secret-123").status_code == 429  # the kiosk waits it out


def test_number_plus_dob(_tiny_bundle_built: tuple[Path, Path], tmp_path: Path) -> None:
    with kiosk_with(_tiny_bundle_built, tmp_path / "home", "number+dob") as k:
        assert start(k, "F-6006", "23/04/1980").status_code == 400
        assert start(k, "F-6006", "1980-04-23").status_code == 200
        assert start(k, "F-6006", "1980-04-24").status_code == 401


def test_the_kiosk_page_s_first_visit_asks_twice_and_a_typo_sets_nothing(pin_kiosk: Kiosk) -> None:
    """The page sends ``enrol: false``: a first visit answers 409 and sets nothing; the PIN typed
    twice then sets it, and two entries that differ are a 400 that sets nothing and counts no
    failure. Integrations that send the PIN alone keep the old behaviour (tests above)."""
    k = pin_kiosk
    path = k.runtime.home.root / "identify.json"
    before = path.read_text() if path.exists() else ""
    ask = httpx.post(k.url + "/api/session", json={"patient": "G-7007", "secret": "1357", "enrol": False})
    assert ask.status_code == 409 and ask.json()["error"]["code"] == "set_secret"
    typo = httpx.post(k.url + "/api/session", json={"patient": "G-7007", "secret": "1357", "secret_again": "1358",
                                                    "enrol": False})
    assert typo.status_code == 400 and typo.json()["error"]["code"] == "secret_mismatch"
    assert (path.read_text() if path.exists() else "") == before and "G-7007" not in users(k)
    fails = len(failures(k))
    ok = httpx.post(k.url + "/api/session", json={"patient": "G-7007", "secret": "1357", "secret_again": "1357",
                                                  "enrol": False})
    assert ok.status_code == 200, ok.text
    assert len(failures(k)) == fails
    httpx.post(k.url + "/api/session/end", headers={"Authorization": f"Bearer {ok.json()['token']}"})
    later = httpx.post(k.url + "/api/session", json={"patient": "G-7007", "secret": "1357", "enrol": False})
    assert later.status_code == 200  # enrolled: the PIN once
    httpx.post(k.url + "/api/session/end", headers={"Authorization": f"Bearer {later.json()['token']}"})
    assert httpx.post(k.url + "/api/session", json={"patient": "G-7007", "secret": "1357",
                                                    "enrol": "no"}).status_code == 400


def test_failure_counts_are_read_back_capped_and_a_broken_file_pauses_the_kiosk(tmp_path: Path) -> None:
    """The store behind the restart test (test_serve_process_hardening): a new Identifier on the
    same home sees the lockout; a clock set back cannot stretch it past one lockout_s; a file
    that cannot be read closes the kiosk for a window instead of opening it."""
    from edgemem.home import Home
    from edgemem.serve.http import HTTPError
    from edgemem.serve.identify import FAILURES_FILE, Identifier

    root = Home(tmp_path / "home").ensure().root
    now = [1_000_000.0]
    first = Identifier(root, "number+pin", max_failures=2, lockout_s=600, clock=lambda: now[0])
    first.enrol("H-8008", "2468")
    for wrong in ("0000", "1111"):
        with pytest.raises(HTTPError) as e:
            first.check("H-8008", wrong, known=True)
        assert e.value.status == 401
        now[0] += 5
    again = Identifier(root, "number+pin", max_failures=2, lockout_s=600, clock=lambda: now[0])
    with pytest.raises(HTTPError) as e:
        again.check("H-8008", "2468", known=True)
    assert e.value.status == 429 and e.value.code == "locked" and 500 < (e.value.retry_after or 0) <= 601
    back = [now[0] - 30 * 86400]  # the clock set back a month: still locked, for one lockout at most
    skewed = Identifier(root, "number+pin", max_failures=2, lockout_s=600, clock=lambda: back[0])
    with pytest.raises(HTTPError) as e:
        skewed.check("H-8008", "2468", known=True)
    assert e.value.code == "locked" and (e.value.retry_after or 0) <= 601
    (root / FAILURES_FILE).write_text("{not json", encoding="utf-8")
    broken = Identifier(root, "number+pin", clock=lambda: now[0])
    with pytest.raises(HTTPError) as e:
        broken.check("J-9009", "1357", known=False)
    assert e.value.code == "kiosk_locked"
