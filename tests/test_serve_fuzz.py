"""Fuzzing every route and method of a running kiosk: no input gives a 500 (issue 18, finding 5).

hypothesis draws the route (every one the app declares, path parameters filled with odd text),
the method, the credential (none, a garbage token, the admin token, a live session token), the
Content-Type and the body: random JSON, chat-shaped JSON with random sampling parameters, raw
bytes, and the review's attacks (nesting 20,000 deep, integers of 5,000 digits, NaN, memory ids
``abc``, ``²``, ``--5``). Every answer must be below 500 and, for an error, one line. Derandomized
with fixed example counts, so a run is the same each time; the case count is printed.
"""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve_helpers import Kiosk, running_kiosk

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CASES: collections.Counter[str] = collections.Counter()
STATUSES: collections.Counter[int] = collections.Counter()
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


@pytest.fixture(scope="module")
def fuzz_kiosk(_tiny_bundle_built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_kiosk(_tiny_bundle_built, tmp_path_factory.mktemp("fuzz-home"), queue_size=8,
                       request_timeout_s=60) as k:
        with httpx.Client(base_url=k.url, timeout=60) as http:
            s = http.post("/api/session", json={"patient": "keeper"}).json()
            r = http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {s['token']}"},
                          json={"max_tokens": 1, "messages": [{"role": "user", "content": "I take metformin."}]})
            assert r.status_code == 200, r.text
            http.post("/api/session/end", headers={"Authorization": f"Bearer {s['token']}"})
            yield k, http, SessionPool(k, http)


class SessionPool:
    """A live session token for the cases that want one (the fuzz may end or forget it)."""

    def __init__(self, k: Kiosk, http: httpx.Client) -> None:
        self.k, self.http, self.token = k, http, ""

    def get(self) -> str:
        if self.k.runtime.sessions.get(self.token) is None:
            r = self.http.post("/api/session", json={"patient": "fuzzer"})
            assert r.status_code == 200, r.text
            self.token = r.json()["token"]
        return self.token


_ROUTES: list[str] = []


def routes(k: Kiosk) -> list[str]:
    """Every path template the app serves (read from the app itself, so a new route is fuzzed too)."""
    from edgemem.serve.app import create_app

    if _ROUTES:
        return _ROUTES
    out = _ROUTES
    for r in create_app(k.runtime).routes:
        path = getattr(r, "path", "")
        out.append(path + "/{file}" if r.__class__.__name__ == "Mount" else path)
    return out


SEGMENT = st.one_of(st.text(max_size=24), st.sampled_from(["abc", "²", "--5", "-1", "0", "1", "99999999999999999999",
                                                           "keeper", "fuzzer", "..", "%00", "1e3", " 7"]),
                    st.integers(-10**30, 10**30).map(str))
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                    | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)
NUMBER = st.one_of(st.none(), st.integers(-5, 10**6), st.floats(-3, 3), st.sampled_from([0, 0.0, -1, 1, 2**64]),
                   st.text(max_size=3), st.booleans())
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "developer", "tool", ""]),
                                 "content": st.one_of(st.text(max_size=60), st.none(), JSON)})
CHAT = st.fixed_dictionaries({
    "messages": st.one_of(st.lists(MESSAGE, min_size=1, max_size=3),
                          st.just([{"role": "user", "content": "What helps a sore throat?"}]), JSON),
    "max_tokens": st.one_of(st.integers(1, 3), NUMBER),
}, optional={"top_p": NUMBER, "temperature": NUMBER, "seed": NUMBER, "stream": st.booleans(),
             "stop": st.one_of(JSON, st.text(max_size=4)), "n": NUMBER, "user": st.one_of(SEGMENT, JSON),
             "stream_options": JSON})
ATTACKS = st.sampled_from([b"[" * 20000, b"{\"a\":" * 5000, b"1" * 5000, b"{\"max_tokens\": " + b"9" * 5000 + b"}",
                           b"{\"top_p\": NaN}", b"{\"x\": Infinity}", b"\xff\xfe", b"", b"null", b"[]", b"\"x\"",
                           b"{\"patient\": " + b"7" * 5000 + b"}", b"{\"confirm\": true}",
                           b"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_p\": 0, \"max_tokens\": 1}",
                           b"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"seed\": -1, "
                           b"\"temperature\": 0.7, \"max_tokens\": 1}"])
