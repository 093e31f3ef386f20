"""Sessions and memories over HTTP: the kiosk page's session capability and the admin endpoints.

The kiosk page starts a session with a patient number and gets a session token; with it the page
can list, delete and forget *that patient's* memories and nothing else. An integration uses the
admin token for any patient. Forgetting revokes the patient's open sessions first, so nothing
consolidates back in after the erasure.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import InputError
from .http import HTTPError, bearer, memory_id, patient_id, read_json
from .runtime import Runtime
from .tokens import Session, same_token


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _require_memory(rt: Runtime) -> None:
    if rt.memory is None:
        raise HTTPError(503, f"memory not ready: {rt.problem or 'no memory service'}", "not_ready",
                        retry_after=5)


def _session(request: Request) -> Session:
    rt = _runtime(request)
    s = rt.sessions.get(bearer(request))
    if s is None:
        raise HTTPError(401, "no open session for this token (it ended or timed out)", "no_session")
    return s


def _admin(request: Request) -> None:
    if not same_token(bearer(request), _runtime(request).admin_token):
        raise HTTPError(401, "admin token required (edgemem serve --print-token)", "unauthorized")


def jsonable(item: Any) -> Any:
    """A memory record as JSON: dataclasses and objects become dicts, bytes never leave."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        item = dataclasses.asdict(item)
    elif hasattr(item, "_asdict"):
        item = item._asdict()
    elif not isinstance(item, (dict, list, tuple, str, int, float, bool, type(None))) and hasattr(item, "__dict__"):
        item = {k: v for k, v in vars(item).items() if not k.startswith("_")}
    if isinstance(item, dict):
        return {str(k): jsonable(v) for k, v in item.items() if not isinstance(v, (bytes, bytearray))}
    if isinstance(item, (list, tuple)):
        return [jsonable(v) for v in item]
    if isinstance(item, (str, int, float, bool, type(None))):
        return item
    return str(item)


PUBLIC_FIELDS = ("memory_id", "text", "kind", "tier", "subject", "important", "created", "updated")


def public_memory(m: Any) -> Any:
    """What a client sees of a memory: its id, text and kind, not the bookkeeping."""
    m = jsonable(m)
    if isinstance(m, dict):
        if "memory_id" not in m and "id" in m:
            m["memory_id"] = m["id"]
        return {k: m[k] for k in PUBLIC_FIELDS if k in m}
    return m


def _audit(rt: Runtime, action: str, user: str, actor: str, **fields: Any) -> None:
    """Append to the audit log (edgemem.privacy.audit): who touched which patient's memory, never
    what it says. Best effort: a full disk must not break the patient's session."""
    from ..privacy.audit import record

    record(rt.home, action, user=user, actor=actor, **fields)


async def _list(rt: Runtime, user: str) -> list[Any]:
    _require_memory(rt)
    found = await rt.memory_call(rt.memory.list_memories, user)  # type: ignore[union-attr]
    return [public_memory(m) for m in found]


async def _delete(rt: Runtime, user: str, raw_id: str) -> Response:
    _require_memory(rt)
    mid = memory_id(raw_id)
    try:
        result = await rt.memory_call(rt.memory.delete_memory, user, mid)  # type: ignore[union-attr]
    except InputError:  # no such patient: as little said as for a memory that is not theirs
        result = False
    if result is False:
        raise HTTPError(404, "no such memory for this patient", "not_found")
    return JSONResponse({"deleted": raw_id})


async def _forget(rt: Runtime, user: str) -> Response:
    _require_memory(rt)
    for s in rt.sessions.remove_user(user):
        rt.close_session(s)
    await rt.memory_call(rt.memory.forget, user)  # type: ignore[union-attr]
    return JSONResponse({"forgotten": True})


# Kiosk page: session capability.
async def session_start(request: Request) -> Response:
    rt = _runtime(request)
    if not rt.config.kiosk:
        _admin(request)
    body = await read_json(request, rt.config.max_body_bytes)
    user = patient_id(body.get("patient"))
    if not rt.ready:
        raise HTTPError(503, f"not ready: {rt.problem}", "not_ready", retry_after=5)
    # Nothing is stored before this passes. The kiosk page sends "enrol": false, then on a 409
    # "secret_again": the PIN (or date of birth) typed twice at the first visit.
    enrol = body.get("enrol", True)
    if not isinstance(enrol, bool):
        raise HTTPError(400, "enrol must be true or false")
    enrolled = await rt.identify(user, body.get("secret"), enrol=enrol, again=body.get("secret_again"))
    s = await rt.start_session(user, "kiosk")
    if enrolled:
        _audit(rt, "credential_set", user, "kiosk", mode=rt.identifier.mode)
    _audit(rt, "session_start", user, "kiosk", session=s.session_id)
    return JSONResponse({**s.public(), "token": s.token, "idle_timeout_s": rt.config.session_idle_s,
                         "emergency_number": rt.profile.emergency_number})


async def session_info(request: Request) -> Response:
    return JSONResponse(_session(request).public())


