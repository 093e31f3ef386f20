"""OpenAI-compatible chat: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Existing tools and the ``openai`` client work unchanged against the kiosk. Who is speaking
decides which memory is used:

- a **session token** (the kiosk page): the server owns the conversation; the request's last user
  message is the new turn and the patient's memory assembles the rest;
- the **admin token** with ``user``: the client owns the conversation (it sends the history, as
  OpenAI clients do); the patient's memory supplies the system part, and both turns are stored in
  an API session of that patient;
- **no token** and no ``user``: a plain, memoryless chat (loopback only by default).

The red-flag check runs before the queue, so an emergency is answered at once even when the
engine is busy. Extensions ride in an ``edgemem`` field of the response (the red flag, timings),
which OpenAI clients ignore.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..assistant import Turn, check_text
from ..errors import EdgememError, InputError
from ..interfaces import ChatMessage, GenerationConfig
from .http import HTTPError, bearer, patient_id, read_json
from .queue import Job, QueueFull
from .runtime import Runtime, session_owner
from .tokens import SESSION_PREFIX, Session, same_token

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass
class ChatRequest:
    messages: list[ChatMessage]
    stream: bool
    config: GenerationConfig
    user: str | None
    include_usage: bool


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # [{"type": "text", "text": ...}, ...]
        parts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise HTTPError(400, "only text content parts are supported")
            parts.append(part["text"])
        return "".join(parts)
    if value is None:
        return ""
    raise HTTPError(400, "message content must be a string or a list of text parts")


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float,
            low_open: bool = False) -> float:
    value = body.get(key)
    if value is None:
        return default
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi
            or (low_open and value == lo)):
        raise HTTPError(400, f"'{key}' must be a number in {'(' if low_open else '['}{lo}, {hi}]")
    return float(value)


def parse_chat_request(body: dict[str, Any], max_new_tokens: int) -> ChatRequest:
    """Validate an OpenAI chat request; every problem is one line naming the field."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise HTTPError(400, "'messages' must be a non-empty list")
    if len(raw) > 200:
        raise HTTPError(400, "'messages' has more than 200 entries")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise HTTPError(400, f"messages[{i}] needs a role of {', '.join(ROLES)}")
        messages.append(ChatMessage(ROLES[m["role"]], _content(m.get("content"))))
    if messages[-1].role != "user":
        raise HTTPError(400, "the last message must be the user's")
    n = body.get("n", 1)
    if n != 1:
        raise HTTPError(400, "'n' must be 1 (one generation at a time on this device)")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is None:
        limit = max_new_tokens
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise HTTPError(400, "'max_tokens' must be a positive integer")
    stop = body.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, (list, tuple)) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
        raise HTTPError(400, "'stop' must be a string or up to 4 strings")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise HTTPError(400, "'seed' must be an integer in [0, 2**63)")
    user = body.get("user")
    user = patient_id(user) if user not in (None, "") else None
    stream_options = body.get("stream_options") or {}
    config = GenerationConfig(
        max_new_tokens=min(limit, max_new_tokens),
        temperature=_number(body, "temperature", 0.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
        stop=tuple(stop),
        seed=seed,
    )
    return ChatRequest(messages, bool(body.get("stream", False)), config, user,
                       bool(isinstance(stream_options, dict) and stream_options.get("include_usage")))


@dataclass
class Caller:
    """Who sent the request, and therefore which memory and conversation a turn uses."""

    session: Session | None
    history: list[ChatMessage] | None
    system_prompt: str | None
    # Whose KV-cache prefix this request may reuse (``Runtime.claim_cache``), and whether it may
    # see how much it reused (cached_tokens, timings: the admin token only).
    owner: str = ""
    admin: bool = False


async def resolve_caller(request: Request, rt: Runtime, req: ChatRequest) -> Caller:
    token = bearer(request)
    session = rt.sessions.get(token)
    client_system = next((m.content for m in req.messages if m.role == "system"), None)
    earlier = [m for m in req.messages[:-1] if m.role != "system"]
    admin = same_token(token, rt.admin_token)
    if session is not None:
        if req.user is not None and req.user != session.user:
            raise HTTPError(403, "this session belongs to another patient", "wrong_patient")
        return Caller(session, None, None, session_owner(session.session_id), False)
    if req.user is not None:
        if not admin:
            raise HTTPError(401, "'user' selects a patient's memory: send the admin token or a session token",
                            "unauthorized")
        api = await rt.api_session(req.user)
        return Caller(api, earlier, client_system, session_owner(api.session_id), True)
    if token is not None and token.startswith(SESSION_PREFIX):
        raise HTTPError(401, "this session ended or timed out; start a new one", "no_session")
    if token is not None and not admin and rt.config.kiosk is False:
        raise HTTPError(401, "unknown token", "unauthorized")
    # Token-less callers cannot be told apart: each one is a stranger to the cache.
    return Caller(None, earlier, client_system, "admin" if admin else "anon:" + uuid.uuid4().hex, admin)


def _check_client_budget(rt: Runtime, req: ChatRequest) -> None:
    """A conversation the client sends must fit the prompt budget: a token-less caller's 64 KB
    system prompt held the engine for 20-24 s before (the kiosk's own prompts are capped by the
    memory's assembly, ``prompt_budget``)."""
    engine = rt.engine
    if engine is None:
        return
    total = 0
    for m in req.messages:
        total += engine.count_tokens(m.content) + 4
        if total > rt.config.prompt_budget:
            raise HTTPError(400, f"the conversation sent is longer than this kiosk's prompt budget of "
                            f"{rt.config.prompt_budget} tokens; send less history", "too_long")


class _CancelOnExit(StreamingResponse):
    """A streaming response that cancels its job however the response ends (a closed tab too)."""

    def __init__(self, job: Job | None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._job is not None:
                self._job.cancel()


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None,
           **extra: Any) -> bytes:
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


def _work(rt: Runtime, turn_args: dict[str, Any], config: GenerationConfig, owner: str):
    """The generation thread's part of one request: prompt, stream, store."""

    def work(job: Job) -> None:
        t_start = time.perf_counter()
        rt.maybe_reload()
        engine = rt.engine
        if engine is None:
            raise EdgememError(rt.problem or "engine not loaded")
        rt.claim_cache(owner)
        turn = rt.on_memory(rt.assistant.prepare, generator=engine,
                            max_new_tokens=config.max_new_tokens, **turn_args).result()
        t_prepared = time.perf_counter()
        job.emit("meta", {"prepare_ms": round((t_prepared - t_start) * 1000, 2)})
        pieces: list[str] = []
        first: float | None = None
        try:
            for piece in rt.assistant.generate(turn, engine, config, job.cancelled.is_set):
                if first is None:
                    first = time.perf_counter()
                pieces.append(piece)
                job.emit("piece", piece)
        finally:
            reply = "".join(pieces)
            rt.stats["cancelled" if job.cancelled.is_set() else "completed"] += 1
            rt.on_memory(rt.record_reply, turn, reply, job).result()
            rt.rss.check("after a reply")
        if job.revoked:
            raise HTTPError(409, "the session ended during this reply; nothing of it was kept", "session_ended")
        t_end = time.perf_counter()
        n_tokens = engine.count_tokens(reply) if reply else 0
        composed = turn.composed is not None  # the card's reply: the engine did not run
        stats = None if composed else getattr(engine, "last_stats", None)
        job.emit("done", {
            "finish_reason": "length" if not composed and n_tokens >= config.max_new_tokens else "stop",
            "completion_tokens": n_tokens,
            "prompt_tokens": _prompt_tokens(engine, turn.messages),
            "cached_tokens": int(getattr(stats, "reused_tokens", 0)),
            "engine_ttft_ms": round(((first or t_end) - t_prepared) * 1000, 2),
            "generate_ms": round((t_end - t_prepared) * 1000, 2),
            "cards": list(turn.cards),
            "based_on": [turn.advice.title] if turn.advice is not None else [],
            "check_failed": turn.check_failed,
            "sent_to_staff": turn.no_card,
        })
        if turn_args.get("history") is None:  # the server owns this conversation: it knows what comes next
            rt.warm_later(turn.user, turn.session_id, config.max_new_tokens)

    return work


def _prompt_tokens(engine: Any, messages: list[ChatMessage]) -> int:
    """Exact when the engine renders its chat template, else the content tokens alone."""
    render = getattr(engine, "render_chat", None)
    if render is not None:
        return len(render(messages))
    return sum(engine.count_tokens(m.content) for m in messages)


async def chat_completions(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    body = await read_json(request, rt.config.max_body_bytes)
    req = parse_chat_request(body, rt.profile.max_new_tokens)
    text = check_text(req.messages[-1].content)
    if not rt.ready:
        raise HTTPError(503, f"not ready: {rt.problem}", "not_ready", retry_after=5)
    caller = await resolve_caller(request, rt, req)
    if caller.history is not None:
        _check_client_budget(rt, req)
    session = caller.session
    user = session.user if session else None
    sid = session.session_id if session else None
    flag = rt.assistant.triage(text, sid)
    flag_turn = Turn(user=user, session_id=sid, text=text, red_flag=flag) if flag is not None and flag.emergency else None
    turn_args = {"user": user, "session_id": sid, "text": text, "history": caller.history,
                 "system_prompt": caller.system_prompt, "urgent": flag if flag is not None and not flag.emergency else None}
    work = _work(rt, turn_args, req.config, caller.owner)
    report = caller.admin or rt.config.report_timing
    t0 = time.perf_counter()
    if flag is not None:
        from ..privacy.audit import record

        # Kind, tier and stage only: never the patient's words.
        record(rt.home, "redflag", user=user, actor="serve", session=sid, category=flag.category,
               tier=flag.tier, stage=flag.stage)
    if flag_turn is not None:
        # An emergency skips the line: answered at once, stored on the memory thread.
        job = None
        rt.stats["red_flags"] += 1
        reply = flag_turn.red_flag.message  # type: ignore[union-attr]
        await rt.memory_call(rt.assistant.record, flag_turn, reply)
        pieces_source: AsyncIterator[tuple[str, Any]] = _fixed(reply)
    else:
        try:
            job = rt.queue.submit(work)
        except QueueFull as e:
            raise HTTPError(429, str(e), "queue_full", retry_after=e.retry_after) from None
        rt.track_reply(sid, job)
        timeout = rt.config.request_timeout_s
        if not await _wait_started(job, request, timeout):
            job.cancel()
            rt.stats["timeouts"] += 1
            raise HTTPError(503, "timed out waiting for the engine", "timeout",
                            retry_after=rt.queue.retry_after())
        pieces_source = _job_events(job, t0 + timeout, rt.stats)
    cid = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    extra = {"session_id": sid, "red_flag": flag.to_dict() if flag else None}
    model = rt.config.model_id
    if req.stream:
        return _CancelOnExit(job, _sse(pieces_source, cid, created, model, extra, req.include_usage, t0, report),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    try:
        content: list[str] = []
        done: dict[str, Any] = {}
        async for kind, data in pieces_source:
            if kind == "piece":
                content.append(data)
                if await request.is_disconnected():
                    break
            elif kind in ("done", "meta"):
                done.update(data)
    finally:
        if job is not None:
            job.cancel()
    return JSONResponse({
        "id": cid, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(content)},
                     "finish_reason": done.get("finish_reason", "stop")}],
        "usage": _usage(done, report),
        "edgemem": {**extra, **({"timing": _timing(done, t0)} if report else {}),
                    "cards": done.get("cards", []), "based_on": done.get("based_on", []),
                    "check_failed": done.get("check_failed"), "sent_to_staff": done.get("sent_to_staff", False)},
    })


