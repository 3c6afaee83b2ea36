/*
 * ts_kernels.h - common contract of the tinyship aot INT8 kernels.
 *
 * Conventions (every kernel follows them; read before adding one):
 *
 *  - One public function per file: kernels/ts_<op>_s8.c defines ts_<op>_s8(),
 *    include/ts_<op>_s8.h declares it together with its parameter struct
 *    ts_<op>_params_t. One spelling per op (avg_pool2d, never avgpool).
 *  - Prepare/Eval split: toolchain/codegen (Python) computes every parameter
 *    (multipliers, shifts, offsets, clamp ranges, shapes, strides) at generation
 *    time and emits it as a `static const ts_<op>_params_t`. Kernels only read it.
 *  - Signature: int32_t ts_<op>_s8(const ts_<op>_params_t *params,
 *    <input pointers, then constant operands (weights, bias) in TFLite order>,
 *    <output pointers>). Returns TS_OK (0) or a negative TS_ERR_* code.
 *  - Memory is caller-owned: inputs/outputs point into the model's arena or into
 *    const arrays; kernels never allocate and keep no state between calls.
 *    A kernel that needs scratch gets a ts_<op>_s8_scratch_size() companion.
 *  - Layout: activations are NHWC, int8, contiguous. Conv filters are OHWI,
 *    depthwise filters 1HW(C*M), fully-connected filters [out, in]. Bias int32.
 *  - Zero points are passed as offsets exactly as TFLM does: input_offset =
 *    -input_zero_point, output_offset = +output_zero_point.
 *  - Fused activations are clamp ranges [act_min, act_max] on the output.
 *  - In-place: the code generator may give an element-wise kernel the same
 *    buffer for input 0 and output (the Python lowering declares `inplace=True`);
 *    such kernels must compute out[i] from in[i] only, or read a whole row
 *    before writing it.
 *  - Arithmetic follows the TFLite INT8 specification and TFLM's reference
 *    kernels bit for bit: use the helpers below, never floats, in int8 paths.
 *
 * Optimized variants (Cortex-M DSP / Helium) replace Eval only: a file
 * kernels/opt/<kernel>_dsp.c (or _mve.c) defines the same symbol when ts_opt.h
 * selects it (TS_OPT_<OP>), and the portable file then renames its definition
 * <kernel>_portable, the fallback for configurations the variant does not cover.
 * Build with -DTS_PORTABLE to force the portable kernels (the oracle) everywhere.
 */
#ifndef TS_KERNELS_H
#define TS_KERNELS_H

#include <stdint.h>
#include <stddef.h>

#if defined(__GNUC__)
#define TS_ALIGN(n) __attribute__((aligned(n)))
#else
#define TS_ALIGN(n)
#endif

/** Most dimensions a tensor may have in broadcasting and padding kernels. */
#define TS_MAX_DIMS 6

enum {
    TS_OK = 0,
    TS_ERR_ARG = -1,   /**< a NULL pointer or an inconsistent parameter */
};

static inline int32_t ts_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t ts_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

/** Clamp to [lo, hi] and narrow to int8 (lo/hi are within int8 range). */
static inline int8_t ts_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)ts_min_i32(ts_max_i32(x, lo), hi);
}

/** gemmlowp SaturatingRoundingDoublingHighMul: round((a * b * 2) / 2^32). */
static inline int32_t ts_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* truncates toward zero, as C++ does */
}

/** gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero. */
static inline int32_t ts_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * TFLM's reference MultiplyByQuantizedMultiplier: x * multiplier * 2^shift with
 * multiplier in Q31. A positive shift is applied as a left shift first (wrapping
 * like the two's complement arithmetic TFLM relies on), a negative one as a
 * rounding right shift after the high multiply.
 */
static inline int32_t ts_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return ts_rounding_divide_by_pot(ts_srdhm(shifted, multiplier), right);
}

/** sum over i < n of w[i] * (x[i] + input_offset): one output's taps over a run of input channels. */
static inline int32_t ts_dot_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t input_offset)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += w[i] * (x[i] + input_offset);
    }
    return acc;
}

/**
 * A per-channel accumulator as the conv/FC kernels finish it (TFLM's reference order): plus the bias
 * (when there is one), times the channel's quantized multiplier, plus the output offset, clamped.
 */
