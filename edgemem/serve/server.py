"""Run the app under uvicorn: in the foreground (``edgemem serve``) or in a thread.

The threaded form is what the tests and the load benchmark use: a real uvicorn on a real loopback
port, so the browser and the ``openai`` client speak HTTP to the same stack a kiosk runs.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from ..errors import EdgememError
from .app import create_app
from .header_timeout import protocol_with_header_timeout
from .runtime import Runtime


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def header_timeout_s(runtime: Runtime) -> float:
    """The header-read deadline in force: the serve setting, else the profile's."""
    configured = runtime.config.header_timeout_s
    return float(configured if configured is not None else getattr(runtime.profile, "header_timeout_s", 10.0))


def _uvicorn_config(runtime: Runtime, **kwargs: Any) -> uvicorn.Config:
    cfg = runtime.config
    return uvicorn.Config(create_app(runtime), host=cfg.host, port=cfg.port, log_level="warning",
                          access_log=False, timeout_graceful_shutdown=5, lifespan="on",
                          http=protocol_with_header_timeout(header_timeout_s(runtime)), **kwargs)


def serve_forever(runtime: Runtime) -> None:
    """Serve until SIGINT/SIGTERM; sessions are ended (and consolidate) on the way out."""
    uvicorn.Server(_uvicorn_config(runtime)).run()


class BackgroundServer:
    """``with BackgroundServer(runtime) as url:`` serves on ``runtime.config.port`` in a thread."""

    def __init__(self, runtime: Runtime, startup_timeout_s: float = 120.0) -> None:
        self.runtime = runtime
        self.server = uvicorn.Server(_uvicorn_config(runtime))
        self._thread = threading.Thread(target=self.server.run, name="edgemem-uvicorn", daemon=True)
        self._timeout = startup_timeout_s

    @property
    def url(self) -> str:
        return f"http://{self.runtime.config.host}:{self.runtime.config.port}"

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self.server.started or self.runtime.problem == "starting":
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.server.should_exit = True
                raise EdgememError("server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
