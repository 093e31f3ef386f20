"""On-device LoRA merge (numpy, no torch) against an off-device float merge of the same adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgemem.sync.device_merge import LoraWeight, merge_into
from edgemem.onnx_wire import external_tensors

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@pytest.fixture(scope="module")
def lora_case(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from safetensors.numpy import load_file, save_file

    root = tmp_path_factory.mktemp("merge")
    rng = np.random.default_rng(1)
    weights = load_file(str(tiny_llama_dir / "model.safetensors"))
    lora = {}
    for name, w in weights.items():
        if any(t in name for t in TARGETS):
            out, inn = w.shape
            lora[name] = LoraWeight(a=rng.normal(0, 0.05, (4, inn)).astype(np.float32),
                                    b=rng.normal(0, 0.05, (out, 4)).astype(np.float32), scale=2.0)
    merged = root / "merged-hf"
    shutil.copytree(tiny_llama_dir, merged)
    save_file({k: (v + lora[k].delta() if k in lora else v) for k, v in weights.items()},
              str(merged / "model.safetensors"), metadata={"format": "pt"})
    return {"root": root, "lora": lora, "base_hf": tiny_llama_dir, "merged_hf": merged}


def _build(hf: Path, out: Path, q: str) -> dict:
    from export.onnx_graph import build_decoder

    return build_decoder(hf, out, quantization=q, context_length=256)["io"]


def test_wire_reader_agrees_with_onnx(lora_case: dict) -> None:
    import onnx
    from onnx import numpy_helper

    out = lora_case["root"] / "wire"
    _build(lora_case["base_hf"], out, "int4")
    found = external_tensors(out / "model.onnx")
    model = onnx.load(str(out / "model.onnx"))
    files = {"": (out / "model.onnx").read_bytes(), "model.onnx.data": (out / "model.onnx.data").read_bytes()}
    assert len(found) == len(model.graph.initializer)
    for init in model.graph.initializer:
        t = found[init.name]
        raw = files[t.location][t.offset:t.offset + t.length]
        assert np.array_equal(np.frombuffer(raw, t.dtype).reshape(t.dims), numpy_helper.to_array(init)), init.name


@pytest.mark.parametrize("q", ["fp32", "int8"])
def test_device_merge_matches_off_device_merge(lora_case: dict, q: str) -> None:
    from edgemem.engine import DecoderModel
    from edgemem.sync.smoke import perplexity

    root = lora_case["root"]
    io = _build(lora_case["base_hf"], root / f"base-{q}", q)
    ref_io = _build(lora_case["merged_hf"], root / f"ref-{q}", q)
    dev = root / f"dev-{q}"
    shutil.copytree(root / f"base-{q}", dev)
    before = (root / f"base-{q}" / "model.onnx.data").read_bytes()
    assert merge_into(dev, io, lora_case["lora"]) == {("dense_kn" if q == "fp32" else "nbits"): 14}
    assert (root / f"base-{q}" / "model.onnx.data").read_bytes() == before, "the source must stay untouched"

    ids = list(np.random.default_rng(2).integers(3, 400, 80))
    ref = DecoderModel(str(root / f"ref-{q}" / "model.onnx"), ref_io).logits(ids)
    got = DecoderModel(str(dev / "model.onnx"), io).logits(ids)
    base = DecoderModel(str(root / f"base-{q}" / "model.onnx"), io).logits(ids)
    agree = float((ref.argmax(-1) == got.argmax(-1)).mean())
    if q == "fp32":
        assert np.abs(ref - got).max() < 1e-3
    else:
        # Re-quantizing after the merge adds one rounding step: close to, not equal to, the reference.
        assert agree >= 0.9
        assert abs(perplexity(got, ids) / perplexity(ref, ids) - 1) < 0.03
    assert float((ref.argmax(-1) == base.argmax(-1)).mean()) < 0.5, "the adapter must actually change the model"


def test_merge_refuses_a_weight_the_graph_does_not_store(lora_case: dict) -> None:
    from edgemem.errors import BundleError

    root = lora_case["root"]
    io = _build(lora_case["base_hf"], root / "refuse", "int8")
    bad = {"model.layers.9.self_attn.q_proj.weight": next(iter(lora_case["lora"].values()))}
    with pytest.raises(BundleError, match="does not store"):
        merge_into(root / "refuse", io, bad)


def test_device_merge_into_the_mixed_int4_gptq_layout(lora_case: dict) -> None:
    """int4-gptq keeps qkv/down 8-bit (symmetric) and o/gate_up 4-bit with zero points: the device
    merge must patch both layouts of one graph, and the merged model must follow the adapter."""
    from edgemem.engine import DecoderModel
    from edgemem.sync.smoke import perplexity

    root = lora_case["root"]
    io = _build(lora_case["base_hf"], root / "base-g", "int4-gptq")
    ref_io = _build(lora_case["merged_hf"], root / "ref-g", "int4-gptq")
    bits = {e["tensor"]: e.get("bits", io["quantization"]["bits"]) for e in io["weights"].values()}
    assert {b for t, b in bits.items() if "qkv_proj" in t or "down_proj" in t} == {8}
    assert {b for t, b in bits.items() if "o_proj" in t or "gate_up_proj" in t} == {4}
    dev = root / "dev-g"
    shutil.copytree(root / "base-g", dev)
    assert merge_into(dev, io, lora_case["lora"]) == {"nbits": 14}
    ids = list(np.random.default_rng(2).integers(3, 400, 80))
    ref = DecoderModel(str(root / "ref-g" / "model.onnx"), ref_io).logits(ids)
    got = DecoderModel(str(dev / "model.onnx"), io).logits(ids)
    base = DecoderModel(str(root / "base-g" / "model.onnx"), io).logits(ids)
    # On this random tiny model (perplexity ~590 over a 512-token vocabulary) the adapter's deltas
    # are about one 4-bit step, and 4-bit rounding alone keeps only ~70 % of fp32's greedy choices,
    # so argmax agreement says little here (0.50; the exact-Q4_1 int4 layout: 0.43). What must
    # hold: the merge moves the logits toward the off-device merge (unmerged = 1.0; measured 0.70,
    # int4 0.81, int8 0.08) and costs at most a few percent of perplexity (measured +4.9 %).
    moved = float(np.abs(got - ref).mean()) / float(np.abs(base - ref).mean())
    assert moved < 0.85, moved
    assert abs(perplexity(got, ids) / perplexity(ref, ids) - 1) < 0.08
