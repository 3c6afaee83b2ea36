"""The flatbuffer reader (toolchain/model.py): real models, edge cases, hostile input."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from conftest import SHARED_DATA as DATA
from toolchain.errors import ModelError
from toolchain.model import OP_NAMES, keras_layer, load_model

PERSON = DATA / "tflm" / "person_detect.tflite"
KWS = DATA / "mlperf_tiny" / "kws_ref_model.tflite"
HELLO = DATA / "tflm" / "hello_world_int8.tflite"

FC = 9  # BuiltinOperator.FULLY_CONNECTED


@pytest.mark.usefixtures("shared_data")
def test_reads_the_model_litert_refuses():
    m = load_model(PERSON)
    ops = [op.op for op in m.main.operators]
    assert ops.count("CONV_2D") == 14 and ops.count("DEPTHWISE_CONV_2D") == 14
    (inp,) = m.main.input_tensors()
    assert inp.shape == (1, 96, 96, 1) and inp.dtype == "int8"
    # per-channel weights: one scale per output channel along the quantized dimension
    for op in m.main.operators:
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = m.main.tensors[op.inputs[1]]
            q = w.quantization
            assert q.per_channel
            assert len(q.scale) == w.shape[q.quantized_dimension] == len(q.zero_point)
            assert w.numpy().dtype == np.int8 and w.numpy().shape == w.shape
    with pytest.raises(ValueError):  # the same bytes LiteRT rejects (the reason this reader exists)
        from ai_edge_litert.interpreter import Interpreter

        Interpreter(model_content=m.raw).allocate_tensors()


@pytest.mark.usefixtures("shared_data")
def test_kws_structure_and_metadata():
    m = load_model(KWS)
    assert m.op_names() == ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert m.main.input_tensors()[0].shape == (1, 49, 10, 1)
    assert m.main.output_tensors()[0].shape == (1, 12)
    assert "min_runtime_version" in m.metadata
    conv = m.main.operators[0]
    assert conv.options["stride_w"] == 2 and conv.activation == "RELU"
    bias = m.main.tensors[conv.inputs[2]]
    assert bias.dtype == "int32" and bias.nbytes == 4 * bias.shape[0]
    assert m.crc32 == load_model(KWS.read_bytes()).crc32 and m.size == KWS.stat().st_size


def test_deprecated_builtin_code(make_tflite):
    tensors = [{"shape": [1, 4]}, {"shape": [2, 4], "buffer": 1}, {"shape": [1, 2]}]
    ops = [(0, [0, 1, -1], [2])]
    # old files carry the code in deprecated_builtin_code only; new ones in builtin_code (127 = placeholder)
    old = make_tflite(tensors, ops, [0], [2], opcodes=[(0, FC, 1)], buffers=[bytes(8)])
    new = make_tflite(tensors, ops, [0], [2], opcodes=[(150, 127, 1)], buffers=[bytes(8)])
    assert load_model(old).main.operators[0].op == "FULLY_CONNECTED"
    assert load_model(new).opcodes[0][0] == OP_NAMES[150] != "PLACEHOLDER_FOR_GREATER_OP_CODES"


def test_several_subgraphs_and_omitted_inputs(make_tflite):
    t = [{"shape": [1, 4]}, {"shape": [2, 4], "buffer": 1}, {"shape": [1, 2]}]
    raw = make_tflite(t, [(0, [0, 1, -1], [2])], [0], [2], buffers=[bytes(8)],
                      subgraphs=[(t, [(0, [0, 1, -1], [2])], [0], [2])])
    m = load_model(raw)
    assert len(m.subgraphs) == 2 and m.op_names() == ["FULLY_CONNECTED"]
    assert m.main.operators[0].inputs == (0, 1, -1)


@pytest.mark.usefixtures("shared_data")
@pytest.mark.parametrize("case, message", [
    ("missing", "not found"), ("folder", "folder"), ("empty", "not a TFLite"), ("text", "not a TFLite"),
    ("truncated", ""), ("no_subgraph", "no subgraph"), ("buffer_range", "buffer index"),
    ("tensor_range", "refers to tensor"), ("absurd_shape", "shape"), ("negative_shape", "shape"),
    ("opcode_range", "opcode index"), ("data_size", "bytes of data"),
])
def test_hostile_input_is_a_one_line_model_error(case, message, tmp_path, make_tflite):
    good = [{"shape": [1, 4]}, {"shape": [2, 4], "buffer": 1}, {"shape": [1, 2]}]
    op = [(0, [0, 1, -1], [2])]
    source = {
        "missing": lambda: tmp_path / "nope.tflite",
        "folder": lambda: tmp_path,
        "empty": lambda: b"",
        "text": lambda: b"hello, this is not a model at all",
        "truncated": lambda: KWS.read_bytes()[:5000],
        "no_subgraph": lambda: _without_subgraphs(make_tflite(good, op, [0], [2], buffers=[bytes(8)])),
        "buffer_range": lambda: make_tflite([{"buffer": 7}], [], [0], [0]),
        "tensor_range": lambda: make_tflite(good, [(0, [0, 5], [2])], [0], [2], buffers=[bytes(8)]),
        "absurd_shape": lambda: make_tflite([{"shape": [1 << 20, 1 << 20, 1 << 20]}], [], [0], [0]),
        "negative_shape": lambda: make_tflite([{"shape": [-1, 4]}], [], [0], [0]),
        "opcode_range": lambda: make_tflite(good, [(3, [0, 1], [2])], [0], [2], buffers=[bytes(8)]),
        "data_size": lambda: make_tflite(good, op, [0], [2], buffers=[bytes(5)]),
    }[case]()
    with pytest.raises(ModelError) as e:
        load_model(source)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert e.value.exit_code == 2


def _without_subgraphs(raw: bytes) -> bytes:
    """Point the root table's `subgraphs` field at nothing by zeroing its vtable entry."""
    buf = bytearray(raw)
    root = struct.unpack_from("<I", buf, 0)[0]
    vtable = root - struct.unpack_from("<i", buf, root)[0]
    struct.pack_into("<H", buf, vtable + 8, 0)  # field 2 (subgraphs): vtable slot at byte 4 + 2 * 2
    return bytes(buf)


def test_keras_layer_names():
    assert keras_layer("sequential/conv2d/Relu;sequential/conv2d/BiasAdd") == "conv2d"
    assert keras_layer("functional_1/activation/Relu;functional_1/dense/BiasAdd") == "dense"
    assert keras_layer("StatefulPartitionedCall/sequential/dense_1/MatMul") == "dense_1"
    assert keras_layer("MobilenetV1/MobilenetV1/Conv2d_0/Relu6") == "Conv2d_0"
    assert keras_layer("serving_default_input:0") is None and keras_layer("") is None
    assert keras_layer("final_fc_weights/read/transpose") is None and keras_layer("Reshape_2/shape") is None
