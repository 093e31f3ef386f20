"""The fused decoder graph against transformers' LlamaForCausalLM on the tiny random Llama.

The fp32 graph must reproduce the reference logits for a full prompt, step by step through the
shared KV buffer, and for a multi-token chunk on top of a cached prefix (prefix reuse). The
quantized graphs must stay close and keep greedy choices mostly the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgemem import quant
from edgemem.engine import DecoderModel
from export.onnx_graph import GraphError, build_decoder

CTX = 256


@pytest.fixture(scope="module")
def reference(tiny_llama_dir: Path) -> tuple[list[int], np.ndarray]:
    torch = pytest.importorskip("torch")
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(tiny_llama_dir).eval()
    ids = [int(t) for t in np.random.RandomState(0).randint(3, model.config.vocab_size, size=48)]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].numpy()
    return ids, logits


@pytest.fixture(scope="module")
def built(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    import json

    from export import gptq

    vocab = json.loads((tiny_llama_dir / "config.json").read_text())["vocab_size"]
    calibration = [[int(t) for t in np.random.RandomState(100 + i).randint(3, vocab, 64)] for i in range(4)]
    out = {}
    for q in ("fp32", "int8", "int4", "int4-gptq"):
        d = tmp_path_factory.mktemp(f"graph-{q}")
        hs = gptq.hessians(tiny_llama_dir, calibration, threads=1) if q == "int4-gptq" else None
        result = build_decoder(tiny_llama_dir, d, quantization=q, context_length=CTX, hessians=hs)
        out[q] = (d, result)
    return out


def test_build_returns_contract(built: dict) -> None:
    d, result = built["int8"]
    assert sorted(result["files"]) == ["model.onnx", "model.onnx.data"]
    assert all((d / f).is_file() for f in result["files"])
    arch = result["architecture"]
    assert set(arch) == {"layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab",
                         "rope_theta", "rms_eps", "context_length"}
    io = result["io"]
    assert io["kv_cache"]["shape"] == [1, arch["kv_heads"], CTX, arch["head_dim"]]
    assert set(io["inputs"]) == {"inputs_embeds", "seqlens_k", "total_sequence_length", "logits_positions"}
    # Every HF weight of a layer is findable inside the fused initializers.
    w = io["weights"]
    # The engine's embedding lookup reads the tensor the LM head uses (one 8-bit table).
    assert io["embedding"]["tensor"] == w["model.embed_tokens.weight"]["tensor"]
    if io["embedding"]["tied"]:
        assert w["lm_head.weight"]["tensor"] == io["embedding"]["tensor"]
    q = w["model.layers.0.self_attn.q_proj.weight"]
    k = w["model.layers.0.self_attn.k_proj.weight"]
    assert q["tensor"] == k["tensor"] and k["row_offset"] == q["rows"]
    assert w["model.layers.1.mlp.up_proj.weight"]["row_offset"] == w["model.layers.1.mlp.gate_proj.weight"]["rows"]


def test_fp32_matches_transformers(built: dict, reference: tuple) -> None:
    ids, ref = reference
    d, result = built["fp32"]
    model = DecoderModel(d / "model.onnx", result["io"], threads=1)
    logits = model.logits(ids)
    assert logits.shape == ref.shape and logits.dtype == np.float32
    np.testing.assert_allclose(logits, ref, atol=1e-4, rtol=1e-4)


def test_fp32_stepwise_decode_matches(built: dict, reference: tuple) -> None:
    ids, ref = reference
    d, result = built["fp32"]
    model = DecoderModel(d / "model.onnx", result["io"], threads=1)
    rows = [model.feed(ids[:8]).copy()]
    for t in ids[8:]:
        rows.append(model.step(t).copy())
    np.testing.assert_allclose(np.stack(rows), ref[7:], atol=1e-4, rtol=1e-4)
    assert model.cached_ids == ids


def test_prefix_reuse_matches_fresh_run(built: dict, reference: tuple) -> None:
    ids, ref = reference
    d, result = built["fp32"]
    model = DecoderModel(d / "model.onnx", result["io"], threads=1)
    model.feed(ids)  # the whole sequence is cached ...
    other = ids[:30] + [5, 6, 7]
    n = model.common_prefix(other)
    assert n == 30
    model.rewind(n)  # ... keep the shared prefix, overwrite the rest in place
    tail = model.feed(other[n:], all_logits=True)
    fresh = DecoderModel(d / "model.onnx", result["io"], threads=1).logits(other)
    np.testing.assert_allclose(tail, fresh[30:], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(fresh[:30], ref[:30], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("q, max_diff, min_agree", [("int8", 0.3, 0.9), ("int4", 2.0, 0.6), ("int4-gptq", 2.0, 0.6)])
def test_quantized_close_to_reference(built: dict, reference: tuple, q: str, max_diff: float, min_agree: float) -> None:
    ids, ref = reference
    d, result = built[q]
    logits = DecoderModel(d / "model.onnx", result["io"], threads=1).logits(ids)
    assert np.abs(logits - ref).max() < max_diff
    assert (logits.argmax(-1) == ref.argmax(-1)).mean() >= min_agree
    # and not trivially equal: the quantized graph really is a different computation
    assert np.abs(logits - ref).max() > 1e-5


@pytest.mark.parametrize("q", ["int8", "int4", "int4-gptq"])
def test_lm_head_is_listed_first(built: dict, q: str) -> None:
    """onnxruntime pre-packs in listed order; the LM head first keeps its source pages off the
    load's RSS peak (export.onnx_graph says why). The graph still runs (test_quantized_close_to_reference)."""
    import onnx

    d, _ = built[q]
    nodes = onnx.load(str(d / "model.onnx"), load_external_data=False).graph.node
    assert nodes[0].name == "lm_head/MatMulNBits" and nodes[0].output[0] == "logits"
    assert sum(n.name == "lm_head/MatMulNBits" for n in nodes) == 1


