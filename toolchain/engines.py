"""What each inference engine supports, and what it costs on a board.

`tflm`: the builtin ops TFLite Micro (commit 90b983c) can register, each with the
`MicroMutableOpResolver` method that registers it (used to emit resolver headers).
`aot`: the ops tinyship's ahead-of-time C engine implements, int8 only.

The flash/RAM overheads are estimates for board fit: the firmware's code and static
data without the model (flash) and its RAM outside the tensor arena (stack, interpreter
object, .bss); `tinyship build` reports the real split.

aot, measured 2026-11-27 with `tinyship generate` + `build` (arm-none-eabi-gcc 12.2, -O2)
for qemu-cortex-m4 and -m55 on the five shared int8 models, optimized kernels. Flash besides
the model: engine 2.0-27.8 kB (the kernels the model uses; DSP convolution/depthwise asm
makes kws_ref_model's 27.8 kB on the M4, 21.9 kB on the M55) + app 5.7 kB + C library
31.6-35.0 kB + other 0.4-1.3 kB = 39.6 kB (hello_world, M55) to 69.4 kB (person_detect, M4):
70,000 takes the conv-model end. The model's own flash is computed by the fit from the
generator's constant arrays (analyze.fit.aot_model_bytes). RAM besides the arena: 28.8-29.0 kB
(24.6 kB linker stack+heap, 2.5 kB C library, 1.6 kB app, 0.1-0.4 kB engine) plus the app's
input buffer, added by the fit. Host builds link the C library dynamically and reserve no
stack in the ELF, so these figures overstate the host.

tflm, measured 2026-11-27 with `tinyship bench --tflm-dir` (generate + build + QEMU run,
arm-none-eabi-gcc 12.2; TFLM 90b983c as create_tflm_tree.py writes it, compiled as the
generated Makefile does: -DNDEBUG, kernels -O2, core -Os, error strings kept for the
per-layer profiler) for qemu-cortex-m4/-m7/-m55 on the five shared models. Flash besides the
model, reference kernels: engine 22.6-46.9 kB (interpreter + the model's kernels) + app
5.7 kB + C library and other = 68.7 kB (hello_world) to 98.1 kB (kws_ref_model, M4);
CMSIS-NN kernels: engine 31.4-93.2 kB, 77.2 kB to 144.3 kB (kws_ref_model, M4). 145,000
takes the CMSIS-NN conv-model end (a reference-kernel tree needs about 46 kB less; TFLM's
TF_LITE_STRIP_ERROR_STRINGS would save about 23 kB more, and the per-layer times with it).
RAM besides the arena and the app's input buffer: 29.2-29.7 kB (24.6 kB linker stack+heap,
2.5 kB C library, 1.6 kB app, the interpreter, resolver and profiler objects); the arena
itself is the analyzer's plan plus a margin (toolchain.codegen.project), plus CMSIS-NN's
scratch buffers with a CMSIS-NN tree.
"""

from __future__ import annotations

from dataclasses import dataclass

TFLM_RESOLVER_METHODS = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul", "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs", "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast", "CEIL": "AddCeil", "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D",
    "COS": "AddCos", "CUMSUM": "AddCumSum", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice", "ELU": "AddElu",
    "EMBEDDING_LOOKUP": "AddEmbeddingLookup", "EQUAL": "AddEqual", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish", "IF": "AddIf", "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu", "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax", "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean",
    "MINIMUM": "AddMinimum", "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul", "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable", "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound",
    "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin",
    "SLICE": "AddSlice", "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth", "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt",
    "SQUARE": "AddSquare", "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf",
    "TANH": "AddTanh", "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "UNPACK": "AddUnpack",
    "VAR_HANDLE": "AddVarHandle", "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}

AOT_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "MUL",
    "SOFTMAX", "LOGISTIC", "TANH", "RESHAPE", "QUANTIZE", "DEQUANTIZE", "PAD", "MEAN", "CONCATENATION",
    "RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH", "SUB", "MAXIMUM", "MINIMUM", "TRANSPOSE_CONV", "REDUCE_MAX",
    "RESIZE_NEAREST_NEIGHBOR", "STRIDED_SLICE",
})


@dataclass(frozen=True)
class Engine:
    name: str
    ops: frozenset[str]
    int8_only: bool
    flash_overhead: int  # bytes of code and constants besides the model (measured, see above)
    ram_overhead: int  # bytes of RAM besides the tensor arena and the input buffer (measured)
    description: str

    def supports(self, op: str) -> bool:
        return op in self.ops


ENGINES = {
    "tflm": Engine("tflm", frozenset(TFLM_RESOLVER_METHODS), False, 145_000, 30_000,
                   "TFLite Micro interpreter (reference or CMSIS-NN kernels, as the TFLM tree has)"),
    "aot": Engine("aot", AOT_OPS, True, 70_000, 29_000,
                  "tinyship ahead-of-time C engine (generated code, no interpreter)"),
}


def get_engine(name: str) -> Engine:
    """The engine called `name` ('tflm' or 'aot')."""
    from toolchain.errors import InputError

    try:
        return ENGINES[name]
    except KeyError:
        raise InputError(f"unknown engine '{name}'", f"use one of: {', '.join(ENGINES)}") from None
