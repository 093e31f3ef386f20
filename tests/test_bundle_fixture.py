"""The shared ``tiny_bundle`` fixture is a real, verifiable bundle (other suites stand on it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edgemem import bundle
from edgemem.cli.main import run
from edgemem.errors import BundleError


def test_tiny_bundle_verifies_with_the_home_trust(tiny_bundle: Path, tiny_bundle_key: Path) -> None:
    m = bundle.verify(tiny_bundle)
    assert m.profile == "pi-5" and m.quantization == "int8" and m.version == 1
    assert {"model.onnx", "model.onnx.data", "tokenizer.json", "embedder/model.onnx",
            "embedder/tokenizer.json"} <= set(m.files)
    assert m.quality["passed"] and not m.quality["forced"]
    assert m.special_tokens["im_start"] == 1 and m.stop_token_ids == [2]
    assert m.architecture["context_length"] == 512 and m.embedder["dim"] == 384
    assert bundle.verify(tiny_bundle.with_name("bundle.tar")).version == 1
    assert run(["verify", str(tiny_bundle), "--key", str(tiny_bundle_key)]) == 0


def test_tiny_bundle_golden_text_scores_under_its_limit(tiny_bundle: Path) -> None:
    from tokenizers import Tokenizer

    from edgemem.engine import DecoderModel

    m = bundle.verify(tiny_bundle)
    tok = Tokenizer.from_file(str(m.path("tokenizer.json")))
    ids = tok.encode(m.golden["text"]).ids
    logits = DecoderModel(m.path("model.onnx"), m.io, threads=1).logits(ids).astype(np.float64)
    lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    ppl = float(np.exp(np.mean(lse[:-1] - logits[np.arange(len(ids) - 1), ids[1:]])))
    assert ppl <= m.golden["max_ppl"]
    assert ppl == pytest.approx(m.golden["ppl"], rel=1e-3)


def test_copy_of_tiny_bundle_detects_tampering(tiny_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[-1] ^= 0x80
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.onnx does not match"):
        bundle.verify(copy)