def test_context_overflow_is_an_error(built: dict) -> None:
    from edgemem.errors import InputError

    d, result = built["int8"]
    model = DecoderModel(d / "model.onnx", result["io"], threads=1)
    with pytest.raises(InputError):
        model.feed([3] * (CTX + 1))


def test_bad_quantization_and_folder(tiny_llama_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(GraphError):
        build_decoder(tiny_llama_dir, tmp_path, quantization="int3", context_length=CTX)
    with pytest.raises(GraphError):
        build_decoder(tmp_path, tmp_path / "out", quantization="int8", context_length=CTX)
    with pytest.raises(GraphError):
        build_decoder(tiny_llama_dir, tmp_path, quantization="int8", context_length=10**6)


def test_lora_merge_roundtrip_through_io_weights(built: dict, tiny_llama_dir: Path) -> None:
    """The sync engineer's path: dequantize rows of a fused tensor, add a delta, requantize."""
    import onnx
    from onnx import numpy_helper

    d, result = built["int4"]
    entry = result["io"]["weights"]["model.layers.0.self_attn.v_proj.weight"]
    model = onnx.load(str(d / "model.onnx"))
    inits = {t.name: numpy_helper.to_array(t, base_dir=str(d)) for t in model.graph.initializer}
    bits = result["io"]["quantization"]["bits"]
    assert entry["layout"] == "nbits" and entry.get("offsets")
    t = entry["tensor"]
    qm = quant.QuantizedMatrix(packed=inits[t], scales=inits[t + "_scales"], zero_points=inits.get(t + "_zero_points"),
                               bits=bits, block=32, k=entry["cols"], offsets=inits[t + "_offsets"])
    rows = quant.slice_rows(qm, entry["row_offset"], entry["row_offset"] + entry["rows"])
    from safetensors.numpy import load_file

    hf = load_file(str(tiny_llama_dir / "model.safetensors"))["model.layers.0.self_attn.v_proj.weight"]
    w = quant.dequantize(rows)
    assert w.shape == hf.shape
    # 4-bit min/max grid: error within half a step of each block's range
    blocks = hf.reshape(hf.shape[0], -1, 32)
    step = (blocks.max(-1) - blocks.min(-1)) / 15
    assert np.all(np.abs(w - hf).reshape(hf.shape[0], -1, 32) <= step[..., None] * 0.5 + 1e-5)
    # merging a delta and requantizing (what the device does for a LoRA) keeps the same layout
    merged = quant.quantize_offset(w + 0.01, bits=4)
    assert merged.packed.shape == rows.packed.shape and merged.offsets.shape == rows.offsets.shape


def test_fp16_kv_cache_is_consistent_across_paths(tiny_llama_dir: Path, tmp_path: Path, built: dict) -> None:
    """kv_dtype="float16" (attention in fp16 inside a float32 graph): cached decode agrees with one full pass."""
    result = build_decoder(tiny_llama_dir, tmp_path, quantization="int8", context_length=CTX, kv_dtype="float16")
    assert result["io"]["kv_cache"]["dtype"] == "float16" and built["int8"][1]["io"]["kv_cache"]["dtype"] == "float32"
    ids = [int(t) for t in np.random.RandomState(1).randint(3, 300, size=40)]
    model = DecoderModel(tmp_path / "model.onnx", result["io"], threads=1)
    full = model.logits(ids)
    rows = [model.feed(ids[:8]).copy()] + [model.step(t).copy() for t in ids[8:]]
    np.testing.assert_allclose(np.stack(rows), full[7:], atol=2e-2)
    assert model._kv_arrays[0].dtype == np.float16
    with pytest.raises(GraphError):
        build_decoder(tiny_llama_dir, tmp_path / "x", quantization="int8", context_length=CTX, kv_dtype="int8")


@pytest.mark.parametrize("q", ["fp32", "int8"])
def test_embedding_lookup_reads_the_lm_head_table(built: dict, q: str) -> None:
    """The engine's numpy lookup returns exactly the rows of the (tied) table the graph's LM head uses."""
    import onnx
    from onnx import numpy_helper

    from edgemem.engine.embedding import EmbeddingTable

    d, result = built[q]
    spec = result["io"]["embedding"]
    inits = {t.name: numpy_helper.to_array(t, base_dir=str(d)) for t in onnx.load(str(d / "model.onnx")).graph.initializer}
    ids = [5, 3, 5, 0, spec["vocab"] - 1]
    got = EmbeddingTable(d, spec).lookup(ids)
    if spec["layout"] == "nbits":
        qm = quant.QuantizedMatrix(packed=inits[spec["tensor"]], scales=inits[spec["scales"]], zero_points=None,
                                   bits=8, block=spec["block"], k=spec["hidden"])
        want = quant.dequantize(qm)[ids]
    else:
        want = inits[spec["tensor"]][ids]
    assert got.shape == (len(ids), spec["hidden"]) and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_int4_gptq_uses_the_kernels_zero_points(built: dict) -> None:
    """No offset term (the point of the build: one MatMulNBits per projection), uint8 zero points
    on every 4-bit layer, and the manifest says how the weights were rounded."""
    import onnx

    d, result = built["int4-gptq"]
    graph = onnx.load(str(d / "model.onnx"), load_external_data=False).graph
    names = {t.name for t in graph.initializer}
    layers = [n for n in graph.node if n.op_type == "MatMulNBits" and n.name != "lm_head/MatMulNBits"]
    bits = {n.name: next(a.i for a in n.attribute if a.name == "bits") for n in layers}
    four = [n for n in layers if bits[n.name] == 4]
    # 4-bit: o_proj and gate_up_proj, with zero points; 8-bit (symmetric): qkv_proj and down_proj
    assert {n.name.split(".")[-1].split("/")[0] for n in four} == {"o_proj", "gate_up_proj"}
    assert all(len(n.input) == 4 and n.input[3] in names for n in four)
    assert all(len(n.input) == 3 for n in layers if bits[n.name] == 8)
    assert {n.name.split(".")[-1].split("/")[0] for n in layers if bits[n.name] == 8} == {"qkv_proj", "down_proj"}
    assert not [n for n in graph.node if "Offsets" in n.name or "BlockSums" in n.name]
    qinfo = result["io"]["quantization"]
    assert qinfo["rounding"] == "gptq" and qinfo["bits"] == 4 and not qinfo["offsets"] and qinfo["symmetric"] is False
