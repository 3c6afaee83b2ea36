"""Read a .tflite flatbuffer without TensorFlow or LiteRT.

Uses the `flatbuffers` runtime and the TFLite schema bindings shipped with the
`tflite-micro` package. Every vector length and index is checked against the
buffer before it is used, so a truncated or mutated file ends in a `ModelError`
instead of a crash or a hang. Models LiteRT refuses but TFLM runs (e.g. old-style
per-channel quantization) read fine: nothing here validates kernel semantics.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import flatbuffers
from flatbuffers import number_types as _N
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from toolchain.errors import ModelError

OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}
OPTION_NAMES = {v: k for k, v in vars(schema.BuiltinOptions).items() if not k.startswith("_")}
# The options table each op's kernels read (TFLite schema). TFLM ignores a table of another type and
# runs the op with default options, so the reader refuses one (fuzz seed 13 #1300: a DEPTHWISE_CONV_2D
# with Conv2DOptions ran with stride 1 in TFLM and with the table's stride 2 in aot).
EXPECTED_OPTIONS = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "SOFTMAX": "SoftmaxOptions",
    "RESHAPE": "ReshapeOptions", "PAD": "PadOptions", "PADV2": "PadV2Options", "MEAN": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions", "CONCATENATION": "ConcatenationOptions", "LEAKY_RELU": "LeakyReluOptions",
    "HARD_SWISH": "HardSwishOptions", "TRANSPOSE_CONV": "TransposeConvOptions",
    "STRIDED_SLICE": "StridedSliceOptions", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions",
}
_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if k.isupper()}
DTYPES = {
    "FLOAT32": "float32", "FLOAT16": "float16", "FLOAT64": "float64", "INT8": "int8", "UINT8": "uint8",
    "INT16": "int16", "UINT16": "uint16", "INT32": "int32", "UINT32": "uint32", "INT64": "int64",
    "UINT64": "uint64", "BOOL": "bool", "STRING": "string", "INT4": "int4", "COMPLEX64": "complex64",
    "COMPLEX128": "complex128", "RESOURCE": "resource", "VARIANT": "variant", "BFLOAT16": "bfloat16",
}
_ITEMSIZE = {"float32": 4, "float16": 2, "float64": 8, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2,
             "int32": 4, "uint32": 4, "int64": 8, "uint64": 8, "bool": 1, "complex64": 8, "complex128": 16,
             "bfloat16": 2}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}
MAX_MODEL_BYTES = 64 << 20  # more than any microcontroller's flash
_MAX_ELEMENTS = 1 << 40  # larger tensors are refused as corrupt; toolchain.validate refuses > 2 GiB


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    buffer: int
    data: bytes | None  # constant contents, None for activations and inputs
    quantization: Quantization | None
    is_variable: bool = False

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        if self.dtype == "int4":
            return (self.size + 1) // 2
        return self.size * _ITEMSIZE.get(self.dtype, 0)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    def numpy(self) -> np.ndarray:
        """The constant contents as an array of `shape` (raises for activations)."""
        if self.data is None:
            raise ModelError(f"tensor {self.index} ({self.name}) has no constant data")
        return np.frombuffer(self.data, dtype=self.dtype).reshape(self.shape)


@dataclass
class Operator:
    index: int
    op: str  # builtin name, e.g. "CONV_2D", or "CUSTOM:<code>"
    version: int
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...]
    options: dict = field(default_factory=dict)  # builtin options, snake_case keys

    @property
    def activation(self) -> str:
        return ACTIVATIONS.get(self.options.get("fused_activation_function", 0), "NONE")


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]


@dataclass
class Model:
    raw: bytes
    version: int
    description: str
    subgraphs: list[Subgraph]
    opcodes: list[tuple[str, int]]  # (op name, version) per operator-code entry
    metadata: dict[str, bytes]
    path: Path | None = None

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    @property
    def size(self) -> int:
        return len(self.raw)

    @cached_property
    def crc32(self) -> int:
        return zlib.crc32(self.raw) & 0xFFFFFFFF

    def op_names(self) -> list[str]:
        """The distinct ops used anywhere in the model, in order of first use."""
        seen: dict[str, None] = {}
        for sg in self.subgraphs:
            for op in sg.operators:
                seen.setdefault(op.op, None)
        return list(seen)

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "model"

    @cached_property
    def keras3(self) -> bool:
        """Converted from Keras 3, whose tensor names carry a '_<n>' suffix on every scope.

        Keras 3 (TF backend) enters each name scope twice while tracing, so layer 'dense' of
        model 'sequential' is named 'sequential_1/dense_1/MatMul' and 'dense_1' is 'dense_1_2';
        its signature's output is 'StatefulPartitionedCall_1:0' (Keras 2's: '...Call:0').
        """
        sg = self.main
        scoped = [n.split("/") for t in sg.tensors for n in t.name.split(";") if n.count("/") >= 2]
        return (any(t.name.startswith("StatefulPartitionedCall_1") for t in sg.output_tensors()) and bool(scoped)
                and all(_SCOPE_SUFFIX.search(p[0]) and _SCOPE_SUFFIX.search(p[1]) for p in scoped))

    def keras_layer(self, tensor_name: str) -> str | None:
        """`keras_layer(tensor_name)` with this model's Keras 3 scope suffixes removed."""
        layer = keras_layer(tensor_name)
        return _SCOPE_SUFFIX.sub("", layer) if layer and self.keras3 else layer

    def op_layer(self, sg: Subgraph, op: Operator) -> str | None:
        """The Keras layer of `op`: named by its output, else by its weights (a model's last layer
        outputs 'StatefulPartitionedCall:0')."""
        names = [sg.tensors[i].name for i in op.outputs[:1]]
        names += [sg.tensors[i].name for i in op.inputs if i >= 0 and sg.tensors[i].is_constant]
        return next(filter(None, map(self.keras_layer, names)), None)

    def op_label(self, sg: Subgraph, op: Operator) -> str:
        """A name for `op` a reader recognizes: its Keras layer; else its output's own name when
        that is a plain graph name ('labels_softmax'); else the op ('softmax')."""
        layer = self.op_layer(sg, op)
        if layer:
            return layer
        out = sg.tensors[op.outputs[0]].name if op.outputs else ""
        if out and "/" not in out and ":" not in out and not out.startswith(("StatefulPartitionedCall", "Identity")):
            return out.split(";")[0]
        return op.op.lower()


