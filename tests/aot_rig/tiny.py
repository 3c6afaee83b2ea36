"""Build one-op int8 .tflite models directly with the TFLite schema, for configurations the
Keras converter never emits (e.g. QUANTIZE int8 -> int8 with any pair of scales)."""

from __future__ import annotations

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema


def _tensor(shape, scale: float, zero_point: int, name: str):
    t = schema.TensorT()
    t.shape = np.array(shape, np.int32)
    t.type = schema.TensorType.INT8
    t.buffer = 0
    t.name = name
    q = schema.QuantizationParametersT()
    q.scale = np.array([scale], np.float32)
    q.zeroPoint = np.array([zero_point], np.int64)
    t.quantization = q
    return t


def one_op_model(op: str, shape, input_q: tuple[float, int], output_q: tuple[float, int]) -> bytes:
    """A model with a single unary int8 op (QUANTIZE, RELU, RELU6, ...) of `shape`."""
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, op)
    code.version = 1
    operator = schema.OperatorT()
    operator.opcodeIndex = 0
    operator.inputs = np.array([0], np.int32)
    operator.outputs = np.array([1], np.int32)
    sg = schema.SubGraphT()
    sg.tensors = [_tensor(shape, *input_q, "input"), _tensor(shape, *output_q, "output")]
    sg.inputs = np.array([0], np.int32)
    sg.outputs = np.array([1], np.int32)
    sg.operators = [operator]
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes = [code]
    model.subgraphs = [sg]
    model.buffers = [schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
