"""Build one-op int8 .tflite models directly with the TFLite schema, for configurations the
Keras converter never emits (QUANTIZE int8 -> int8 with any pair of scales, FULLY_CONNECTED
with chosen scales and no bias, ...)."""

from __future__ import annotations

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

_TYPES = {"int8": schema.TensorType.INT8, "int32": schema.TensorType.INT32}


def _tensor(name: str, shape, dtype: str, q: tuple[float, int] | None, buffer: int):
    t = schema.TensorT()
    t.shape = np.array(shape, np.int32)
    t.type = _TYPES[dtype]
    t.buffer = buffer
    t.name = name
    if q is not None:
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale = np.array([q[0]], np.float32)
        t.quantization.zeroPoint = np.array([q[1]], np.int64)
    return t


def _model(op: str, tensors: list, n_inputs: int, options=None, options_type=0) -> bytes:
    """`tensors`: (name, shape, dtype, quantization, data or None); the op reads the first
    n_inputs and writes the last; tensors without data are the model's input and output."""
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, op)
    code.version = 1
    buffers, flat = [schema.BufferT()], []
    for name, shape, dtype, q, data in tensors:
        index = 0
        if data is not None:
            b = schema.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), np.uint8)
            buffers.append(b)
            index = len(buffers) - 1
        flat.append(_tensor(name, shape, dtype, q, index))
    operator = schema.OperatorT()
    operator.opcodeIndex = 0
    operator.inputs = np.arange(n_inputs, dtype=np.int32)
    operator.outputs = np.array([len(tensors) - 1], np.int32)
    operator.builtinOptionsType = options_type
    operator.builtinOptions = options
    sg = schema.SubGraphT()
    sg.tensors = flat
    sg.inputs = np.array([i for i, t in enumerate(tensors) if t[4] is None and i < n_inputs], np.int32)
    sg.outputs = operator.outputs
    sg.operators = [operator]
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes = [code]
    model.subgraphs = [sg]
    model.buffers = buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def one_op_model(op: str, shape, input_q: tuple[float, int], output_q: tuple[float, int]) -> bytes:
    """A model with a single unary int8 op (QUANTIZE, RELU, RELU6, ...) of `shape`."""
    return _model(op, [("input", shape, "int8", input_q, None), ("output", shape, "int8", output_q, None)], 1)


def fully_connected_model(depth: int, units: int, input_q, weight_scale: float, output_q, *, bias: bool,
                          seed: int = 0) -> bytes:
    """FULLY_CONNECTED [1, depth] -> [1, units] with random int8 weights (and int32 bias)."""
    rng = np.random.default_rng(seed)
    tensors = [("input", (1, depth), "int8", input_q, None),
               ("weights", (units, depth), "int8", (weight_scale, 0), rng.integers(-127, 128, (units, depth)))]
    if bias:
        tensors.append(("bias", (units,), "int32", (input_q[0] * weight_scale, 0),
                        rng.integers(-5000, 5000, units)))
    tensors.append(("output", (1, units), "int8", output_q, None))
    options = schema.FullyConnectedOptionsT()
    return _model("FULLY_CONNECTED", tensors, len(tensors) - 1, options, schema.BuiltinOptions.FullyConnectedOptions)


def pad_model(shape, paddings, q: tuple[float, int], value: int | None = None) -> bytes:
    """PAD (or PADV2 with a constant `value`) of an int8 tensor; `paddings`: [(before, after)] per dim."""
    out_shape = [d + a + b for d, (a, b) in zip(shape, paddings)]
    tensors = [("input", shape, "int8", q, None),
               ("paddings", (len(shape), 2), "int32", None, np.array(paddings, np.int32))]
    if value is not None:
        tensors.append(("value", (1,), "int8", q, np.array([value], np.int8)))
    tensors.append(("output", out_shape, "int8", q, None))
    return _model("PAD" if value is None else "PADV2", tensors, len(tensors) - 1)


def binary_model(op: str, shape1, shape2, q1, q2, q_out, activation: int = 0) -> bytes:
    """ADD, SUB, MUL, MAXIMUM or MINIMUM of two int8 inputs, numpy-broadcast to the output shape."""
    out_shape = list(np.broadcast_shapes(tuple(shape1), tuple(shape2)))
    name = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul"}.get(op, "MaximumMinimum")
    options = getattr(schema, f"{name}OptionsT")()
    if name != "MaximumMinimum":
        options.fusedActivationFunction = activation
    kind = getattr(schema.BuiltinOptions, f"{name}Options")
    tensors = [("input1", shape1, "int8", q1, None), ("input2", shape2, "int8", q2, None),
               ("output", out_shape, "int8", q_out, None)]
    return _model(op, tensors, 2, options, kind)