_SCOPE_SUFFIX = re.compile(r"_\d+$")


def keras_layer(tensor_name: str) -> str | None:
    """The Keras layer a converter-named tensor comes from, e.g.
    'sequential/conv2d/Relu;sequential/conv2d/BiasAdd' -> 'conv2d'. Names of Keras 3 models
    carry scope suffixes: `Model.keras_layer` removes them.

    A fused tensor lists several TF ops; the one that did the computation (BiasAdd,
    then Conv2D/depthwise/MatMul) names the layer, not a fused activation layer."""
    names = [n for n in tensor_name.split(";") if n]
    for suffixes in (("/BiasAdd",), ("/Conv2D", "/depthwise", "/MatMul")):
        main = next((n for n in names if n.endswith(suffixes)), None)
        if main:
            return _layer_of(main)
    return _layer_of(names[0]) if names else None


def _layer_of(op_name: str) -> str | None:
    """'model/layer/op...' -> 'layer'; None for graph ops ('Reshape_2/shape', TF1 'weights/read/...')."""
    parts = [p for p in op_name.split("/") if p]
    if len(parts) >= 3 and parts[0] in ("StatefulPartitionedCall", parts[1]):  # e.g. TF-slim 'Net/Net/Conv_1/...'
        parts = parts[1:]
    if len(parts) >= 2 and parts[1] == "read":
        return None
    if len(parts) >= 3 or (len(parts) == 2 and parts[1] in _LAYER_OPS):
        return parts[1]
    return None


# the last part of a layer's computing op in a two-part name such as 'dense/BiasAdd' (TF1 Keras graphs)
_LAYER_OPS = ("BiasAdd", "MatMul", "Conv2D", "depthwise", "Relu", "Relu6", "Softmax")