BODY = st.one_of(JSON.map(lambda v: json.dumps(v).encode()), CHAT.map(lambda v: json.dumps(v).encode()),
                 st.fixed_dictionaries({"patient": SEGMENT}).map(lambda v: json.dumps(v).encode()),
                 st.binary(max_size=64), ATTACKS)
CONTENT_TYPE = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", None,
                                "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
AUTH = st.sampled_from(["none", "garbage", "admin", "session", "ems_expired"])


def fill(template: str, values: list[str]) -> str:
    out, i = template, 0
    while "{" in out:
        a, b = out.index("{"), out.index("}")
        seg = values[i % len(values)] if values else "x"
        out = out[:a] + quote(seg.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), safe="") + out[b + 1:]
        i += 1
    return out


def check(r: httpx.Response, what: str) -> None:
    STATUSES[r.status_code] += 1
    assert r.status_code < 500 or r.status_code == 503 and r.json()["error"]["code"] in ("not_ready", "timeout"), \
        f"{what}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400 and r.content and r.headers.get("content-type", "").startswith("application/json"):
        msg = r.json()["error"]["message"]
        assert msg and "\n" not in msg and "Traceback" not in msg, msg


def one_case(fuzz: Any, template: str, method: str, values: list[str], auth: str, ctype: str | None,
             body: bytes, query: dict[str, str]) -> None:
    k, http, pool = fuzz
    headers = {}
    if auth == "admin":
        headers["Authorization"] = f"Bearer {k.admin}"
    elif auth == "session":
        headers["Authorization"] = f"Bearer {pool.get()}"
    elif auth == "garbage":
        headers["Authorization"] = "Bearer sk-" + "x" * 20
    elif auth == "ems_expired":
        headers["Authorization"] = "Bearer ems_nothere"
    if ctype is not None:
        headers["Content-Type"] = ctype
    path = fill(template, values)
    send_body = body if method not in ("GET", "HEAD", "OPTIONS") else b""
    r = http.request(method, path, headers=headers, content=send_body, params=query)
    check(r, f"{method} {path}")


@settings(max_examples=1400, **SETTINGS)
@given(data=st.data())
def test_every_route_and_method(fuzz_kiosk: Any, data: st.DataObject) -> None:
    k = fuzz_kiosk[0]
    template = data.draw(st.sampled_from(routes(k)))
    method = data.draw(st.sampled_from(METHODS))
    values = data.draw(st.lists(SEGMENT, min_size=1, max_size=2))
    query = data.draw(st.dictionaries(st.sampled_from(["q", "k", "x"]), st.text(max_size=12), max_size=2))
    CASES[f"{method} {template}"] += 1
    one_case(fuzz_kiosk, template, method, values, data.draw(AUTH), data.draw(CONTENT_TYPE), data.draw(BODY), query)


@settings(max_examples=700, **SETTINGS)
@given(body=st.one_of(CHAT.map(lambda v: json.dumps(v).encode()), ATTACKS), auth=AUTH,
       ctype=st.sampled_from(["application/json", None, "text/plain"]))
def test_chat_bodies(fuzz_kiosk: Any, body: bytes, auth: str, ctype: str | None) -> None:
    CASES["chat body"] += 1
    one_case(fuzz_kiosk, "/v1/chat/completions", "POST", [], auth, ctype, body, {})


@pytest.mark.parametrize("mid", ["abc", "²", "--5", "-1", "0", "1.5", "99999999999999999999999", "٣"])
def test_memory_ids_are_checked(fuzz_kiosk: Any, mid: str) -> None:
    k, http, pool = fuzz_kiosk
    CASES["memory id"] += 1
    for path, headers in ((f"/api/session/memories/{quote(mid)}", {"Authorization": f"Bearer {pool.get()}"}),
                          (f"/api/admin/patients/keeper/memories/{quote(mid)}", k.admin_headers())):
        r = http.delete(path, headers=headers)
        check(r, path)
        assert r.status_code in (400, 404), r.text


def test_zz_report_cases(fuzz_kiosk: Any) -> None:
    total = sum(CASES.values())
    print(f"\nfuzz cases run: {total}; statuses {dict(sorted(STATUSES.items()))}; "
          f"routes x methods covered: {len([c for c in CASES if ' /' in c])}")
    if CASES["chat body"] and any(" /" in c for c in CASES):  # (a -k selection runs fewer)
        assert total >= 2000
        assert not [s for s in STATUSES if s >= 500 and s != 503]
