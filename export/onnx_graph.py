"""HF Llama folder -> one fused onnxruntime decoder graph, built directly from the weights.

Why not optimum: its export is a graph of hundreds of small ops (attention, RMSNorm and rotary
spelled out), with ``present`` KV outputs that must be copied back as the next ``past``; driven
from Python it reaches a third of llama.cpp's decode speed here (see FACTS.md). This builder
writes the graph onnxruntime's fastest CPU kernels want, from ``model.safetensors`` +
``config.json`` with numpy only (no torch):

* ``SimplifiedLayerNormalization`` / ``SkipSimplifiedLayerNormalization`` (RMSNorm fused with the
  residual add),
* ``GroupQueryAttention`` with packed QKV, rotary inside (cos/sin caches) and past/present KV of
  shape ``[1, kv_heads, context_length, head_dim]`` per layer, meant to share ONE preallocated
  buffer bound to both the past input and the present output (no per-step cache copy),
* ``MatMulNBits`` (int8/int4, block 32, ``accuracy_level=4``: int8 activations, VNNI) with q/k/v
  fused into one projection and gate/up into another; the (tied) 8-bit embedding table is an
  initializer of the LM head only,
* an ``inputs_embeds`` input instead of token ids: the engine reads the embedding rows it needs
  from that same initializer in the data file (``edgemem.engine.embedding``), so the table is
  resident once (pre-packed for the head), not twice,
* a ``logits_positions`` input: the final norm output is gathered to those rows before the LM
  head. Prefill asks for the last row only (the 49,152-wide head is a fifth of the model's
  compute); teacher-forced scoring asks for all rows from the same graph.

The exact inputs, outputs and weight layout go into the returned ``io`` dict (the bundle manifest
stores it as ``model.io``): the engine binds by those names, and on-device LoRA merging finds each
HF weight's rows inside the fused initializers through ``io["weights"]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgemem import quant
from edgemem.errors import EdgememError
from edgemem.profiles import QUANTIZATIONS  # one list: what a profile may ask for is what builds

from . import gptq

# Builds whose linear layers are MatMulNBits, and their weight bits.
INTEGER_BITS = {"int8": 8, "int4": 4, "int4-gptq": 4}
BLOCK = 32
MS = "com.microsoft"
IO_VERSION = 2  # 2: inputs_embeds instead of input_ids; the engine does the lookup (io['embedding'])
# In an int4 build, linear layers whose name contains one of these stay 8-bit (mixed precision,
# as llama.cpp's K-quant mixes do for the most sensitive tensors).
DEFAULT_INT8_LAYERS: tuple[str, ...] = ()
# int4-gptq keeps the attention input projection and the MLP's down projection 8-bit. Measured on
# SmolLM2 (x86-kiosk gate, 4,076 held-out tokens, 518 prompt positions): all layers 4-bit gave
# +7.3 % perplexity and 69 % greedy agreement; 8-bit qkv alone lifted agreement to 84 %, 8-bit
# down alone cut perplexity to +4.3 %; both: +1.85 % and 93.4 %, inside the gate (docs/engine.md).
GPTQ_INT8_LAYERS: tuple[str, ...] = ("self_attn.qkv_proj", "mlp.down_proj")


class GraphError(EdgememError):
    """The HF folder cannot be turned into a decoder graph."""


def _architecture(config: dict[str, Any], context_length: int) -> dict[str, Any]:
    if config.get("model_type") not in ("llama", "mistral", "qwen2") and "LlamaForCausalLM" not in config.get("architectures", []):
        raise GraphError(f"only Llama-family models are supported, got model_type={config.get('model_type')!r}")
    if config.get("rope_scaling"):
        raise GraphError("rope_scaling is not supported by this builder")
    if config.get("attention_bias") or config.get("mlp_bias"):
        raise GraphError("attention/MLP biases are not supported by this builder")
    if config.get("hidden_act", "silu") != "silu":
        raise GraphError(f"hidden_act must be silu, got {config.get('hidden_act')!r}")
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or hidden // heads)
    max_pos = int(config.get("max_position_embeddings", context_length))
    if context_length > max_pos:
        raise GraphError(f"context_length {context_length} exceeds the model's window {max_pos}")
    return {
        "layers": int(config["num_hidden_layers"]),
        "hidden": hidden,
        "heads": heads,
        "kv_heads": int(config.get("num_key_value_heads") or heads),
        "head_dim": head_dim,
        "intermediate": int(config["intermediate_size"]),
        "vocab": int(config["vocab_size"]),
        "rope_theta": float(config.get("rope_theta", 10000.0)),
        "rms_eps": float(config.get("rms_norm_eps", 1e-5)),
        "context_length": int(context_length),
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", False)),
    }


def _load_weights(hf_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    files = sorted(hf_dir.glob("*.safetensors"))
    if not files:
        raise GraphError(f"no *.safetensors in {hf_dir}")
    weights: dict[str, np.ndarray] = {}
    for f in files:
        weights.update(load_file(str(f)))
    return weights


class _Builder:
    """Accumulates nodes and initializers; knows how to emit one linear layer per quantization."""

    def __init__(self, quantization: str, int8_layers: tuple[str, ...] = (),
                 hessians: Mapping[str, np.ndarray] | None = None) -> None:
        self.q = quantization
        self.int8_layers = int8_layers
        self.hessians = hessians or {}
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.weights: dict[str, dict[str, Any]] = {}
        self.float_type = np.float16 if quantization == "fp16" else np.float32
        self._n = 0
        self._sums: dict[str, str] = {}
        self._inits_named: set[str] = set()

    def init(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str] | int = 1, *, domain: str = "", name: str | None = None, **attrs: Any) -> list[str]:
        from onnx import helper

        self._n += 1
        name = name or f"{op}_{self._n}"
        if isinstance(outputs, int):
            outputs = [f"{name}/out{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain or None, **attrs))
        return outputs

    def block_sums(self, x: str, k: int) -> str:
        """x [.., k] -> per-block sums [.., k / BLOCK] (one MatMul with a 0/1 matrix), once per input."""
        key = f"blocksum:{x}"
        if key not in self._sums:
            ones = f"blocksum_matrix_{k}"
            if ones not in self._inits_named:
                self.init(ones, np.kron(np.eye(k // BLOCK, dtype=np.float32), np.ones((BLOCK, 1), np.float32)))
                self._inits_named.add(ones)
            self._sums[key] = self.node("MatMul", [x, ones], name=f"{x}/BlockSums")[0]
        return self._sums[key]

    def linear(self, x: str, name: str, parts: list[tuple[str, np.ndarray]]) -> str:
        """y = x @ concat(parts).T; each part is an HF ``[out, in]`` weight, fused along out."""
        k = int(parts[0][1].shape[1])
        offset = 0
        layout = "nbits" if self.q in INTEGER_BITS else "dense_kn"
        for hf_name, w in parts:
            self.weights[hf_name] = {"tensor": name, "layout": layout, "row_offset": offset,
                                     "rows": int(w.shape[0]), "cols": k}
            offset += int(w.shape[0])
        n = offset
        if self.q in INTEGER_BITS:
            bits = 8 if self.q == "int8" or any(pat in name for pat in self.int8_layers) else 4
            if bits != INTEGER_BITS[self.q]:
                for hf_name, _ in parts:
                    self.weights[hf_name].update(bits=bits, symmetric=bits == 8)
            # int4: Q4_1-style float block minimum (exact for the shipped GGUF); int4-gptq: the
            # kernel's own integer zero points, GPTQ-rounded (export.gptq), no offset term.
            offset = bits == 4 and self.q == "int4"
            if bits == 4 and self.q == "int4-gptq":
                qm = gptq.quantize_parts(parts, self.hessians)
            elif offset:
                qm = quant.concat_rows([quant.quantize_offset(w, bits=4, block=BLOCK) for _, w in parts])
            else:
                qm = quant.concat_rows([quant.quantize(w, bits=bits, block=BLOCK) for _, w in parts])
            ins = [x, self.init(name, qm.packed), self.init(name + "_scales", qm.scales)]
            if qm.zero_points is not None:
                ins.append(self.init(name + "_zero_points", qm.zero_points))
            y = self.node("MatMulNBits", ins, domain=MS, name=name + "/MatMulNBits",
                          K=k, N=n, bits=bits, block_size=BLOCK, accuracy_level=4)[0]
            if qm.offsets is None:
                return y
            for hf_name, _ in parts:
                self.weights[hf_name]["offsets"] = True
            # sum_k x_k * offset_b(k) = blocksum(x) @ offsets.T: two thin matmuls.
            sums = self.block_sums(x, k)
            # Stored [N, K/block] like the scales, so a LoRA merge patches W's rows in place; the
            # Transpose of a constant is folded once when the session loads.
            off_t = self.node("Transpose", [self.init(name + "_offsets", qm.offsets)], name=name + "/OffsetsT", perm=[1, 0])[0]
            corr = self.node("MatMul", [sums, off_t], name=name + "/Offsets")[0]
            return self.node("Add", [y, corr], name=name + "/AddOffsets")[0]
        w_kn = np.concatenate([w for _, w in parts], axis=0).T.astype(self.float_type)
        return self.node("MatMul", [x, self.init(name, w_kn)], name=name + "/MatMul")[0]


def _save_aligned(model: Any, onnx_path: Path, data_name: str, align: int = 65536, threshold: int = 1024) -> None:
    """Save with every initializer over 1 KiB in ``data_name`` at a 64 KiB-aligned offset (all
    weights, scales and offsets live in the data file, where the device's LoRA merge patches them).

    onnxruntime memory-maps external data only when an initializer's offset is aligned to the
    allocation granularity; mapped weights are file-backed pages the kernel can drop, and a
    lookup table mapped this way is resident only where it is read. (``onnx.save_model`` packs
    tensors back to back, which defeats that.)
    """
    from onnx import TensorProto

    with open(onnx_path.parent / data_name, "wb") as f:
        for t in model.graph.initializer:
            if not t.HasField("raw_data") or len(t.raw_data) < threshold:
                continue
            pos = f.tell()
            if pos % align:
                f.write(b"\0" * (align - pos % align))
                pos = f.tell()
            f.write(t.raw_data)
            del t.external_data[:]
            for key, value in (("location", data_name), ("offset", str(pos)), ("length", str(len(t.raw_data)))):
                entry = t.external_data.add()
                entry.key, entry.value = key, value
            t.data_location = TensorProto.EXTERNAL
            t.ClearField("raw_data")
        # Written back before anything maps it: an engine that loads a just-built bundle cannot
        # drop still-dirty pages of the mapped file after pre-packing (measured +16 MB RSS).
        f.flush()
        os.fsync(f.fileno())
    with open(onnx_path, "wb") as f:
        f.write(model.SerializeToString())


def build_decoder(hf_dir: Path, out_dir: Path, *, quantization: str, context_length: int,
                  int8_layers: tuple[str, ...] | None = None, kv_dtype: str | None = None,
                  hessians: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Write ``model.onnx`` + ``model.onnx.data`` into ``out_dir``; return files, io and architecture.

    ``kv_dtype`` (default float32; float16 for the fp16 build) is the KV cache's type; attention
    runs in that type, with Casts around it in a float32 graph.

    ``quantization``: ``fp32`` (the reference), ``fp16`` (GPU profiles), ``int8`` (symmetric,
    block 32), ``int4`` (block 32 with a float block minimum: the shipped Q4_1 exactly, plus an
    offset term per projection) or ``int4-gptq`` (block 32 with MatMulNBits' integer zero points,
    rounded by GPTQ under ``hessians`` = ``export.gptq.hessians``; round-to-nearest on searched
    grids for a layer missing from it). The tied embedding / LM head is kept 8-bit in every
    integer build, as llama.cpp keeps it Q8_0: it is what the shipped GGUF holds.
    """
    import onnx
    from onnx import TensorProto, helper

    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    if quantization not in QUANTIZATIONS:
        raise GraphError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
    try:
        config = json.loads((hf_dir / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise GraphError(f"cannot read {hf_dir / 'config.json'}: {e}") from None
    arch = _architecture(config, context_length)
    W = _load_weights(hf_dir)
    L, H, nh, kvh, hd = arch["layers"], arch["hidden"], arch["heads"], arch["kv_heads"], arch["head_dim"]
    V, eps, ctx = arch["vocab"], arch["rms_eps"], arch["context_length"]
    if int8_layers is None:
        int8_layers = GPTQ_INT8_LAYERS if quantization == "int4-gptq" else DEFAULT_INT8_LAYERS
    b = _Builder(quantization, tuple(int8_layers), hessians)
    ft = b.float_type
    onnx_ft = TensorProto.FLOAT16 if quantization == "fp16" else TensorProto.FLOAT
    # The KV cache is the one state that grows with the conversation: kv_dtype="float16" halves it
    # (49 -> 25 MB at 1,000 tokens for SmolLM2, peak RSS 302 -> 279 MB) for a 0.4% perplexity
    # change. Default float32: exact, and what the quality gates and merge tests were tuned on.
    kv_dtype = kv_dtype or ("float16" if quantization == "fp16" else "float32")
    if kv_dtype not in ("float32", "float16"):
        raise GraphError(f"kv_dtype must be float32 or float16, got {kv_dtype!r}")
    kv_half = kv_dtype == "float16" and quantization != "fp16"  # attention in fp16 around a float32 graph
    onnx_kv = TensorProto.FLOAT16 if kv_dtype == "float16" else TensorProto.FLOAT

    def w(name: str) -> np.ndarray:
        if name not in W:
            raise GraphError(f"weight {name!r} missing from {hf_dir}")
        return W[name].astype(np.float32)

    # Rotary caches: [context, head_dim/2], HF's non-interleaved (rotate_half) convention.
    inv_freq = 1.0 / (arch["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    angles = np.outer(np.arange(ctx, dtype=np.float64), inv_freq)
    rot_t = np.float16 if kv_dtype == "float16" else ft
    cos = b.init("rotary.cos_cache", np.cos(angles).astype(rot_t))
    sin = b.init("rotary.sin_cache", np.sin(angles).astype(rot_t))

    # Embedding (tied with the LM head when the config says so). The lookup is NOT in the graph:
    # the graph takes ``inputs_embeds`` and the engine reads the rows it needs from this same
    # initializer (edgemem.engine.embedding). With the lookup in the graph the tied table was
    # resident twice, pre-packed for the head and memory-mapped for the lookup (docs/engine.md).
    emb = w("model.embed_tokens.weight")
    head = emb if arch["tie_word_embeddings"] or "lm_head.weight" not in W else w("lm_head.weight")
    tied = head is emb
    if quantization in INTEGER_BITS:
        # One uint8 table [vocab, blocks, block] serves both the lookup (read by the engine) and
        # the tied LM head (MatMulNBits): one copy on disk and one in memory.
        qe = quant.quantize(emb, bits=8, block=BLOCK)
        b.init("model.embed_tokens.weight", qe.packed)
        b.init("model.embed_tokens.weight_scales", qe.scales)
        b.weights["model.embed_tokens.weight"] = {"tensor": "model.embed_tokens.weight", "layout": "nbits",
                                                  "row_offset": 0, "rows": V, "cols": H, "bits": 8, "symmetric": True}
        embedding = {"tensor": "model.embed_tokens.weight", "scales": "model.embed_tokens.weight_scales",
                     "layout": "nbits", "bits": 8, "block": BLOCK, "symmetric": True}
    else:
        b.init("model.embed_tokens.weight", emb.astype(ft))
        b.weights["model.embed_tokens.weight"] = {"tensor": "model.embed_tokens.weight", "layout": "dense",
                                                  "row_offset": 0, "rows": V, "cols": H}
        embedding = {"tensor": "model.embed_tokens.weight", "scales": None, "layout": "dense"}
    embedding.update(hidden=H, vocab=V, dtype="float16" if quantization == "fp16" else "float32", tied=tied)
    x = "inputs_embeds"

    residual = x
    pending: str | None = None  # the last sub-layer's output, not yet added to the residual
    graph_inputs = [
        helper.make_tensor_value_info("inputs_embeds", onnx_ft, [1, "sequence", H]),
        helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [1]),
        helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, []),
        helper.make_tensor_value_info("logits_positions", TensorProto.INT64, ["positions"]),
    ]
    graph_outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "positions", V])]
    cache_shape = [1, kvh, ctx, hd]

    def norm(weight_name: str, tag: str) -> str:
        nonlocal residual, pending
        gamma = b.init(weight_name, w(weight_name).astype(ft))
        if pending is None:
            return b.node("SimplifiedLayerNormalization", [residual, gamma], name=f"{tag}/RMSNorm",
                          axis=-1, epsilon=eps, stash_type=1)[0]
        out, _, _, summed = b.node("SkipSimplifiedLayerNormalization", [pending, residual, gamma], 4,
                                   domain=MS, name=f"{tag}/SkipRMSNorm", epsilon=eps)
        residual, pending = summed, None
        return out

    for i in range(L):
        p = f"model.layers.{i}"
        h = norm(f"{p}.input_layernorm.weight", f"layers.{i}.attn_norm")
        qkv = b.linear(h, f"{p}.self_attn.qkv_proj", [(f"{p}.self_attn.{n}_proj.weight", w(f"{p}.self_attn.{n}_proj.weight")) for n in "qkv"])
        pk, pv = f"past_key.{i}", f"past_value.{i}"
        graph_inputs += [helper.make_tensor_value_info(pk, onnx_kv, cache_shape),
                         helper.make_tensor_value_info(pv, onnx_kv, cache_shape)]
        graph_outputs += [helper.make_tensor_value_info(f"present_key.{i}", onnx_kv, cache_shape),
                          helper.make_tensor_value_info(f"present_value.{i}", onnx_kv, cache_shape)]
        if kv_half:
            qkv = b.node("Cast", [qkv], name=f"layers.{i}.attn/ToHalf", to=TensorProto.FLOAT16)[0]
        attn = b.node("GroupQueryAttention",
                      [qkv, "", "", pk, pv, "seqlens_k", "total_sequence_length", cos, sin],
                      [f"layers.{i}.attn/out", f"present_key.{i}", f"present_value.{i}"],
                      domain=MS, name=f"layers.{i}.attn/GroupQueryAttention",
                      num_heads=nh, kv_num_heads=kvh, do_rotary=1, rotary_interleaved=0,
                      scale=float(1.0 / np.sqrt(hd)))[0]
        if kv_half:
            attn = b.node("Cast", [attn], name=f"layers.{i}.attn/ToFloat", to=TensorProto.FLOAT)[0]
        pending = b.linear(attn, f"{p}.self_attn.o_proj", [(f"{p}.self_attn.o_proj.weight", w(f"{p}.self_attn.o_proj.weight"))])
        h = norm(f"{p}.post_attention_layernorm.weight", f"layers.{i}.mlp_norm")
        gu = b.linear(h, f"{p}.mlp.gate_up_proj", [(f"{p}.mlp.{n}_proj.weight", w(f"{p}.mlp.{n}_proj.weight")) for n in ("gate", "up")])
        inter = arch["intermediate"]
        split = b.init(f"layers.{i}.mlp/split", np.array([inter, inter], np.int64)) if i == 0 else "layers.0.mlp/split"
        gate, up = b.node("Split", [gu, split], 2, name=f"layers.{i}.mlp/Split", axis=-1)
        act = b.node("QuickGelu", [gate], domain=MS, name=f"layers.{i}.mlp/SiLU", alpha=1.0)[0]
        prod = b.node("Mul", [act, up], name=f"layers.{i}.mlp/Mul")[0]
        pending = b.linear(prod, f"{p}.mlp.down_proj", [(f"{p}.mlp.down_proj.weight", w(f"{p}.mlp.down_proj.weight"))])

    final = norm("model.norm.weight", "final_norm")
    rows = b.node("Gather", [final, "logits_positions"], name="logits/GatherPositions", axis=1)[0]
    if quantization in INTEGER_BITS and tied:
        logits = b.node("MatMulNBits", [rows, "model.embed_tokens.weight", "model.embed_tokens.weight_scales"], ["logits"],
                        domain=MS, name="lm_head/MatMulNBits", K=H, N=V, bits=8, block_size=BLOCK, accuracy_level=4)[0]
        b.weights["lm_head.weight"] = {"tensor": "model.embed_tokens.weight", "layout": "nbits", "row_offset": 0,
                                       "rows": V, "cols": H, "bits": 8, "symmetric": True, "tied": True}
    elif quantization in INTEGER_BITS:
        logits = b.linear(rows, "lm_head", [("lm_head.weight", head)])
    else:
        if tied:
            b.weights["lm_head.weight"] = {"tensor": "model.embed_tokens.weight", "layout": "dense", "row_offset": 0,
                                           "rows": V, "cols": H, "tied": True}
            two_d = b.node("Reshape", [rows, b.init("lm_head.in_shape", np.array([-1, H], np.int64))], name="lm_head/Flatten")[0]
            flat = b.node("Gemm", [two_d, "model.embed_tokens.weight"], name="lm_head/Gemm", transB=1)[0]
            logits = b.node("Reshape", [flat, b.init("lm_head.out_shape", np.array([1, -1, V], np.int64))], name="lm_head/Unflatten")[0]
        else:
            logits = b.linear(rows, "lm_head", [("lm_head.weight", head)])
        if quantization == "fp16":
            logits = b.node("Cast", [logits], name="logits/Cast", to=TensorProto.FLOAT)[0]
        b.nodes[-1].output[0] = "logits"

    # The LM head's MatMulNBits is listed FIRST. onnxruntime pre-packs weights in the order the
    # nodes are listed, and a weight's mapped source pages stay resident until its own pre-pack
    # is done. In topological order the LM head (28 MB of int8 source, 34 MB packed) came last,
    # on top of every layer's packed copy: that was the load's RSS peak (SmolLM2 int8: 281 vs
    # 251 MB for the session alone, measured with the node moved). Listed first, its transient
    # happens while little else is packed. onnxruntime sorts the graph itself before running it;
    # onnx.checker (which wants listed order = topological order) would reject this file, and
    # nothing in edgemem runs it on the decoder.
    head_nodes = [n for n in b.nodes if n.name == "lm_head/MatMulNBits"]
    b.nodes = head_nodes + [n for n in b.nodes if n.name != "lm_head/MatMulNBits"]
    graph = helper.make_graph(b.nodes, "edgemem_decoder", graph_inputs, graph_outputs, initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                              producer_name="edgemem.export.onnx_graph")
    model.ir_version = 8
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    data_name = "model.onnx.data"
    if (out_dir / data_name).exists():
        (out_dir / data_name).unlink()
    _save_aligned(model, onnx_path, data_name)
    io = {
        "version": IO_VERSION,
        "inputs": {
            "inputs_embeds": {"dtype": embedding["dtype"], "shape": [1, "sequence", H],
                              "meaning": "rows of the embedding table (io['embedding']) for this chunk's token ids"},
            "seqlens_k": {"dtype": "int32", "shape": [1], "meaning": "past_length + sequence - 1"},
            "total_sequence_length": {"dtype": "int32", "shape": [], "meaning": "past_length + sequence"},
            "logits_positions": {"dtype": "int64", "shape": ["positions"], "meaning": "rows of this chunk whose logits are computed"},
        },
        "outputs": {"logits": {"dtype": "float32", "shape": [1, "positions", V]}},
        "kv_cache": {
            "past_key": "past_key.{layer}", "past_value": "past_value.{layer}",
            "present_key": "present_key.{layer}", "present_value": "present_value.{layer}",
            "shape": cache_shape, "dtype": kv_dtype,
            "layers": L, "shared_buffer": True,
        },
        "quantization": {
            "scheme": quantization,
            "bits": INTEGER_BITS.get(quantization),
            "block": BLOCK if quantization in INTEGER_BITS else None,
            "symmetric": {"int8": True, "int4": True, "int4-gptq": False}.get(quantization),
            "offsets": quantization == "int4",
            "rounding": "gptq" if quantization == "int4-gptq" else ("nearest" if quantization in INTEGER_BITS else None),
            "note": "a weights entry may override bits/symmetric (the tied embedding is 8-bit symmetric in every integer build)",
            "embedding": {"bits": 8, "block": BLOCK, "symmetric": True} if quantization in INTEGER_BITS else None,
            "layouts": {
                "nbits": "MatMulNBits: '<tensor>' uint8 [N, K/block, block*bits/8], '<tensor>_scales' float32 [N, K/block], '<tensor>_zero_points' uint8 when asymmetric; with offsets: true, '<tensor>_offsets' float32 [N, K/block] added per block: w = (q - 2**(bits-1)) * scale + offset (edgemem.quant.quantize_offset)",
                "dense_kn": "'<tensor>' float [K, N] (transposed HF weight)",
                "dense": "'<tensor>' float [N, K] (HF layout)",
            },
        },
        "embedding": embedding,
        "weights": b.weights,
        "data_file": data_name,
    }
    return {"files": ["model.onnx", data_name], "io": io, "architecture": {k: v for k, v in arch.items() if k != "tie_word_embeddings"}}