def _usage(done: dict[str, Any], report: bool) -> dict[str, Any]:
    p, c = int(done.get("prompt_tokens", 0)), int(done.get("completion_tokens", 0))
    usage: dict[str, Any] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    if report and "cached_tokens" in done:  # OpenAI's field: prompt tokens taken from the KV cache
        usage["prompt_tokens_details"] = {"cached_tokens": int(done["cached_tokens"])}
    return usage


def _timing(done: dict[str, Any], t0: float) -> dict[str, float]:
    keys = ("prepare_ms", "engine_ttft_ms", "generate_ms", "prompt_tokens", "completion_tokens")
    out = {k: done[k] for k in keys if k in done}
    out["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return out


async def _fixed(text: str) -> AsyncIterator[tuple[str, Any]]:
    yield "piece", text
    yield "done", {"finish_reason": "stop", "engine_ttft_ms": 0.0, "completion_tokens": 0}


async def _job_events(job: Job, deadline: float, stats: dict[str, int]) -> AsyncIterator[tuple[str, Any]]:
    """The job's events until it ends, the deadline passes (cancel) or it fails."""
    import asyncio

    events = job.events().__aiter__()
    while True:
        remaining = deadline - time.perf_counter()
        try:
            event = await asyncio.wait_for(events.__anext__(), timeout=max(0.0, remaining))
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            job.cancel()
            stats["timeouts"] += 1
            yield "done", {"finish_reason": "length", "timed_out": True}
            return
        if job.revoked:  # the session ended or was forgotten: drop what is still in line
            job.cancel()
            raise HTTPError(409, "the session ended during this reply; nothing of it was kept", "session_ended")
        if event.kind == "error":
            err = event.data
            if isinstance(err, HTTPError):
                raise err
            if isinstance(err, InputError):  # e.g. the session ended before the reply began
                raise HTTPError(409, str(err), "session_ended")
            msg = str(err) if isinstance(err, EdgememError) else f"generation failed: {type(err).__name__}"
            raise HTTPError(500, msg, "generation_failed")
        yield event.kind, event.data


async def _wait_started(job: Job, request: Request, timeout: float) -> bool:
    """Wait for the worker to pick the job up, giving up if the client leaves meanwhile."""
    deadline = time.perf_counter() + timeout
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return False
        if await job.wait_started(min(0.25, remaining)):
            return True
        if job.finished.is_set() or await request.is_disconnected():
            job.cancel()
            return False


async def _sse(source: AsyncIterator[tuple[str, Any]], cid: str, created: int, model: str,
               extra: dict[str, Any], include_usage: bool, t0: float, report: bool) -> AsyncIterator[bytes]:
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""}, edgemem=extra)
    done: dict[str, Any] = {}
    try:
        async for kind, data in source:
            if kind == "piece":
                yield _chunk(cid, created, model, {"content": data})
            elif kind in ("done", "meta"):
                done.update(data)
    except HTTPError as e:
        payload = {"error": {"message": str(e), "type": "server_error", "code": e.code}}
        yield b"data: " + json.dumps(payload).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"
        return
    final: dict[str, Any] = {"edgemem": {**({"timing": _timing(done, t0)} if report else {}),
                                         "timed_out": bool(done.get("timed_out")),
                                         "cards": done.get("cards", []), "based_on": done.get("based_on", []),
                                         "check_failed": done.get("check_failed"), "sent_to_staff": done.get("sent_to_staff", False)}}
    yield _chunk(cid, created, model, {}, done.get("finish_reason", "stop"), **final)
    if include_usage:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [], "usage": _usage(done, report)}
        yield b"data: " + json.dumps(body).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


async def models(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    return JSONResponse({"object": "list", "data": [{
        "id": rt.config.model_id, "object": "model", "created": 0, "owned_by": "edgemem",
        "edgemem": {"profile": rt.profile.name, "bundle": rt.bundle_info, "ready": rt.ready},
    }]})
