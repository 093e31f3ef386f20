"""The follow-up roofline benchmark counts the work the real graph does and measures real kernels."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import onnx
import pytest
from onnx import helper

from benchmarks.engine_roofline import classify, followup_macs, main


def _arch(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())["model"]["architecture"]


def test_weight_macs_are_the_graphs_matmuls(tiny_bundle: Path) -> None:
    """Every MatMulNBits in model.onnx is K x N MACs a token; the LM head runs for the last token only."""
    graph = onnx.load(str(tiny_bundle / "model.onnx"), load_external_data=False).graph
    per_token, head = 0, 0
    for node in graph.node:
        if node.op_type != "MatMulNBits":
            continue
        at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if "lm_head" in node.name or node.input[1] == "model.embed_tokens.weight":
            head += at["K"] * at["N"]
        else:
            per_token += at["K"] * at["N"]
    assert per_token and head
    macs = followup_macs(_arch(tiny_bundle), past=40, new=6)
    assert sum(v for k, v in macs.items() if k not in ("attention", "lm_head")) == per_token * 6
    assert macs["lm_head"] == head


def test_attention_macs_count_each_query_against_the_keys_it_sees() -> None:
    arch = {"hidden": 8, "intermediate": 16, "head_dim": 4, "heads": 2, "kv_heads": 1, "layers": 3, "vocab": 10}
    past, new = 5, 3
    keys_seen = 0
    for q in range(new):  # query q is at position past + q and sees positions 0..past + q
        keys_seen += len(range(past + q + 1))
    assert keys_seen == 6 + 7 + 8
    assert followup_macs(arch, past, new)["attention"] == 2 * 2 * 4 * keys_seen * 3


def test_ops_are_classed_by_what_they_compute() -> None:
    assert classify("MatMulNBits:gate_up_proj") == "weights"
    assert classify("DynamicQuantizeMatMul") == "weights"
    assert classify("GroupQueryAttention") == "attention"
    assert classify("SkipSimplifiedLayerNormalization") == "other"


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64") or not (shutil.which("cc") or shutil.which("gcc")),
                    reason="the peak loops are AVX2 C: x86-64 with a C compiler only")
def test_roofline_measures_peaks_and_the_follow_up(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "roofline.json"
    assert main(["--bundle", str(tiny_bundle), "--past", "40", "--followup", "6", "--runs", "1",
                 "--peak-repeats", "1", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["peak_gmacs"]["median"]["fp32_fma"] > 0.5 and r["peak_gmacs"]["median"]["int8_maddubs"] > 0.5
    for c in ("weights", "attention"):
        assert r["classes"][c]["kernel_ms"] > 0
        assert 0 < r["classes"][c]["floor_ms"] < r["classes"][c]["kernel_ms"] * 2
    assert r["floor_ms"] > 0 and r["kernel_ms_total"] >= r["classes"]["weights"]["kernel_ms"]
    assert r["quantization"] == "int8"


def test_roofline_refuses_a_folder_without_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no manifest.json"):
        main(["--bundle", str(tmp_path)])
