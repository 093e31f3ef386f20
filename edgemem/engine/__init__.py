"""The on-device inference engine (onnxruntime, no torch).

Names are imported lazily so ``import edgemem.engine`` does not load onnxruntime or tokenizers
until something is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DecoderModel", "Engine"]


def __getattr__(name: str) -> Any:
    if name == "DecoderModel":
        from .model import DecoderModel

        return DecoderModel
    if name == "Engine":
        from .engine import Engine

        return Engine
    raise AttributeError(name)