def load_model(source) -> Model:
    """Parse a .tflite file (path) or its bytes into a `Model`.

    Raises:
        ModelError: missing file, not a TFLite flatbuffer, or a corrupt one.
    """
    path = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    else:
        path = Path(source)
        if not path.exists():
            raise ModelError(f"model file not found: {path}", "check the path")
        raw = read_model_file(path)
    what = str(path) if path else "model bytes"
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise ModelError(f"{what} is not a TFLite flatbuffer (no 'TFL3' identifier)",
                         "give a .tflite file, e.g. the output of `tinyship convert`")
    try:
        model = _Reader(raw).model()
    except ModelError as e:
        raise ModelError(f"{what}: {e.message}", e.fix or "the file is corrupt: re-export or re-download it") from None
    except (struct.error, IndexError, ValueError, TypeError, OverflowError, UnicodeDecodeError, AttributeError,
            KeyError, RecursionError, MemoryError) as e:
        raise ModelError(f"{what} is a corrupt TFLite flatbuffer ({type(e).__name__})",
                         "re-export or re-download the model") from None
    model.path = path
    return model


def read_model_file(path: Path) -> bytes:
    """The bytes of a model file: a regular file of at most MAX_MODEL_BYTES (a FIFO, device or
    folder would block or never end), read without trusting its reported size."""
    import stat

    st = path.stat()
    if stat.S_ISDIR(st.st_mode):
        raise ModelError(f"{path} is a folder, not a .tflite file", "give the .tflite file (convert a SavedModel first)")
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"{path} is not a regular file (a pipe, socket or device)", "give a .tflite file")
    with open(path, "rb") as f:
        raw = f.read(MAX_MODEL_BYTES + 1)
    if len(raw) > MAX_MODEL_BYTES:
        raise ModelError(f"{path} is over {MAX_MODEL_BYTES >> 20} MiB, too large for a microcontroller model",
                         "give a .tflite model for a microcontroller")
    return raw


