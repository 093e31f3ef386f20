"""onnxruntime session creation from a firmware profile, with graceful provider fallback.

Why a module of its own: the same rules (providers in the profile's order, skipping the ones this
onnxruntime build lacks, CPU always last; threads; arena) serve the decoder and the embedder, and
a Jetson without TensorRT must still boot on CUDA or the CPU instead of failing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

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


MADV_RANDOM = 1
MADV_DONTNEED = 4


def _clean_file_mappings(want: Callable[[list[str], str], bool]) -> list[tuple[int, int]]:
    """(start, end) of this process's file mappings that ``want(header_fields, header_line)``
    selects and that hold no anonymous pages, read from ``/proc/self/smaps``; [] where unreadable.

    A page this process wrote to (copy-on-write: an anonymous page in a file mapping) must not be
    discarded, so such mappings are left out. Not "Private_Dirty": that also counts page-cache
    pages of a file written moments ago (a just-installed or just-copied bundle, not yet written
    back), which are safe to drop; testing it kept all the scales mapped (+16 MB on SmolLM2 int8).
    """
    spans: list[list[int]] = []
    try:
        with open("/proc/self/smaps") as f:
            current: list[int] | None = None
            for line in f:
                head = line.split()
                if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's header line
                    current = None
                    if want(head, line.rstrip()):
                        lo, hi = head[0].split("-")
                        current = [int(lo, 16), int(hi, 16)]
                        spans.append(current)
                elif current is not None and head[0] == "Anonymous:" and int(head[1]) > 0:
                    spans.remove(current)
                    current = None
    except (OSError, ValueError, IndexError):
        return []
    return [(lo, hi) for lo, hi in spans]


def _madvise(spans: list[tuple[int, int]], then_random: bool = False) -> int:
    """``MADV_DONTNEED`` each span (optionally ``MADV_RANDOM`` after); returns bytes advised."""
    import ctypes
    import ctypes.util

    if not spans:
        return 0
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    for start, end in spans:
        if libc.madvise(start, end - start, MADV_DONTNEED) == 0:
            done += end - start
        if then_random:
            libc.madvise(start, end - start, MADV_RANDOM)
    return done


def release_mapped_file(path: str | os.PathLike[str]) -> int:
    """Drop this process's resident pages of a memory-mapped file; returns bytes advised.

    Why: onnxruntime memory-maps the aligned external-data file, reads every weight once to
    pre-pack it into its own kernel layout, and keeps the mapping. Those source pages would stay
    counted in the process's RSS although the kernels never read them again (on a 512 MB Pi Zero
    that is a fifth of the budget). ``MADV_DONTNEED`` on a private file mapping only drops the
    file's pages from this process (mappings with copy-on-write pages are left alone); anything
    still read through the mapping later (the scales onnxruntime keeps mapped; the embedding
    table of a version-1 graph, whose lookup is in the graph) is faulted back in from the page
    cache, at random, so ``MADV_RANDOM`` follows: without it each fault would pull in ~128 KiB
    of readahead. Linux only; elsewhere it does nothing.
    """
    target = os.path.realpath(path)
    return _madvise(_clean_file_mappings(lambda _head, line: line.endswith(target)), then_random=True)


def release_load_only_code() -> int:
    """Drop this process's resident pages of read-only file mappings (shared-library code and
    constants); returns bytes advised.

    Why: loading touches code that never runs again — onnxruntime's graph optimizers and
    pre-packers, numpy's bundled OpenBLAS (3.7 MB, unused by the engine), import-time paths of
    libpython — and those pages stay counted in RSS. Dropped once after the session exists, what
    the engine does run faults back in from the page cache on first use (minor faults, within the
    first token); what it does not stays out: SmolLM2 int8 peak 314 -> 302 MB. Only mappings
    without write permission and without anonymous (copy-on-write, e.g. relocated) pages are
    touched, so no content can change: a dropped page reads back the same file bytes. Linux only.
    """
    return _madvise(_clean_file_mappings(
        lambda head, _line: len(head) >= 6 and head[5].startswith("/") and "w" not in head[1] and "s" not in head[1]))


def trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``).

    Parsing tokenizer.json and the graph leaves tens of MB freed but still mapped in glibc's
    arenas; trimming once after loading lowers the baseline that every later peak sits on. A
    no-op where glibc is not the allocator.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
