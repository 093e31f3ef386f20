"""Kiosk hardening (issue 18), against a real server: the tiny bundle, real memory, real uvicorn.

Each test here reproduces one finding of the security review and fails on the code before its fix:
the engine's KV cache leaking a patient's facts to a stranger, *Forget me* during a reply, 500s for
bad input, and cross-site requests.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from serve_helpers import Kiosk, running_kiosk, slow_replies


@pytest.fixture(scope="module")
def kiosk(_tiny_bundle_built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kiosk]:
    with running_kiosk(_tiny_bundle_built, tmp_path_factory.mktemp("harden-home"), queue_size=2,
                       request_timeout_s=60) as k:
        # These tests act while a reply is being generated: the model must write it, at length
        # (a card's reply is composed at once; the kiosk caps the model's small talk).
        k.runtime.assistant.care = None
        k.runtime.assistant.shape_model_replies = False
        yield k


def start(k: Kiosk, patient: str) -> dict[str, str]:
    r = httpx.post(k.url + "/api/session", json={"patient": patient})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}", "sid": r.json()["session_id"]}


def auth(s: dict[str, str]) -> dict[str, str]:
    return {"Authorization": s["Authorization"]}


def chat(k: Kiosk, text: str, headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    body = {"model": "edgemem", "max_tokens": 4, "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(k.url + "/v1/chat/completions", json=body, headers=headers or {}, timeout=60)


# Not a red flag (an emergency skips the engine, and the probe would measure nothing).
QUESTION = "Hello, I have a question about my diet."


def _first_chunk_ms(k: Kiosk, system: str) -> tuple[float, dict[str, Any]]:
    """Time to the first streamed content chunk of a token-less chat with ``system``."""
    body = {"model": "edgemem", "max_tokens": 1, "stream": True,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}]}
    t0 = time.perf_counter()
    first = None
    raw = []
    with httpx.stream("POST", k.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            raw.append(line)
            if first is None and '"content"' in line and '"content": ""' not in line:
                first = time.perf_counter()
    return ((first or time.perf_counter()) - t0) * 1000, {"lines": raw}


def test_a_patients_cached_prompt_never_answers_a_stranger(kiosk: Kiosk) -> None:
    """The review's probe: after patient B's session, a caller with no token sends the kiosk
    system prompt plus a guessed "Patient facts" block; the right guess must not reuse more of
    the engine's cache, or come back faster, than a wrong one."""
    rt = kiosk.runtime
    care, rt.assistant.care = rt.assistant.care, None  # the cache mechanics, without card guidance
    try:
        b = start(kiosk, "B-2002")
        assert chat(kiosk, "I am allergic to penicillin.", auth(b)).status_code == 200
        assert httpx.post(kiosk.url + "/api/session/end", headers=auth(b)).status_code == 200
        b = start(kiosk, "B-2002")  # the server now prefills B's prompt, facts included
        rt.queue.wait_idle(30)
        prefix = rt.on_memory(rt.assistant.next_prefix, "B-2002", b["sid"], rt.engine).result()
        right = prefix[0].content
        assert "Patient facts" in right and "penicillin" in right
        wrong = right.replace("penicillin", "ibuprofen")
        assert len(rt.engine.model.cached_ids) > 20  # B's prefix is in the cache while B is here
        assert httpx.post(kiosk.url + "/api/session/end", headers=auth(b)).status_code == 200

        reused: dict[str, list[int]] = {"right": [], "wrong": []}
        ttft: dict[str, list[float]] = {"right": [], "wrong": []}
        for _ in range(4):
            for name, system in (("right", right), ("wrong", wrong)):
                body = {"model": "edgemem", "max_tokens": 1,
                        "messages": [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}]}
                r = httpx.post(kiosk.url + "/v1/chat/completions", json=body, timeout=60)
                assert r.status_code == 200 and r.json()["edgemem"]["red_flag"] is None
                assert "prompt_tokens_details" not in r.json()["usage"]  # no cache figures for strangers
                assert "timing" not in r.json()["edgemem"]
                reused[name].append(rt.engine.last_stats.reused_tokens)
                ms, stream = _first_chunk_ms(kiosk, system)
                ttft[name].append(ms)
                assert not any('"timing"' in line or "cached_tokens" in line for line in stream["lines"])
        print(f"\nprobe: reused right {reused['right']} wrong {reused['wrong']}; time to first chunk "
              f"median right {statistics.median(ttft['right']):.1f} ms, wrong {statistics.median(ttft['wrong']):.1f} ms")
        assert reused["right"] == reused["wrong"] == [0] * 4  # each stranger starts from an empty cache
        # With the same (empty) cache both prefill the same prompt length: no systematic gap.
        assert abs(statistics.median(ttft["right"]) - statistics.median(ttft["wrong"])) < 50
    finally:
        rt.assistant.care = care


