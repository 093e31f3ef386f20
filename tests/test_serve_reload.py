"""A running server picks up a bundle applied to the A/B slots, and keeps every memory.

Real signed tiny bundles (with the real MiniLM embedder) are applied with ``edgemem.sync.apply``
into the home a real server serves from; no ``--bundle``, so the server follows the active slot.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgemem import signing_keys
from edgemem.home import Home
from edgemem.profiles import load
from edgemem.serve.config import ServeConfig
from edgemem.serve.runtime import Runtime
from edgemem.serve.server import BackgroundServer, free_port
from edgemem.sync import apply, slots
from sync_bundles import build_tiny_bundle


@pytest.fixture(scope="module")
def vendor() -> Any:
    return signing_keys.generate()


@pytest.fixture(scope="module")
def versions(tiny_llama_dir: Path, minilm_embedder_dir: Path, tmp_path_factory: pytest.TempPathFactory,
             vendor: Any) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("reload-bundles")
    out = {}
    for v in (1, 2):
        folder = root / f"v{v}"
        shutil.copytree(minilm_embedder_dir, folder / "embedder")
        out[v] = build_tiny_bundle(tiny_llama_dir, folder, vendor, version=v,
                                   parent_version=v - 1 if v > 1 else None)
    return out


def _served_version(url: str) -> int:
    return httpx.get(url + "/v1/models").json()["data"][0]["edgemem"]["bundle"]["version"]


def test_server_follows_the_active_slot_without_losing_memories(
        versions: dict[int, Path], vendor: Any, tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    signing_keys.trust(vendor.public_key(), home)
    apply.apply(versions[1], home)
    runtime = Runtime(home, ServeConfig(port=free_port()), load("x86-kiosk"))
    with BackgroundServer(runtime) as url:
        assert runtime.ready, runtime.problem
        assert _served_version(url) == 1
        admin = {"Authorization": f"Bearer {runtime.admin_token}"}
        chat = {"user": "p-7", "max_tokens": 4,
                "messages": [{"role": "user", "content": "I am allergic to penicillin."}]}
        assert httpx.post(url + "/v1/chat/completions", json=chat, headers=admin, timeout=60).status_code == 200
        assert httpx.post(url + "/api/admin/sessions/end", json={"user": "p-7"}, headers=admin).status_code == 200
        before = httpx.get(url + "/api/admin/patients/p-7/memories", headers=admin).json()["memories"]
        assert any("penicillin" in m["text"] for m in before)

        # An update lands while the server runs: the next request is served by it.
        apply.apply(versions[2], home)
        assert httpx.post(url + "/v1/chat/completions", timeout=60,
                          json={"max_tokens": 4, "messages": [{"role": "user", "content": "hello"}]}).status_code == 200
        assert _served_version(url) == 2 and runtime.reloads == 1
        after = httpx.get(url + "/api/admin/patients/p-7/memories", headers=admin).json()["memories"]
        assert after == before

        # A rollback is picked up too, at once through the admin reload.
        slots.rollback(home, "test")
        r = httpx.post(url + "/api/admin/reload", headers=admin, timeout=60)
        assert r.status_code == 200 and r.json()["bundle"]["version"] == 1 and runtime.reloads == 2
        assert httpx.get(url + "/api/admin/patients/p-7/memories", headers=admin).json()["memories"] == before
