"""Where each initializer of an ONNX model lives in its external-data file, read straight off the wire.

The on-device LoRA merge rewrites a few weight tensors inside ``model.onnx.data`` in place and
leaves ``model.onnx`` untouched. For that it needs, per initializer, the (offset, length) recorded
in the graph's ``external_data`` entries. Reading that with the ``onnx`` package would add a
runtime dependency to every kiosk for a few fields, so this walks the protobuf wire format
directly: ModelProto.graph (field 7) -> GraphProto.initializer (5) -> TensorProto name (8),
data_type (2), dims (1), external_data (13: key 1 / value 2).

A file-format reader on the runtime's lowest floor: the engine reads the embedding table's place
with it and the sync merge patches weights with it, so neither reaches into the other's room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import BundleError

# TensorProto.DataType -> numpy dtype name, for the types a decoder graph stores.
DTYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 10: "float16", 11: "float64"}


@dataclass(frozen=True)
class ExternalTensor:
    name: str
    dtype: str
    dims: tuple[int, ...]
    location: str
    offset: int
    length: int


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise BundleError("model.onnx is truncated (bad varint)")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: memoryview, base: int = 0):  # type: ignore[no-untyped-def]
    """Yield (field number, wire type, value, absolute offset of value); value is an int or a slice."""
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _varint(buf, i)
            yield field, wt, v, -1
        elif wt == 1:
            yield field, wt, buf[i:i + 8], base + i
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise BundleError("model.onnx is truncated (field runs past the end)")
            yield field, wt, buf[i:i + n], base + i
            i += n
        elif wt == 5:
            yield field, wt, buf[i:i + 4], base + i
            i += 4
        else:
            raise BundleError(f"model.onnx is not an ONNX protobuf (wire type {wt})")


def _tensor(buf: memoryview, base: int) -> ExternalTensor | None:
    name, dtype, dims, ext = "", 0, [], {}
    raw: tuple[int, int] | None = None
    for f, wt, v, at in _fields(buf, base):
        if f == 8 and wt == 2:
            name = bytes(v).decode("utf-8")
        elif f == 2 and wt == 0:
            dtype = int(v)
        elif f == 1 and wt == 0:
            dims.append(int(v))
        elif f == 1 and wt == 2:  # packed dims
            j = 0
            while j < len(v):
                d, j = _varint(v, j)  # type: ignore[arg-type]
                dims.append(d)
        elif f == 9 and wt == 2:
            raw = (at, len(v))
        elif f == 13 and wt == 2:
            key = value = ""
            for f2, _wt2, v2, _at2 in _fields(v):  # type: ignore[arg-type]
                if f2 == 1:
                    key = bytes(v2).decode("utf-8")
                elif f2 == 2:
                    value = bytes(v2).decode("utf-8")
            ext[key] = value
    if "location" not in ext:
        if raw is None:
            return None
        # Stored inside model.onnx itself: same-length rewrites can patch these bytes in place.
        return ExternalTensor(name=name, dtype=DTYPES.get(dtype, f"onnx:{dtype}"), dims=tuple(dims),
                              location="", offset=raw[0], length=raw[1])
    return ExternalTensor(name=name, dtype=DTYPES.get(dtype, f"onnx:{dtype}"), dims=tuple(dims),
                          location=ext["location"], offset=int(ext.get("offset", 0)),
                          length=int(ext["length"]) if "length" in ext else -1)


def external_tensors(model_path: str | Path) -> dict[str, ExternalTensor]:
    """Every initializer with raw bytes, by name: in the external file (``location``) or, for
    small ones, inside model.onnx itself (``location == ""``, ``offset`` into model.onnx)."""
    buf = memoryview(Path(model_path).read_bytes())
    out: dict[str, ExternalTensor] = {}
    for f, wt, graph, gat in _fields(buf):
        if f == 7 and wt == 2:
            for g, gwt, init, iat in _fields(graph, gat):  # type: ignore[arg-type]
                if g == 5 and gwt == 2:
                    t = _tensor(init, iat)  # type: ignore[arg-type]
                    if t is not None:
                        out[t.name] = t
    return out