def test_forget_drops_the_cached_prefix_and_sessions_still_reuse_their_own(kiosk: Kiosk) -> None:
    rt = kiosk.runtime
    care, rt.assistant.care = rt.assistant.care, None
    try:
        s = start(kiosk, "C-3003")
        rt.queue.wait_idle(30)
        warmed = len(rt.engine.model.cached_ids)
        assert warmed > 20
        assert chat(kiosk, "I take metformin for diabetes.", auth(s)).status_code == 200
        assert rt.engine.last_stats.reused_tokens == warmed  # in-session reuse is kept
        r = chat(kiosk, "Should I drink more water?", auth(s))
        assert "prompt_tokens_details" not in r.json()["usage"]  # not even to the patient's own page
        assert rt.engine.last_stats.reused_tokens > warmed
        f = httpx.post(kiosk.url + "/api/session/forget", headers=auth(s), json={"confirm": True})
        assert f.status_code == 200
        rt.queue.wait_idle(30)
        assert len(rt.engine.model.cached_ids) == 0
    finally:
        rt.assistant.care = care


def test_the_end_of_a_session_drops_its_prefix_from_the_engine(kiosk: Kiosk) -> None:
    rt = kiosk.runtime
    a = start(kiosk, "D-4004")
    assert chat(kiosk, "I take lisinopril for my blood pressure.", auth(a)).status_code == 200
    rt.queue.wait_idle(30)
    assert "pressure" in rt.engine.tokenizer.decode(list(rt.engine.model.cached_ids))
    assert httpx.post(kiosk.url + "/api/session/end", headers=auth(a)).status_code == 200
    # The profile's model rehearsal of the closed session scores in borrowed cache rows on its
    # own thread (Engine.scratch) and gives them back when done: read the cache after it, not
    # halfway through its prompt (a race this test lost now and then under load).
    deadline = time.monotonic() + 120
    while rt.rehearsals_pending and time.monotonic() < deadline:
        time.sleep(0.05)
    rt.queue.wait_idle(30)
    assert len(rt.engine.model.cached_ids) == 0


def test_the_admin_token_sees_cache_figures(kiosk: Kiosk) -> None:
    h = kiosk.admin_headers()
    first = chat(kiosk, "What helps a sore throat?", h).json()
    second = chat(kiosk, "What helps a sore throat?", h).json()
    assert "timing" in first["edgemem"]
    assert second["usage"]["prompt_tokens_details"]["cached_tokens"] > 0


def _stream_then(k: Kiosk, s: dict[str, str], action: Any) -> tuple[list[str], float]:
    """Stream a long reply in session ``s``; after three pieces run ``action()``; return the
    lines that came after it and how long the stream took to end once it returned. The tiny
    model is slowed to a Pi's pace per piece: on a loaded machine its 400 pieces could otherwise
    all be out before the action's request arrives, and the test would race."""
    real = k.runtime.assistant.generate
    slow_replies(k, 0.01)
    try:
        return _stream_then_inner(k, s, action)
    finally:
        k.runtime.assistant.generate = real  # type: ignore[method-assign]


