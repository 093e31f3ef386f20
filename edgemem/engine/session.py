"""onnxruntime session creation from a firmware profile, with graceful provider fallback.

Why a module of its own: the same rules (providers in the profile's order, skipping the ones this
onnxruntime build lacks, CPU always last; threads; arena) serve the decoder and the embedder, and
a Jetson without TensorRT must still boot on CUDA or the CPU instead of failing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

from ..errors import BundleError

log = logging.getLogger(__name__)


def choose_providers(wanted: Sequence[str]) -> list[str]:
    """The profile's providers this onnxruntime build offers, in order, CPU always last."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    chosen = [p for p in wanted if p in available and p != "CPUExecutionProvider"]
    skipped = [p for p in wanted if p not in available]
    if skipped:
        log.info("execution providers not available here, skipped: %s", ", ".join(skipped))
    chosen.append("CPUExecutionProvider")
    return chosen


def session_options(*, threads: int, arena: bool = True, optimized_path: Path | None = None) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, int(threads))
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_cpu_mem_arena = bool(arena)
    so.log_severity_level = 3
    if optimized_path is not None:
        so.optimized_model_filepath = str(optimized_path)
    return so


def create_session(onnx_path: str | os.PathLike[str], *, threads: int = 2,
                   providers: Sequence[str] = ("CPUExecutionProvider",), arena: bool = True) -> Any:
    """An ``InferenceSession``; a provider that fails to initialise falls back to the next ones."""
    import onnxruntime as ort

    path = Path(onnx_path)
    if not path.is_file():
        raise BundleError(f"model file not found: {path}")
    chosen = choose_providers(providers)
    last: Exception | None = None
    for start in range(len(chosen)):
        try:
            return ort.InferenceSession(str(path), sess_options=session_options(threads=threads, arena=arena),
                                        providers=chosen[start:])
        except Exception as e:  # a GPU provider that is present but cannot start (no device, no libs)
            last = e
            log.warning("provider %s failed (%s); falling back", chosen[start], str(e).splitlines()[0][:200])
    raise BundleError(f"cannot load {path.name} with onnxruntime: {str(last).splitlines()[0][:300]}")
