"""edgemem.quant: the MatMulNBits block layout, checked against onnxruntime itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgemem import quant


@settings(max_examples=30, deadline=None)
@given(bits=st.sampled_from([4, 8]), symmetric=st.booleans(), n=st.integers(1, 9), kb=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_roundtrip_error_is_within_half_a_step(bits: int, symmetric: bool, n: int, kb: int, seed: int) -> None:
    w = np.random.RandomState(seed).normal(0, 1, size=(n, kb * 32)).astype(np.float32)
    q = quant.quantize(w, bits=bits, symmetric=symmetric)
    assert q.packed.shape == (n, kb, 32 * bits // 8) and q.packed.dtype == np.uint8
    back = quant.dequantize(q)
    blocks = w.reshape(n, kb, 32)
    if symmetric:
        step = np.abs(blocks).max(-1) / ((1 << (bits - 1)) - 1)
    else:
        step = (np.maximum(blocks.max(-1), 0) - np.minimum(blocks.min(-1), 0)) / ((1 << bits) - 1)
    err = np.abs(back - w).reshape(n, kb, 32)
    # symmetric 4-bit clips the one positive extreme at +7 steps: allow one step there
    assert np.all(err <= step[..., None] * (1.0 if symmetric and bits == 4 else 0.5) + 1e-6)


def test_exact_grid_values_survive() -> None:
    # Weights already on an asymmetric 4-bit grid (as a de-quantized GGUF Q4_1 with an integer
    # zero point) come back exactly.
    rng = np.random.RandomState(1)
    q = rng.randint(0, 16, size=(4, 64)).astype(np.float32)
    q[:, 0], q[:, 32] = 0, 0
    q[:, 1], q[:, 33] = 15, 15
    w = (q - 5) * 0.01
    back = quant.dequantize(quant.quantize(w, bits=4, symmetric=False))
    np.testing.assert_allclose(back, w, atol=1e-7)


def test_offset_blocks_reproduce_a_q4_1_grid_exactly() -> None:
    """GGUF Q4_1 stores w = q * d + m with a float m; quantize_offset gets those weights back."""
    rng = np.random.RandomState(4)
    n, kb = 6, 3
    d = rng.uniform(0.001, 0.05, size=(n, kb, 1)).astype(np.float32)
    m = rng.uniform(-0.4, 0.1, size=(n, kb, 1)).astype(np.float32)
    q = rng.randint(0, 16, size=(n, kb, 32)).astype(np.float32)
    q[..., 0], q[..., 1] = 0, 15  # Q4_1 maps each block's min and max to 0 and 15
    w = (q * d + m).reshape(n, kb * 32)
    qm = quant.quantize_offset(w, bits=4)
    assert qm.zero_points is None and qm.offsets is not None and qm.offsets.shape == (n, kb)
    np.testing.assert_allclose(quant.dequantize(qm), w, atol=1e-6)
    # an integer-zero-point grid cannot: the float minimum is off its grid
    assert np.abs(quant.dequantize(quant.quantize(w, bits=4, symmetric=False)) - w).max() > 1e-4
    rows = quant.slice_rows(quant.concat_rows([qm, qm]), n, 2 * n)
    np.testing.assert_array_equal(quant.dequantize(rows), quant.dequantize(qm))


def test_offset_term_in_onnxruntime_matches_numpy() -> None:
    """MatMulNBits(implicit zero point) + blocksum(x) @ offsets.T == x @ dequantize(W).T"""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(5)
    n, k = 40, 64
    w = rng.normal(size=(n, k)).astype(np.float32) - 0.3
    x = rng.normal(size=(3, k)).astype(np.float32)
    q = quant.quantize_offset(w, bits=4)
    ones = np.kron(np.eye(k // 32, dtype=np.float32), np.ones((32, 1), np.float32))
    inits = [numpy_helper.from_array(a, nm) for a, nm in
             ((q.packed, "B"), (q.scales, "S"), (ones, "ones"), (q.offsets.T.copy(), "off"))]
    nodes = [helper.make_node("MatMulNBits", ["x", "B", "S"], ["y0"], domain="com.microsoft", K=k, N=n, bits=4, block_size=32),
             helper.make_node("MatMul", ["x", "ones"], ["bs"]), helper.make_node("MatMul", ["bs", "off"], ["c"]),
             helper.make_node("Add", ["y0", "c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, n])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, x @ quant.dequantize(q).T, atol=1e-3, rtol=1e-3)


def test_slice_and_concat_rows() -> None:
    rng = np.random.RandomState(2)
    a, b = rng.normal(size=(3, 64)), rng.normal(size=(5, 64))
    qa, qb = quant.quantize(a, bits=4), quant.quantize(b, bits=4)
    both = quant.concat_rows([qa, qb])
    np.testing.assert_array_equal(quant.dequantize(quant.slice_rows(both, 3, 8)), quant.dequantize(qb))
    with pytest.raises(ValueError):
        quant.concat_rows([qa, quant.quantize(b, bits=8)])


@pytest.mark.parametrize("bits, symmetric", [(8, True), (4, False), (4, True), (8, False)])
def test_matches_onnxruntime_matmulnbits(bits: int, symmetric: bool) -> None:
    """The packed layout is what onnxruntime's kernel reads: same result as numpy on the dequantized weight."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(3)
    n, k = 24, 96
    w = rng.normal(size=(n, k)).astype(np.float32)
    x = rng.normal(size=(2, k)).astype(np.float32)
    q = quant.quantize(w, bits=bits, symmetric=symmetric)
    inits = [numpy_helper.from_array(q.packed, "B"), numpy_helper.from_array(q.scales, "S")]
    ins = ["x", "B", "S"]
    if q.zero_points is not None:
        inits.append(numpy_helper.from_array(q.zero_points, "Z"))
        ins.append("Z")
    node = helper.make_node("MatMulNBits", ins, ["y"], domain="com.microsoft", K=k, N=n, bits=bits, block_size=32)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, n])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x})[0]
    np.testing.assert_allclose(y, x @ quant.dequantize(q).T, atol=1e-3, rtol=1e-3)


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        quant.quantize(np.zeros((2, 33)), bits=8)
    with pytest.raises(ValueError):
        quant.quantize(np.zeros((2, 32)), bits=3)
    with pytest.raises(ValueError):
        quant.quantize(np.zeros(32), bits=8)
