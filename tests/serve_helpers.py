"""A real kiosk server for the serve and browser tests: the tiny bundle, real memory, real uvicorn."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from edgemem.home import Home
from edgemem.profiles import load
from edgemem.serve.config import ServeConfig
from edgemem.serve.runtime import Runtime
from edgemem.serve.server import BackgroundServer, free_port


@dataclass
class Kiosk:
    url: str
    runtime: Runtime

    @property
    def admin(self) -> str:
        return self.runtime.admin_token

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}"}


@contextlib.contextmanager
def running_kiosk(built: tuple[Path, Path], home_dir: Path, **config: Any) -> Iterator[Kiosk]:
    """Serve the tiny bundle (``_tiny_bundle_built``: folder, signing key) from a fresh home that
    trusts its key, on a free loopback port, until the block ends."""
    from edgemem import keys

    bundle, pub = built
    home = Home(home_dir).ensure()
    keys.trust(keys.load_public_key(pub), home)
    cfg = ServeConfig(port=free_port(), **config)
    runtime = Runtime(home, cfg, load("x86-kiosk"), bundle=bundle)
    with BackgroundServer(runtime) as url:
        assert runtime.ready, runtime.problem
        yield Kiosk(url, runtime)


def slow_replies(k: Kiosk, per_piece_s: float) -> None:
    """Slow the assistant's reply stream to a Pi's pace per piece: on a loaded machine the tiny
    model's pieces could all be out before a test's next request arrives."""
    real = k.runtime.assistant.generate

    def slow(*a: Any, **kw: Any) -> Any:
        for piece in real(*a, **kw):
            time.sleep(per_piece_s)
            yield piece

    k.runtime.assistant.generate = slow  # type: ignore[method-assign]