async def session_end(request: Request) -> Response:
    rt = _runtime(request)
    s = _session(request)
    await rt.end_session(s)
    _audit(rt, "session_end", s.user, "kiosk", session=s.session_id)
    return JSONResponse({"ended": True, "session_id": s.session_id})


async def session_memories(request: Request) -> Response:
    rt = _runtime(request)
    s = _session(request)
    found = await _list(rt, s.user)
    _audit(rt, "read", s.user, "kiosk", session=s.session_id, memories=len(found))
    return JSONResponse({"patient": s.user, "memories": found})


async def session_delete_memory(request: Request) -> Response:
    s = _session(request)
    response = await _delete(_runtime(request), s.user, request.path_params["memory_id"])
    _audit(_runtime(request), "delete", s.user, "kiosk", session=s.session_id, memory_id=request.path_params["memory_id"])
    return response


async def session_forget(request: Request) -> Response:
    rt = _runtime(request)
    s = _session(request)
    body = await read_json(request, rt.config.max_body_bytes)
    if body.get("confirm") is not True:
        raise HTTPError(400, "forgetting needs {\"confirm\": true}", "confirm_required")
    rt.assistant.forget_context(s.session_id)
    response = await _forget(rt, s.user)
    _audit(rt, "forget", s.user, "kiosk", session=s.session_id)
    return response


# Admin endpoints: any patient.
async def admin_session_start(request: Request) -> Response:
    _admin(request)
    rt = _runtime(request)
    body = await read_json(request, rt.config.max_body_bytes)
    user = patient_id(body.get("user", body.get("patient")))
    _require_memory(rt)
    s = await rt.start_session(user, "api")
    _audit(rt, "session_start", user, "admin", session=s.session_id)
    return JSONResponse({**s.public(), "token": s.token})


async def admin_session_end(request: Request) -> Response:
    _admin(request)
    rt = _runtime(request)
    body = await read_json(request, rt.config.max_body_bytes)
    s = None
    if body.get("token"):
        s = rt.sessions.get(str(body["token"]))
    elif body.get("session_id") is not None:
        s = rt.sessions.find(session_id=body["session_id"])
    elif body.get("user") is not None:
        s = rt.sessions.find(user=patient_id(body["user"]))
    if s is None:
        raise HTTPError(404, "no such open session", "not_found")
    await rt.end_session(s)
    _audit(rt, "session_end", s.user, "admin", session=s.session_id)
    return JSONResponse({"ended": True, "session_id": s.session_id})


async def admin_memories(request: Request) -> Response:
    _admin(request)
    user = patient_id(request.path_params["user"])
    found = await _list(_runtime(request), user)
    _audit(_runtime(request), "read", user, "admin", memories=len(found))
    return JSONResponse({"patient": user, "memories": found})


async def admin_search(request: Request) -> Response:
    _admin(request)
    rt = _runtime(request)
    user = patient_id(request.path_params["user"])
    query = request.query_params.get("q", "").strip()
    if not query or len(query) > 1000:
        raise HTTPError(400, "search needs ?q= of 1-1000 characters")
    try:
        k = int(request.query_params.get("k", "5"))
    except ValueError:
        raise HTTPError(400, "k must be an integer") from None
    if not 1 <= k <= 50:
        raise HTTPError(400, "k must lie in [1, 50]")
    _require_memory(rt)
    hits = await rt.memory_call(rt.memory.search, user, query, k)  # type: ignore[union-attr]
    _audit(rt, "search", user, "admin", hits=len(hits))
    return JSONResponse({"patient": user, "query": query, "hits": jsonable(hits)})


async def admin_delete_memory(request: Request) -> Response:
    _admin(request)
    user = patient_id(request.path_params["user"])
    response = await _delete(_runtime(request), user, request.path_params["memory_id"])
    _audit(_runtime(request), "delete", user, "admin", memory_id=request.path_params["memory_id"])
    return response


async def admin_forget(request: Request) -> Response:
    _admin(request)
    user = patient_id(request.path_params["user"])
    response = await _forget(_runtime(request), user)
    _audit(_runtime(request), "forget", user, "admin")
    return response


async def admin_credential(request: Request) -> Response:
    """Set or reset a patient's PIN, date of birth or badge secret (staff, with the admin token)."""
    _admin(request)
    rt = _runtime(request)
    user = patient_id(request.path_params["user"])
    body = await read_json(request, rt.config.max_body_bytes)
    if rt.identifier.mode == "number":
        raise HTTPError(400, "this kiosk identifies patients by number alone (identify = \"number\")")
    await asyncio.to_thread(rt.identifier.enrol, user, body.get("secret"))
    _audit(rt, "credential_set", user, "admin", mode=rt.identifier.mode)
    return JSONResponse({"patient": user, "identify": rt.identifier.mode})


async def admin_reload(request: Request) -> Response:
    """Load the active slot's bundle now (``edgemem sync apply`` may call this after switching)."""
    _admin(request)
    rt = _runtime(request)
    await rt.queue.run_sync(rt.maybe_reload)
    return JSONResponse({"bundle": rt.bundle_info, "reloads": rt.reloads})
