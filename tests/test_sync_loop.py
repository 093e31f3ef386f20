"""The documented full loop (benchmarks/sync_loop.py) on the tiny model: chat, outbox, train, build,
apply, adapter-only update, rollback, chat again; the non-consenting patient never reaches the stick."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_full_sync_loop_on_the_tiny_model(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import sync_loop

    f = sync_loop.main(["--tiny", "--work", str(tmp_path / "loop"), "--steps", "10"])
    assert f["non_consenting_words_in_outbox"] == 0
    assert f["outbox"]["counts"]["patients"] == 2 and f["outbox"]["counts"]["not_consenting"] == 1
    assert (f["chat_v1"]["version"], f["chat_v2"]["version"], f["chat_v3"]["version"]) == (1, 2, 3)
    assert f["final"] == {"active_version": 3, "previous_version": 1}
    assert f["adapter_update_bytes"] < f["full_bundle_bytes"]
    assert f["apply_adapter_smoke"]["agreement"] >= f["apply_adapter_smoke"]["min_agreement"]
    # Switching bundles never touched the memory: every patient still has their memories.
    assert all(n > 0 for n in f["memories_kept"].values())