static inline int8_t ts_requant_acc(int32_t acc, const int32_t *bias, int32_t channel, int32_t multiplier,
                                    int32_t shift, int32_t output_offset, int32_t lo, int32_t hi)
{
    if (bias != NULL) {
        acc += bias[channel];
    }
    return ts_clamp_s8(ts_mbqm(acc, multiplier, shift) + output_offset, lo, hi);
}

/**
 * The axis split of a reduction (MEAN, REDUCE_MAX), as the generator computes it
 * (toolchain/codegen/aot_ops_nonlinear.py `reduction`): kept and reduced axes, neighbours of the
 * same kind merged and size-1 axes dropped. Output element o, in row-major order over the kept
 * axes, reduces the input elements at base(o) + sum_k r_k * reduced_strides[k] over every index
 * r of the reduced axes. keep_dims only changes the declared output shape, never the data.
 */
#define TS_AXIS_SPLIT_FIELDS                                                   \
    int32_t kept_ndims;                   /**< 0 when everything is reduced */ \
    int32_t kept_dims[TS_MAX_DIMS];                                            \
    int32_t kept_strides[TS_MAX_DIMS];    /**< input strides, in elements */   \
    int32_t reduced_ndims;                /**< 0 when nothing is reduced */    \
    int32_t reduced_dims[TS_MAX_DIMS];                                         \
    int32_t reduced_strides[TS_MAX_DIMS]; /**< input strides, in elements */

/** Advance a row-major multi-index over dims[0..ndims); returns 0 once it wraps to all zeros. */
static inline int ts_next_index(int32_t ndims, const int32_t *dims, int32_t *index)
{
    for (int32_t k = ndims - 1; k >= 0; --k) {
        if (++index[k] < dims[k]) {
            return 1;
        }
        index[k] = 0;
    }
    return 0;
}

/** Element offset of a multi-index: sum of index[k] * strides[k] (strides may be negative). */
static inline int32_t ts_index_offset(int32_t ndims, const int32_t *index, const int32_t *strides)
{
    int32_t offset = 0;
    for (int32_t k = 0; k < ndims; ++k) {
        offset += index[k] * strides[k];
    }
    return offset;
}

/**
 * Shape walk shared by the broadcasting element-wise kernels (ADD, MUL, ...).
 * Shapes are right-aligned to TS_MAX_DIMS; a stride of 0 repeats an operand
 * along that dimension. When `broadcast` is 0 both operands have the output's
 * shape and kernels may walk the `size` elements linearly.
 */
typedef struct {
    int32_t size;                    /**< output elements */
    int32_t broadcast;               /**< 0: same shapes, 1: use dims/strides */
    int32_t dims[TS_MAX_DIMS];       /**< output shape */
    int32_t stride1[TS_MAX_DIMS];    /**< element strides of operand 1 (0: broadcast) */
    int32_t stride2[TS_MAX_DIMS];    /**< element strides of operand 2 (0: broadcast) */
} ts_broadcast_t;

/**
 * Offsets of the operands of output element `i` (linear index, row-major).
 * @param[in]  shape the broadcast description
 * @param[in]  i     output element index, 0 <= i < shape->size
 * @param[out] off1  element offset into operand 1
 * @param[out] off2  element offset into operand 2
 */
static inline void ts_broadcast_offsets(const ts_broadcast_t *shape, int32_t i, int32_t *off1, int32_t *off2)
{
    int32_t o1 = 0;
    int32_t o2 = 0;
    for (int32_t d = TS_MAX_DIMS - 1; d >= 0; --d) {
        const int32_t coord = i % shape->dims[d];
        i /= shape->dims[d];
        o1 += coord * shape->stride1[d];
        o2 += coord * shape->stride2[d];
    }
    *off1 = o1;
    *off2 = o2;
}

/* Optimized variants: projects for DSP/Helium cores carry ts_opt.h (see there). Named
 * through a macro so that the generator's include scan does not copy it everywhere. */
#define TS_OPT_HEADER "ts_opt.h"
#if defined(__has_include)
#if __has_include(TS_OPT_HEADER)
#include TS_OPT_HEADER
#endif
#endif

#endif /* TS_KERNELS_H */
