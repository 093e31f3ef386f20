"""The decoder session with a real KV cache: preallocated, bound once, never copied.

Why it looks like this: a naive loop feeds 60 ``present`` arrays back as the next ``past`` every
token (a whole-cache copy per step) and rebuilds its inputs in Python. Here every layer's K and V
live in ONE buffer ``[1, kv_heads, context_length, head_dim]`` that is bound both as the
``past_*`` input and as the ``present_*`` output (GroupQueryAttention writes the new rows in
place), the decode step's small inputs are numpy arrays bound once and updated in place, and the
logits land in a preallocated array. Per token, Python reads one embedding row (two ``pread``s,
``embedding.py`` says why the lookup is not in the graph), writes two scalars, calls
``run_with_iobinding`` once and takes one argmax/sample over a single row.

The cache remembers which token ids it holds (``cached_ids``), so a new prompt that shares a
prefix with them only feeds its new tokens (prefix reuse). Rewinding is free: attention reads
only the first ``seqlens_k + 1`` rows, so stale rows past the prefix are simply overwritten.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..errors import BundleError, InputError
from .embedding import EmbeddingTable
from .session import create_session

# Prefill runs in chunks: GroupQueryAttention's score scratch grows with chunk x context and the
# arena keeps its high-water mark. 128 -> 64 measured -8 MB peak RSS on SmolLM2 int8 after a
# 1,017-token conversation, 64 -> 32 another -5 MB (benchmarks/engine_memory.py), which is what
# brings int8 under 1.2x llama.cpp's peak. The price, measured in one process: prefill 7-15%
# slower at 50 tokens (first-turn TTFT stays ~3x under llama.cpp's), ~2% at 1,017; a follow-up
# turn of <= 32 tokens is one chunk either way. MatMulNBits costs about the same per row at any M.
PREFILL_CHUNK = 32


class DecoderModel:
    """A decoder graph built by ``export.onnx_graph`` plus its KV cache.

    ``logits(ids)`` is teacher forcing from an empty cache (quality gate, smoke tests);
    ``feed(ids)`` / ``step(token)`` drive generation and keep the cache.
    """

    def __init__(self, onnx_path: str | os.PathLike[str], io: dict[str, Any], *, threads: int = 2,
                 providers: Sequence[str] = ("CPUExecutionProvider",), arena: bool = True) -> None:
        self.io = io
        try:
            kv = io["kv_cache"]
            self.layers = int(kv["layers"])
            self.cache_shape = tuple(int(d) for d in kv["shape"])
            self.vocab = int(io["outputs"]["logits"]["shape"][-1])
        except (KeyError, TypeError, ValueError) as e:
            raise BundleError(f"manifest model.io is not a decoder contract this engine understands ({e})") from None
        self.context_length = self.cache_shape[2]
        self.kv_dtype = np.float16 if kv.get("dtype") == "float16" else np.float32
        self.session = create_session(onnx_path, threads=threads, providers=providers, arena=arena)
        self.providers = self.session.get_providers()
        data_file = io.get("data_file")
        if data_file:
            from .session import release_mapped_file

            release_mapped_file(os.path.join(os.path.dirname(os.fspath(onnx_path)), data_file))
        from .session import release_load_only_code, trim_heap

        trim_heap()
        release_load_only_code()
        import onnxruntime as ort

        self._ort = ort
        # np.zeros is calloc: pages become resident only as the context actually fills.
        self._kv_arrays: list[np.ndarray] = []
        self._kv_values: list[tuple[str, str, Any]] = []
        for i in range(self.layers):
            for kind in ("key", "value"):
                arr = np.zeros(self.cache_shape, dtype=self.kv_dtype)
                self._kv_arrays.append(arr)
                self._kv_values.append((kv[f"past_{kind}"].format(layer=i), kv[f"present_{kind}"].format(layer=i),
                                        ort.OrtValue.ortvalue_from_numpy(arr)))
        self.cached_ids: list[int] = []
        # Graphs since io version 2 take inputs_embeds and leave the lookup to us (embedding.py
        # says why); older bundles still take input_ids.
        self._embed: EmbeddingTable | None = None
        if "inputs_embeds" in io.get("inputs", {}):
            try:
                self._embed = EmbeddingTable(os.path.dirname(os.fspath(onnx_path)), io["embedding"])
            except (KeyError, TypeError) as e:
                raise BundleError(f"manifest model.io lacks the embedding table's description ({e})") from None
            self._tok = np.zeros((1, 1, self._embed.hidden), self._embed.out_dtype)
            self._ids_input = "inputs_embeds"
        else:
            self._tok = np.zeros((1, 1), np.int64)
            self._ids_input = "input_ids"
        # The decode step: inputs bound once, updated in place.
        self._seqlens = np.zeros((1,), np.int32)
        self._total = np.zeros((), np.int32)
        self._pos0 = np.zeros((1,), np.int64)
        self._step_logits = np.zeros((1, 1, self.vocab), np.float32)
        self._step_binding = self._binding()
        for name, arr in ((self._ids_input, self._tok), ("seqlens_k", self._seqlens),
                          ("total_sequence_length", self._total), ("logits_positions", self._pos0)):
            self._step_binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(arr))
        self._step_binding.bind_ortvalue_output("logits", ort.OrtValue.ortvalue_from_numpy(self._step_logits))
        # Prefill chunks: one binding with the KV buffers bound once (rebinding 60 of them cost
        # ~0.1 ms a chunk); a one-row chunk writes its logits into a preallocated array.
        self._chunk_binding = self._binding(logits_first=True)
        self._chunk_logits = np.zeros((1, 1, self.vocab), np.float32)
        self._chunk_logits_value = ort.OrtValue.ortvalue_from_numpy(self._chunk_logits)

    def _binding(self, logits_first: bool = False) -> Any:
        binding = self.session.io_binding()
        if logits_first:
            binding.bind_output("logits")  # first, so it stays get_outputs()[0] when rebound
        for past, present, value in self._kv_values:
            binding.bind_ortvalue_input(past, value)
            binding.bind_ortvalue_output(present, value)
        return binding

    # -- cache bookkeeping -------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the cached tokens (the buffers are reused; their stale rows are never read)."""
        self.cached_ids = []

    def common_prefix(self, ids: Sequence[int]) -> int:
        """How many leading ``ids`` are already in the cache."""
        n = 0
        for a, b in zip(self.cached_ids, ids):
            if a != b:
                break
            n += 1
        return n

    def rewind(self, length: int) -> None:
        """Keep only the first ``length`` cached tokens."""
        del self.cached_ids[length:]

    def snapshot(self, rows: int) -> tuple[list[int], list[np.ndarray]]:
        """The cached ids and a copy of the first ``rows`` KV rows: what ``restore`` puts back."""
        rows = min(rows, len(self.cached_ids))
        return list(self.cached_ids), [a[:, :, :rows].copy() for a in self._kv_arrays]

    def restore(self, snap: tuple[list[int], list[np.ndarray]]) -> None:
        ids, saved = snap
        for arr, rows in zip(self._kv_arrays, saved):
            arr[:, :, :rows.shape[2]] = rows
        self.cached_ids = list(ids)

    # -- running -----------------------------------------------------------------------------
    def feed(self, ids: Sequence[int], *, all_logits: bool = False) -> np.ndarray:
        """Append ``ids`` to the cache; return logits of the last position ``[vocab]`` (or of all
        fed positions ``[len(ids), vocab]`` when ``all_logits``)."""
        ids = [int(t) for t in ids]
        if not ids:
            raise InputError("nothing to feed")
        past = len(self.cached_ids)
        if past + len(ids) > self.context_length:
            raise InputError(f"{past + len(ids)} tokens exceed the context window of {self.context_length}")
        if len(ids) == 1 and not all_logits:
            return self.step(ids[0])
        outs = []
        for start in range(0, len(ids), PREFILL_CHUNK):
            chunk = ids[start:start + PREFILL_CHUNK]
            last_chunk = start + PREFILL_CHUNK >= len(ids)
            # Without all_logits only the last row of the last chunk is used; earlier chunks still
            # ask for one row, the cheapest the graph allows.
            positions = (np.arange(len(chunk), dtype=np.int64) if all_logits
                         else np.array([len(chunk) - 1], np.int64))
            logits = self._run_chunk(chunk, positions)
            if all_logits:
                outs.append(logits)
            elif last_chunk:
                outs.append(logits[-1:])
        return np.concatenate(outs) if all_logits else outs[-1][0]

    def _run_chunk(self, chunk: list[int], positions: np.ndarray) -> np.ndarray:
        past = len(self.cached_ids)
        total = past + len(chunk)
        binding = self._chunk_binding
        one_row = len(positions) == 1
        if one_row:
            binding.bind_ortvalue_output("logits", self._chunk_logits_value)
        else:
            binding.bind_output("logits")
        if self._embed is not None:
            binding.bind_cpu_input("inputs_embeds", self._embed.lookup(chunk)[None])
        else:
            binding.bind_cpu_input("input_ids", np.array([chunk], np.int64))
        binding.bind_cpu_input("seqlens_k", np.array([total - 1], np.int32))
        binding.bind_cpu_input("total_sequence_length", np.array(total, np.int32))
        binding.bind_cpu_input("logits_positions", positions)
        self.session.run_with_iobinding(binding)
        self.cached_ids.extend(chunk)
        return self._chunk_logits[0].copy() if one_row else binding.get_outputs()[0].numpy()[0]

    def step(self, token: int) -> np.ndarray:
        """One decode step: the fast path. Returns logits ``[vocab]`` (a view, valid until the next step)."""
        past = len(self.cached_ids)
        if past + 1 > self.context_length:
            raise InputError(f"the context window of {self.context_length} tokens is full")
        if self._embed is not None:
            self._embed.lookup((token,), out=self._tok[0])
        else:
            self._tok[0, 0] = token
        self._seqlens[0] = past
        self._total[()] = past + 1
        self.session.run_with_iobinding(self._step_binding)
        self.cached_ids.append(int(token))
        return self._step_logits[0, 0]

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        """Teacher-forced logits ``[len(ids), vocab]`` float32 from an empty cache."""
        self.reset()
        try:
            return np.array(self.feed(ids, all_logits=True), dtype=np.float32)
        finally:
            self.reset()
