"""The ASGI application: routes, error mapping, security headers, lifespan.

``create_app(runtime)`` is the whole server; ``edgemem serve`` runs it under uvicorn and the tests
run the same object on a free loopback port. Every asset is served from the package (no CDN), and
responses carry a strict Content-Security-Policy: the page can talk to this origin and nowhere
else. A Host check guards against DNS rebinding, since the API listens on loopback on a machine
that also runs a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import EdgememError, InputError
from . import memory_api as mem
from .http import HTTPError, bearer, error_response
from .openai_api import chat_completions, models
from .runtime import Runtime

log = logging.getLogger("edgemem.serve")
STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


class SecurityHeaders:
    """Adds CSP and friends to every response; API answers are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY")]
                if not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(exc.status, str(exc), exc.code, exc.retry_after)


async def _edgemem_error(request: Request, exc: Exception) -> Response:
    status = 400 if isinstance(exc, InputError) else 422
    return error_response(status, str(exc), type(exc).__name__)


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SameOriginWrites:
    """CSRF guard: a state-changing request must come from this origin and carry JSON.

    Without it any web page open in the kiosk's browser (or any browser on the device) could send
    ``POST /api/session {"patient": ...}`` blind as ``text/plain``, a "simple" request that needs
    no CORS preflight. A cross-site request says so in ``Origin`` or ``Sec-Fetch-Site``; a body
    that is not ``application/json`` is refused (415) before any route reads it. A request with no
    body and no Origin (curl, an integration) passes: it cannot carry a patient number, and a
    cross-site one with a token needs a preflight this server never grants.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = self._problem(scope, headers)
        if problem is not None:
            status, message, code = problem
            await error_response(status, message, code)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _problem(scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        site = headers.get("sec-fetch-site", "").strip().lower()
        if site in ("cross-site", "same-site"):
            return 403, "cross-site requests may not change anything here", "cross_site"
        origin = headers.get("origin")
        if origin is not None:
            expected = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
            if origin.strip().lower() != expected.lower():
                return 403, "requests from another origin may not change anything here", "cross_site"
        has_body = headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if has_body and media != "application/json":
            return 415, "request bodies must be application/json", "unsupported_media_type"
        return None


class QuietErrors:
    """Turns an unexpected exception into a one-line 500 and one pseudonymised log entry.

    Starlette's own handler for ``Exception`` re-raises after answering, and uvicorn then logs the
    traceback with the request path in it (``/api/admin/patients/B-2002/...``): a patient number
    in the log. Here the route's template is logged instead, and the request's patient ids are
    replaced by their audit pseudonyms in the traceback too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            request = Request(scope)
            rt: Runtime = scope["app"].state.runtime
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            session = rt.sessions.find(token=bearer(request)) if bearer(request) else None
            users = [str(v) for v in (scope.get("path_params") or {}).values()]
            rt.log_failure(f"unexpected error on {request.method} {route}", exc,
                           *users, session.user if session else None, trace=True)
            if not started:
                response = error_response(500, f"internal error ({type(exc).__name__}); see the server log",
                                          "internal")
                await response(scope, receive, send)


async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Never touches the engine, so a busy engine is still healthy."""
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    """Readiness: the engine and memory are loaded; 503 with the reason until they are."""
    rt: Runtime = request.app.state.runtime
    body = {"ready": rt.ready, "reason": rt.problem, "profile": rt.profile.name,
            "bundle": rt.bundle_info, "memory": rt.memory is not None,
            "queue": {"inflight": rt.queue.inflight, "max_waiting": rt.queue.max_waiting},
            "sessions": len(rt.sessions), "rehearsals_pending": rt.rehearsals_pending, "stats": rt.stats,
            "rss": rt.rss.check("readyz").to_dict()}
    if rt.ready:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def index(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    if not rt.config.kiosk:
        return error_response(404, "the kiosk page is disabled (--no-kiosk)", "not_found")
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def kiosk_config(request: Request) -> Response:
    """What the page needs before a session: the emergency number, the idle timeout, readiness."""
    rt: Runtime = request.app.state.runtime
    return JSONResponse({"emergency_number": rt.profile.emergency_number, "ready": rt.ready,
                         "reason": rt.problem, "idle_timeout_s": rt.config.session_idle_s,
                         "profile": rt.profile.name, "identify": rt.identifier.mode})


def create_app(runtime: Runtime) -> Starlette:
    """The server for ``runtime``; its lifespan loads the engine and memory and ends sessions."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Load in the background: /healthz answers and /readyz says "starting" meanwhile, so a
        # kiosk browser launched with the service shows a waiting page instead of an error.
        loader = asyncio.create_task(runtime.start())
        sweeper = asyncio.create_task(_sweep(runtime))
        try:
            yield
        finally:
            sweeper.cancel()
            await loader
            await runtime.stop()

    routes = [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/v1/models", models),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/api/config", kiosk_config),
        Route("/api/session", mem.session_start, methods=["POST"]),
        Route("/api/session", mem.session_info, methods=["GET"]),
        Route("/api/session/end", mem.session_end, methods=["POST"]),
        Route("/api/session/memories", mem.session_memories, methods=["GET"]),
        Route("/api/session/memories/{memory_id}", mem.session_delete_memory, methods=["DELETE"]),
        Route("/api/session/forget", mem.session_forget, methods=["POST"]),
        Route("/api/admin/sessions", mem.admin_session_start, methods=["POST"]),
        Route("/api/admin/sessions/end", mem.admin_session_end, methods=["POST"]),
        Route("/api/admin/patients/{user}/memories", mem.admin_memories, methods=["GET"]),
        Route("/api/admin/patients/{user}/search", mem.admin_search, methods=["GET"]),
        Route("/api/admin/patients/{user}/memories/{memory_id}", mem.admin_delete_memory,
              methods=["DELETE"]),
        Route("/api/admin/patients/{user}", mem.admin_forget, methods=["DELETE"]),
        Route("/api/admin/patients/{user}/credential", mem.admin_credential, methods=["POST"]),
        Route("/api/admin/reload", mem.admin_reload, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    hosts = [*LOOPBACK_HOSTS, *runtime.config.allowed_hosts]
    if runtime.config.host not in ("0.0.0.0", "::"):
        hosts.append(runtime.config.host)
    else:
        hosts = ["*"]  # listening everywhere is an explicit choice; the Host check cannot help then
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
                    Middleware(SameOriginWrites), Middleware(QuietErrors)],
        exception_handlers={HTTPError: _http_error, EdgememError: _edgemem_error},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app


async def _sweep(runtime: Runtime, every_s: float = 15.0) -> None:
    while True:
        await asyncio.sleep(min(every_s, max(0.5, runtime.config.session_idle_s / 4)))
        try:
            await runtime.sweep_idle()
            if runtime.engine is None and runtime.problem not in (None, "starting"):
                await runtime.start()  # a bundle may have been applied since
        except Exception as e:  # the sweeper must outlive one bad session
            log.warning("idle sweep failed: %s", e)
