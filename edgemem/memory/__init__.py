"""The DPeM memory of the device (MaLP, arXiv 2309.11696): working, short-term and long-term tiers.

``MemoryService`` is the entry point (contract in docs/ARCHITECTURE.md). Names are resolved lazily
so ``import edgemem.memory`` costs nothing until the service is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MemoryService", "Hit", "PromptPlan", "Note", "OnnxEmbedder", "import_jsonl", "open_memory"]


def __getattr__(name: str) -> Any:
    if name in ("MemoryService", "import_jsonl"):
        from . import service

        return getattr(service, name)
    if name == "open_memory":
        from .service import MemoryService

        return MemoryService.open
    if name in ("Hit", "PromptPlan", "Note"):
        from . import types

        return getattr(types, name)
    if name == "OnnxEmbedder":
        from .embedder import OnnxEmbedder

        return OnnxEmbedder
    raise AttributeError(name)
