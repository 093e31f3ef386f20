"""The exported MiniLM graph and the on-device runtime: contract, pooling in the graph, batching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgemem.interfaces import Embedder
from edgemem.memory.embedder import OnnxEmbedder


def test_graph_contract(minilm_embedder_dir: Path) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(minilm_embedder_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in sess.get_inputs()] == [("input_ids", "tensor(int64)"),
                                                             ("attention_mask", "tensor(int64)")]
    out = sess.get_outputs()[0]
    assert out.name == "sentence_embedding" and out.shape[-1] == 384
    meta = json.loads((minilm_embedder_dir / "embedder.json").read_text())
    assert meta["dim"] == 384 and meta["cosine_fp32_vs_torch"] >= 0.9999
    assert (minilm_embedder_dir / "tokenizer.json").exists()


def test_runtime_embeds_normalized_and_order_independent(minilm_embedder_dir: Path) -> None:
    emb = OnnxEmbedder(minilm_embedder_dir, threads=1, batch_tokens=64)  # small batches: several runs
    assert isinstance(emb, Embedder) and emb.dim == 384
    texts = ["I take ibuprofen for back pain.", "hi", "", "My blood pressure is high. " * 80,
             "I am allergic to penicillin.", "Penicillin gives me a rash."]
    vecs = emb.embed(texts)
    assert vecs.shape == (6, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    one_by_one = np.stack([emb.embed([t])[0] for t in texts])
    assert np.allclose(vecs, one_by_one, atol=1e-4)  # padding and batching change nothing
    # Meaning, not strings: the two allergy sentences are closer to each other than to back pain.
    assert vecs[4] @ vecs[5] > vecs[4] @ vecs[0] + 0.1
    assert emb.embed([]).shape == (0, 384)


def test_memory_path_never_imports_the_training_stack(minilm_embedder_dir: Path, tmp_path: Path) -> None:
    """A fresh process stores, embeds, consolidates and searches without torch & co."""
    import subprocess
    import sys

    code = f"""
import sys
from edgemem.memory import MemoryService, OnnxEmbedder
from edgemem.privacy.cipher import DataKey
svc = MemoryService({str(tmp_path / 'home')!r}, OnnxEmbedder({str(minilm_embedder_dir)!r}), DataKey.generate())
sid = svc.start_session("p")
svc.add_turn("p", sid, "user", "I take metformin and I am allergic to latex.")
svc.end_session("p", sid)
assert svc.search("p", "latex allergy", 3)
svc.close()
print(sorted(m for m in ("torch", "transformers", "peft", "optimum") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_quantized_export_ships_only_what_passes_the_gate(tmp_path: Path) -> None:
    """nbits8 (block-wise int8) ships when it keeps every check text within the cosine gate, and the
    runtime reads it like the fp32 graph; an unknown method is refused before any work."""
    import onnx
    import pytest

    from edgemem.errors import EdgememError
    from export.embedder import CHECK_TEXTS, GATE, export_embedder

    with pytest.raises(EdgememError):
        export_embedder(None, tmp_path / "bad", quantize="int3")
    res = export_embedder(None, tmp_path / "q", quantize="nbits8")
    assert res["check_texts"] == len(CHECK_TEXTS)
    passed = res["cosine_int8_vs_fp32"] >= GATE
    assert res["quantization"] == ("nbits8" if passed else "fp32 (int8 rejected)")
    assert res["io"]["quantization"] == res["quantization"]
    ops = {n.op_type for n in onnx.load(str(tmp_path / "q" / "model.onnx"), load_external_data=False).graph.node}
    assert ("MatMulNBits" in ops) == passed
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["embedder.json", "model.onnx", "tokenizer.json"]
    vecs = OnnxEmbedder(tmp_path / "q").embed(["Thank you.", "I am allergic to penicillin."])
    assert vecs.shape == (2, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)


def test_a_decoder_is_not_taken_for_the_embedder(tiny_bundle: Path) -> None:
    """A bundle folder without embedder/ holds a decoder model.onnx + tokenizer.json; loading it as
    the embedder must say so, not fail later inside a patient's first message."""
    import pytest

    from edgemem.errors import EdgememError

    with pytest.raises(EdgememError, match="not a sentence embedder"):
        OnnxEmbedder(tiny_bundle)


def test_embedder_threads_do_not_spin_after_a_run(minilm_embedder_dir: Path) -> None:
    """The embedder runs right before the engine's prefill on the same cores: its pool threads
    must park, not spin (docs/memory.md, "The embedder's threads")."""
    emb = OnnxEmbedder(minilm_embedder_dir, threads=2)
    opts = emb.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