def _stream_then_inner(k: Kiosk, s: dict[str, str], action: Any) -> tuple[list[str], float]:
    body = {"model": "edgemem", "stream": True, "max_tokens": 400,
            "messages": [{"role": "user", "content": "Please tell me everything about headaches."}]}
    after: list[str] = []
    seen = 0
    done_at = None
    with httpx.stream("POST", k.url + "/v1/chat/completions", json=body, headers=auth(s), timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if done_at is not None:
                after.append(line)
            elif '"content"' in line:
                seen += 1
                if seen == 3:
                    action()
                    done_at = time.perf_counter()
    assert done_at is not None, "the reply ended before the action"
    return after, time.perf_counter() - done_at


def _patients(rt: Any) -> set[str]:
    return set(rt.on_memory(lambda: list(rt.memory.iter_users())).result())


def test_forget_during_a_reply_stops_it_and_the_patient_stays_forgotten(kiosk: Kiosk) -> None:
    rt = kiosk.runtime
    care, rt.assistant.care = rt.assistant.care, None  # a plain stream, piece by piece
    try:
        s = start(kiosk, "F-6006")
        assert chat(kiosk, "I take lisinopril for my blood pressure.", auth(s)).status_code == 200

        def forget() -> None:
            r = httpx.post(kiosk.url + "/api/session/forget", headers=auth(s), json={"confirm": True})
            assert r.status_code == 200

        after, took = _stream_then(kiosk, s, forget)
        rt.queue.wait_idle(30)
        assert rt.engine.last_stats.new_tokens < 400  # the engine stopped, not the reply's end
        assert any("session_ended" in x for x in after)
        assert took < 5
        assert "F-6006" not in _patients(rt)  # not re-created by the reply's storage
        mems = httpx.get(kiosk.url + "/api/admin/patients/F-6006/memories", headers=kiosk.admin_headers())
        assert mems.json()["memories"] == []
    finally:
        rt.assistant.care = care


def test_ending_a_session_during_a_reply_stores_nothing_of_it(kiosk: Kiosk) -> None:
    rt = kiosk.runtime
    care, rt.assistant.care = rt.assistant.care, None
    try:
        s = start(kiosk, "G-7007")

        def end() -> None:
            assert httpx.post(kiosk.url + "/api/session/end", headers=auth(s)).status_code == 200

        after, _ = _stream_then(kiosk, s, end)
        rt.queue.wait_idle(30)
        assert any("session_ended" in x for x in after)
        turns = rt.on_memory(rt.memory.export, "G-7007").result()["turns"]
        assert [t["role"] for t in turns] == ["user"]  # the question, not the cut-off reply
        # A write to the ended session is refused, and no session is opened by it.
        with pytest.raises(Exception, match="ended"):
            rt.on_memory(rt.memory.add_turn, "G-7007", s["sid"], "user", "late text").result()
        with pytest.raises(Exception, match="no patient"):
            rt.on_memory(rt.memory.add_turn, "nobody-1", s["sid"], "user", "late text").result()
        assert "nobody-1" not in _patients(rt)
    finally:
        rt.assistant.care = care


def test_log_lines_name_patients_by_pseudonym(kiosk: Kiosk, caplog: pytest.LogCaptureFixture) -> None:
    from edgemem.privacy.audit import AuditLog

    rt = kiosk.runtime
    real = rt.memory.list_memories

    def broken(user: str, *a: Any, **kw: Any) -> Any:
        raise RuntimeError(f"disk trouble while reading {user}")

    rt.memory.list_memories = broken  # type: ignore[method-assign]
    try:
        with caplog.at_level("WARNING"):  # every logger: uvicorn's "Exception in ASGI application" too
            r = httpx.get(kiosk.url + "/api/admin/patients/B-2002/memories", headers=kiosk.admin_headers())
            time.sleep(0.3)
    finally:
        rt.memory.list_memories = real  # type: ignore[method-assign]
    assert r.status_code == 500 and "B-2002" not in r.text
    logged = "\n".join(rec.getMessage() + (str(rec.exc_info) if rec.exc_info else "") for rec in caplog.records)
    assert "unexpected error" in logged and "RuntimeError" in logged
    assert "B-2002" not in logged
    assert AuditLog(rt.home).pseudonym("B-2002") in logged


def test_a_client_that_leaves_mid_body_is_not_a_traceback(kiosk: Kiosk, caplog: pytest.LogCaptureFixture) -> None:
    import socket
    from urllib.parse import urlparse

    u = urlparse(kiosk.url)
    with caplog.at_level("WARNING"):
        with socket.create_connection((u.hostname, u.port)) as sock:
            sock.sendall(b"POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"patient\": ")
            time.sleep(0.2)
        time.sleep(0.5)
        assert httpx.get(kiosk.url + "/healthz").status_code == 200
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()
                or "unexpected error" in r.getMessage()], [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("extra", [{"top_p": 0}, {"seed": -1, "temperature": 0.7}, {"seed": 2**64}])
def test_sampling_parameters_out_of_range_are_400(kiosk: Kiosk, extra: dict[str, Any]) -> None:
    r = chat(kiosk, "What helps a sore throat?", **extra)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("headers,status", [
    ({"Content-Type": "text/plain"}, 415),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403),
    ({"Content-Type": "application/json", "Origin": "null"}, 403),
    ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
    ({"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, 403),
])
def test_cross_site_or_non_json_writes_are_refused(kiosk: Kiosk, headers: dict[str, str], status: int) -> None:
    """The review's blind CSRF: a page elsewhere posts a patient number as text/plain."""
    patient = f"CSRF-{status}-{len(headers)}-{sorted(headers.values())[0][:6]}"
    r = httpx.post(kiosk.url + "/api/session", content=f'{{"patient": "{patient}"}}'.encode(), headers=headers)
    assert r.status_code == status, r.text
    assert patient not in _patients(kiosk.runtime)
    chat_r = httpx.post(kiosk.url + "/v1/chat/completions", headers=headers, content=b'{"messages": []}')
    assert chat_r.status_code == status


def test_same_origin_json_writes_pass(kiosk: Kiosk) -> None:
    origin = kiosk.url
    r = httpx.post(kiosk.url + "/api/session", json={"patient": "H-8008"},
                   headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200, r.text
    end = httpx.post(kiosk.url + "/api/session/end", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert end.status_code == 200  # no body, no Origin: an integration's call


def test_the_idle_timer_runs_from_the_end_of_the_last_reply(_tiny_bundle_built: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    """A reply longer than the idle timeout used to outlive its session (the timer counted from
    the request's start). The engine is the real one, slowed per piece to a Pi's pace."""
    with running_kiosk(_tiny_bundle_built, tmp_path / "home", session_idle_s=1.0) as k:
        rt = k.runtime
        rt.assistant.care = None  # the model writes the reply, at length
        rt.assistant.shape_model_replies = False
        real = rt.assistant.generate

        def slow(*a: Any, **kw: Any) -> Any:
            for piece in real(*a, **kw):
                time.sleep(0.02)
                yield piece

        rt.assistant.generate = slow  # type: ignore[method-assign]
        rt.assistant.care = None
        s = start(k, "I-9009")
        body = {"model": "edgemem", "stream": True, "max_tokens": 120,
                "messages": [{"role": "user", "content": "Please tell me everything about headaches."}]}
        t0 = time.monotonic()
        with httpx.stream("POST", k.url + "/v1/chat/completions", json=body, headers=auth(s), timeout=60) as r:
            lines = list(r.iter_lines())
        took = time.monotonic() - t0
        assert not any("session_ended" in x for x in lines)  # the sweep did not end it mid-reply
        assert took > 1.5, "the reply must outlast the idle timeout for this test to mean anything"
        assert rt.sessions.find(session_id=s["sid"]) is not None  # alive right after the reply
        deadline = time.monotonic() + 10
        while rt.sessions.find(session_id=s["sid"]) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rt.sessions.find(session_id=s["sid"]) is None  # and ends once quiet for 1 s


def test_a_strangers_long_system_prompt_is_refused_before_the_engine(kiosk: Kiosk) -> None:
    rt = kiosk.runtime
    before = rt.stats["completed"] + rt.stats["cancelled"]
    system = "Please remember this long story about nothing in particular. " * 900  # ~55 KB
    body = {"max_tokens": 4, "messages": [{"role": "system", "content": system},
                                          {"role": "user", "content": QUESTION}]}
    t0 = time.perf_counter()
    r = httpx.post(kiosk.url + "/v1/chat/completions", json=body, timeout=60)
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_long", r.text
    assert time.perf_counter() - t0 < 5
    assert rt.stats["completed"] + rt.stats["cancelled"] == before  # the engine never ran it


@pytest.mark.parametrize("allow", [False, True])
def test_production_refuses_a_bundle_whose_signing_key_is_on_the_device(
        _tiny_bundle_built: tuple[Path, Path], tmp_path: Path, allow: bool) -> None:
    import dataclasses
    import shutil

    from edgemem import keys
    from edgemem.home import Home
    from edgemem.profiles import load
    from edgemem.serve.config import ServeConfig
    from edgemem.serve.runtime import Runtime
    from edgemem.serve.server import BackgroundServer, free_port

    bundle, pub = _tiny_bundle_built
    home = Home(tmp_path / "home").ensure()
    keys.trust(keys.load_public_key(pub), home)
    shutil.copy(pub.parent / "test-signing.key", home.keys / "vendor-signing.key")  # the private half too
    profile = dataclasses.replace(load("x86-kiosk"), production=True)
    rt = Runtime(home, ServeConfig(port=free_port(), allow_device_signed=allow), profile, bundle=bundle)
    with BackgroundServer(rt) as url:
        ready = httpx.get(url + "/readyz")
        if allow:
            assert ready.status_code == 200
        else:
            assert ready.status_code == 503 and "private half is on this device" in ready.json()["reason"]


def test_a_body_that_never_arrives_times_out(kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    from urllib.parse import urlparse

    from edgemem.serve import http as serve_http

    monkeypatch.setattr(serve_http, "BODY_TIMEOUT_S", 0.5)
    u = urlparse(kiosk.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall(b"POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"pat")
        t0 = time.monotonic()
        answer = sock.recv(4096)
        assert b" 408 " in answer.split(b"\r\n", 1)[0], answer[:200]
        assert time.monotonic() - t0 < 5