class _Reader:
    """Bounds-checked walk over the generated schema accessors."""

    def __init__(self, raw: bytes):
        self.buf = bytearray(raw)
        self.n = len(raw)

    # -- guards -------------------------------------------------------------------
    def _check_vec(self, table, slot: int, elem_size: int) -> int:
        """Length of the vector at vtable `slot` of `table`, after checking it fits."""
        tab = table._tab
        o = flatbuffers.number_types.UOffsetTFlags.py_type(tab.Offset(slot))
        if o == 0:
            return 0
        start = tab.Vector(o)
        length = tab.VectorLen(o)
        if start < 0 or length < 0 or start + length * elem_size > self.n:
            raise ModelError("a vector runs past the end of the file (truncated or corrupt)")
        return length

    def _array(self, table, slot: int, flags) -> np.ndarray:
        """The scalar vector at vtable `slot` as a numpy array (empty if absent), bounds-checked."""
        if not self._check_vec(table, slot, flags.bytewidth):
            return np.zeros(0)
        tab = table._tab
        return tab.GetVectorAsNumpy(flags, tab.Offset(slot))

    def _ints(self, table, slot: int) -> tuple[int, ...]:
        return tuple(self._array(table, slot, _N.Int32Flags).tolist())

    def _str(self, raw) -> str:
        return raw.decode("utf-8", "replace") if raw else ""

    # -- model --------------------------------------------------------------------
    def model(self) -> Model:
        root = flatbuffers.encode.Get(flatbuffers.packer.uoffset, self.buf, 0)
        if not 8 <= root < self.n:
            raise ModelError("root table offset out of range")
        m = schema.Model.GetRootAs(self.buf, 0)
        n_buffers = self._check_vec(m, 12, 4)
        opcodes = []
        for i in range(self._check_vec(m, 6, 4)):
            oc = m.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = OP_NAMES.get(code, f"UNKNOWN_{code}")
            if name == "CUSTOM":
                name = f"CUSTOM:{self._str(oc.CustomCode())}"
            opcodes.append((name, oc.Version()))
        buffers = _Buffers(self, m, n_buffers)
        subgraphs = [self.subgraph(m.Subgraphs(i), i, opcodes, buffers) for i in range(self._check_vec(m, 8, 4))]
        if not subgraphs:
            raise ModelError("the model has no subgraph", "re-convert the model")
        metadata = {}
        for i in range(self._check_vec(m, 16, 4)):
            md = m.Metadata(i)
            metadata[self._str(md.Name())] = buffers.data(md.Buffer())
        try:  # the TFLM reference unpacks every table, also those read nowhere else (signature defs)
            schema.ModelT.InitFromObj(m)
        except (struct.error, ValueError, IndexError):
            raise ModelError("an offset points outside the file (in a part the TFLM reference reads)") from None
        return Model(bytes(self.buf), m.Version(), self._str(m.Description()), subgraphs, opcodes, metadata)

    def subgraph(self, sg, index, opcodes, buffers) -> Subgraph:
        tensors = [self.tensor(sg.Tensors(i), i, buffers) for i in range(self._check_vec(sg, 4, 4))]
        nt = len(tensors)

        def idx(values, what, optional=False):
            for v in values:
                if not (-1 if optional else 0) <= v < nt:
                    raise ModelError(f"subgraph {index}: {what} refers to tensor {v} of {nt}")
            return values

        inputs = idx(self._ints(sg, 6), "an input")
        outputs = idx(self._ints(sg, 8), "an output")
        ops = []
        for i in range(self._check_vec(sg, 10, 4)):
            o = sg.Operators(i)
            if not 0 <= o.OpcodeIndex() < len(opcodes):
                raise ModelError(f"operator {i} has opcode index {o.OpcodeIndex()} of {len(opcodes)}")
            name, version = opcodes[o.OpcodeIndex()]
            ops.append(Operator(
                index=i, op=name, version=version,
                inputs=idx(self._ints(o, 6), f"operator {i} ({name})", optional=True),
                outputs=idx(self._ints(o, 8), f"operator {i} ({name})"),
                intermediates=idx(self._ints(o, 20), f"operator {i} ({name})", optional=True),
                options=self.options(o, f"operator {i} ({name})", EXPECTED_OPTIONS.get(name)),
            ))
        return Subgraph(index, self._str(sg.Name()), tensors, ops, inputs, outputs)

    def tensor(self, t, index, buffers) -> Tensor:
        shape = self._ints(t, 4)
        count = 1
        for d in shape:
            if d < 0 or d > _MAX_ELEMENTS:
                raise ModelError(f"tensor {index} has an invalid shape {list(shape)}",
                                 "re-convert the model with a fixed batch size of 1")
            count *= d
        if count > _MAX_ELEMENTS:
            raise ModelError(f"tensor {index} has an absurd shape {list(shape)}")
        dtype = DTYPES.get(_TYPE_NAMES.get(t.Type(), ""), f"type{t.Type()}")
        q = None
        qp = t.Quantization()
        if qp is not None:
            scales = tuple(self._array(qp, 8, _N.Float32Flags).tolist())
            zps = tuple(self._array(qp, 10, _N.Int64Flags).tolist())
            if scales:
                q = Quantization(scales, zps or (0,) * len(scales), qp.QuantizedDimension())
        data = buffers.data(t.Buffer()) or None
        tensor = Tensor(index, self._str(t.Name()), shape, dtype, t.Buffer(), data, q, bool(t.IsVariable()))
        if data is not None and tensor.nbytes and len(data) != tensor.nbytes:
            raise ModelError(f"tensor {index} ({tensor.name}) has {len(data)} bytes of data for shape {list(shape)}")
        return tensor

    def options(self, o, what: str, expected: str | None) -> dict:
        kind = o.BuiltinOptionsType()
        table = o.BuiltinOptions()
        if not kind or table is None:
            return {}
        if OPTION_NAMES.get(kind) is None:
            raise ModelError(f"unknown builtin options type {kind}")
        if expected and OPTION_NAMES[kind] != expected:
            raise ModelError(f"{what} carries {OPTION_NAMES[kind]}, not its {expected}")
        obj = schema.BuiltinOptionsCreator(kind, table)
        if obj is None:
            return {}
        out = {}
        for key, value in vars(obj).items():
            if isinstance(value, np.ndarray):
                if value.size > 4096:
                    raise ModelError("an operator option is implausibly long")
                value = value.tolist()
            if value is None or isinstance(value, (int, float, str, list)):
                out[_snake(key)] = value
        return out


class _Buffers:
    def __init__(self, reader: _Reader, m, count: int):
        self.reader, self.m, self.count = reader, m, count

    def data(self, index: int) -> bytes:
        if not 0 <= index < self.count:
            raise ModelError(f"buffer index {index} out of range ({self.count} buffers)")
        b = self.m.Buffers(index)
        offset, size = b.Offset(), b.Size()
        if offset > 1:  # large models keep data outside the flatbuffer proper
            if offset + size > self.reader.n:
                raise ModelError(f"buffer {index} lies past the end of the file")
            return bytes(self.reader.buf[offset:offset + size])
        n = self.reader._check_vec(b, 4, 1)
        if n == 0:
            return b""
        return b.DataAsNumpy().tobytes()


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
