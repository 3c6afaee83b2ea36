/*
 * ts_opt.h - compile-time selection of the optimized aot kernels (kernels/opt).
 *
 * The generator copies this header (and kernels/opt/<kernel>_dsp.c, _mve.c) into
 * projects for cores with the DSP extension or Helium; ts_kernels.h includes it when
 * present. For each op with an optimized variant it defines TS_OPT_<OP> = 1; the
 * portable kernel then renames itself <kernel>_portable, and the optimized file
 * defines <kernel> (calling the portable one for configurations it does not cover).
 *
 *   Helium (MVE, Cortex-M55)         -> TS_OPT_MVE, kernels/opt/<kernel>_mve.c
 *   DSP extension (M4, M7, M33)      -> TS_OPT_DSP, kernels/opt/<kernel>_dsp.c
 *   -DTS_PORTABLE, or neither         -> the portable kernels (the oracle)
 */
#ifndef TS_OPT_H
#define TS_OPT_H

#include "ts_kernels.h"

#if !defined(TS_PORTABLE) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define TS_OPT_MVE 1
#define TS_OPT_DSP 0
#elif !defined(TS_PORTABLE) && defined(__ARM_FEATURE_DSP)
#define TS_OPT_MVE 0
#define TS_OPT_DSP 1
#else
#define TS_OPT_MVE 0
#define TS_OPT_DSP 0
#endif

/* the requantization helpers below are inlined even at -Os (a call per output costs more than they do) */
#if defined(__GNUC__)
#define TS_NOINLINE __attribute__((noinline, unused))
#define TS_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define TS_NOINLINE
#define TS_ALWAYS_INLINE static inline
#endif

#define TS_OPT_ANY (TS_OPT_MVE || TS_OPT_DSP)
#define TS_OPT_CONV2D TS_OPT_ANY
#define TS_OPT_DEPTHWISE_CONV2D TS_OPT_ANY
#define TS_OPT_FULLY_CONNECTED TS_OPT_ANY
#define TS_OPT_AVG_POOL2D TS_OPT_ANY
#define TS_OPT_ADD TS_OPT_ANY
#define TS_OPT_MAX_POOL2D TS_OPT_ANY
#define TS_OPT_MEAN TS_OPT_ANY

/*
 * ts_requant: exactly ts_mbqm(x, multiplier, shift) (TFLM MultiplyByQuantizedMultiplier)
 * for multiplier >= 0 (generated multipliers are Q31 values in [2^30, 2^31) or 0) and
 * -31 <= shift, with one 32x32->64 multiply-accumulate and 32-bit rounding.
 *
 * With P = x * M: SaturatingRoundingDoublingHighMul is trunc((P + nudge) / 2^31), and
 * for both signs of P that equals floor((P + 2^30) / 2^31) = Y (no saturation, M >= 0).
 * RoundingDivideByPOT(Y, e), e >= 1, is floor((Y - [Y < 0] + 2^(e-1)) / 2^e), and
 * Y - [Y < 0] = floor((P + 2^30 - [Y < 0] * 2^31) / 2^31). [Y < 0] may be replaced by
 * [x < 0]: they differ only for -2^30 <= P < 0, where both forms round to 0. So with
 * p = P + (x < 0 ? -2^30 : 2^30) the result is (floor(p / 2^31) + 2^(e-1)) >> e, and
 * floor(p / 2^31) = floor((2P + 2^31) / 2^32) - [x < 0], one SMMULR of 2x. This holds
 * for |x| < 2^29 (no overflow of 2x or of the rounding add): kernels check that bound once
 * per call (ts_acc_bounded) and use the portable kernel otherwise.
 * tests/test_aot_opt.py checks the equivalence on random and edge values.
 */
TS_ALWAYS_INLINE int32_t ts_smmulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/** floor(P / 2^31) + 2^(e-1) >> e of the derivation above, e = -shift >= 1, |x| < 2^29. */
TS_ALWAYS_INLINE int32_t ts_requant_neg(int32_t x, int32_t multiplier, int32_t round, int32_t right)
{
    const int32_t y = ts_smmulr(x * 2, multiplier) + (x >> 31);
    return (y + round) >> right;
}

TS_ALWAYS_INLINE int32_t ts_requant(int32_t x, int32_t multiplier, int32_t shift)
{
    if (shift >= 0) {
        const int32_t shifted = (int32_t)((uint32_t)x << shift);
        return (int32_t)(((int64_t)shifted * multiplier + ((int64_t)1 << 30)) >> 31);
    }
    return ts_requant_neg(x, multiplier, 1 << (-shift - 1), -shift);
}

/**
 * Whether every accumulator of `k` products of int8 weights and offset inputs
 * (|w * (x + offset)| <= 128 * 255) plus a bias stays within |acc| < 2^29 (ts_requant).
 * @param[in] bias  [n] int32 or NULL
 */
static inline int ts_acc_bounded(const int32_t *bias, int32_t n, int32_t k)
{
    const int64_t limit = ((int64_t)1 << 29) - (int64_t)k * 128 * 255;
    for (int32_t i = 0; bias != NULL && i < n; ++i) {
        if (bias[i] >= limit || bias[i] <= -limit) {
            return 0;
        }
    }
    return limit > 0;
}

/** Requantize an accumulator to int8: ts_requant, output offset, activation clamp. */
static inline int8_t ts_requant_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                   int32_t act_min, int32_t act_max)
{
    const int32_t v = ts_requant(acc, multiplier, shift) + output_offset;
    return (int8_t)(v < act_min ? act_min : v > act_max ? act_max : v);
}

/**
 * One output channel as the generator prepares it for the DSP kernels
 * (toolchain/codegen/aot_opt.py dsp_requant): shift < 0 only, the output offset folded
 * into the rounding term (add = 2^(right-1) + output_offset * 2^right), and the bias
 * doubled like the re-laid weights, so that accumulators hold 2 * acc for ts_smmulr.
 */
typedef struct {
    int32_t bias2;   /**< 2 * bias */
    int32_t multiplier;
    int32_t add;
    int32_t right;   /**< -shift >= 1 */
} ts_rq_t;

/** SSAT #8: saturate to [-128, 127]. */
TS_ALWAYS_INLINE int32_t ts_ssat8(int32_t x)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(x));
    return r;
#else
    return x < -128 ? -128 : x > 127 ? 127 : x;
#endif
}

/** SMMLAR: acc + (a * b + 2^31) / 2^32 (the 64-bit product's rounded high word). */
TS_ALWAYS_INLINE int32_t ts_smmlar(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return (int32_t)(((int64_t)acc * ((int64_t)1 << 32) + (int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/** ts_requant(acc) + output_offset from acc2 = 2 * (acc + bias), |acc + bias| < 2^29 (ts_requant):
 * the rounding term added by SMMLAR (adding add * 2^32 to the product adds exactly `add`). */
TS_ALWAYS_INLINE int32_t ts_rq_value(int32_t acc2, const ts_rq_t *q)
{
    return (ts_smmlar(acc2, q->multiplier, q->add) + (acc2 >> 31)) >> q->right;
}

/** ts_rq_value clamped to [act_min, act_max]. */
TS_ALWAYS_INLINE int8_t ts_rq_apply(int32_t acc2, const ts_rq_t *q, int32_t act_min, int32_t act_max)
{
    const int32_t v = ts_rq_value(acc2, q);
    return (int8_t)(v < act_min ? act_min : v > act_max ? act_max : v);
}

/** out[0..3] from four accumulators: one SSAT when the clamp is the whole int8 range. */
TS_ALWAYS_INLINE void ts_rq_apply4(int32_t a0, int32_t a1, int32_t a2, int32_t a3, const ts_rq_t *q,
                                   int32_t act_min, int32_t act_max, int8_t *out)
{
    if (act_min == -128 && act_max == 127) {
#if defined(__ARM_FEATURE_DSP)
        /* one block, so that q and out stay in registers (ts_rq_value, then SSAT #8) */
        uint32_t m, add, right;
#define TS_RQ_SSAT(i, a)                                                    \
    "ldrd %[m], %[add], [%[q], #16 * " #i " + 4]\n\t"                        \
    "ldr %[right], [%[q], #16 * " #i " + 12]\n\t"                            \
    "smmlar %[m], " a ", %[m], %[add]\n\t"                                  \
    "add %[m], %[m], " a ", asr #31\n\t"                                    \
    "asr %[m], %[m], %[right]\n\t"                                          \
    "ssat %[m], #8, %[m]\n\t"                                               \
    "strb %[m], [%[out], #" #i "]\n\t"
        __asm__ volatile(TS_RQ_SSAT(0, "%[a0]") TS_RQ_SSAT(1, "%[a1]") TS_RQ_SSAT(2, "%[a2]") TS_RQ_SSAT(3, "%[a3]")
                         : [m] "=&r"(m), [add] "=&r"(add), [right] "=&r"(right)
                         : [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [a3] "r"(a3), [q] "r"(q), [out] "r"(out)
                         : "memory");
#undef TS_RQ_SSAT
#else
        out[0] = (int8_t)ts_ssat8(ts_rq_value(a0, &q[0]));
        out[1] = (int8_t)ts_ssat8(ts_rq_value(a1, &q[1]));
        out[2] = (int8_t)ts_ssat8(ts_rq_value(a2, &q[2]));
        out[3] = (int8_t)ts_ssat8(ts_rq_value(a3, &q[3]));
#endif
    } else {
        out[0] = ts_rq_apply(a0, &q[0], act_min, act_max);
        out[1] = ts_rq_apply(a1, &q[1], act_min, act_max);
        out[2] = ts_rq_apply(a2, &q[2], act_min, act_max);
        out[3] = ts_rq_apply(a3, &q[3], act_min, act_max);
    }
}

/**
 * A broadcast shape (ts_broadcast_t, kernels' element-wise ops) as rows: dimensions of 1
 * dropped, and adjacent dimensions merged where both operands walk them contiguously or
 * both repeat them (outer stride = inner stride * inner size, for each operand). The last
 * dimension is then a run of dims[n - 1] elements that each operand walks with step
 * stride1[n - 1] / stride2[n - 1], each 1 or 0; the outer ones are walked row by row
 * (ts_rows_next).
 */
typedef struct {
    int32_t n;                       /**< dimensions, >= 1 */
    int32_t dims[TS_MAX_DIMS];
    int32_t stride1[TS_MAX_DIMS];    /**< element strides of operand 1 */
    int32_t stride2[TS_MAX_DIMS];    /**< element strides of operand 2 */
    int32_t index[TS_MAX_DIMS];      /**< the current row's coordinates (outer dimensions) */
} ts_rows_t;

static inline void ts_rows_init(const ts_broadcast_t *s, ts_rows_t *r)
{
    r->n = 0;
    for (int32_t d = 0; d < TS_MAX_DIMS; ++d) {
        const int32_t k = r->n - 1;
        if (s->dims[d] == 1) {
            continue;
        }
        if (k >= 0 && r->stride1[k] == s->stride1[d] * s->dims[d] && r->stride2[k] == s->stride2[d] * s->dims[d]) {
            r->dims[k] *= s->dims[d];
            r->stride1[k] = s->stride1[d];
            r->stride2[k] = s->stride2[d];
        } else {
            r->dims[k + 1] = s->dims[d];
            r->stride1[k + 1] = s->stride1[d];
            r->stride2[k + 1] = s->stride2[d];
            r->n = k + 2;
        }
    }
    if (r->n == 0) { /* a single element */
        r->n = 1;
        r->dims[0] = 1;
        r->stride1[0] = r->stride2[0] = 1;
    }
    for (int32_t d = 0; d < TS_MAX_DIMS; ++d) {
        r->index[d] = 0;
    }
}

/** Advance the operand offsets o1, o2 from one row (last dimension) to the next. */
static inline void ts_rows_next(ts_rows_t *r, int32_t *o1, int32_t *o2)
{
    for (int32_t d = r->n - 2; d >= 0; --d) {
        *o1 += r->stride1[d];
        *o2 += r->stride2[d];
        if (++r->index[d] < r->dims[d]) {
            return;
        }
        r->index[d] = 0;
        *o1 -= r->stride1[d] * r->dims[d];
        *o2 -= r->stride2[d] * r->dims[d];
    }
}

/**
 * Plan a binary element-wise op over `s` as rows (ts_rows_init) where every row is a run of
 * `*n` elements of one operand (step 1) against the other (step `*step`: 1, or 0 for one
 * element repeated); `*swapped` = 1 when operand 1 is the repeated one (its strides are then
 * r->stride2: the kernel swaps the operands' roles). Same shapes are one run (r unused).
 * @return 0, or -1 for a shape without that form
 */
static inline int32_t ts_rows_plan(const ts_broadcast_t *s, ts_rows_t *r, int32_t *n, int32_t *step, int *swapped)
{
    *swapped = 0;
    if (!s->broadcast) {
        *n = s->size;
        *step = 1;
        return 0;
    }
    ts_rows_init(s, r);
    const int32_t step1 = r->stride1[r->n - 1], step2 = r->stride2[r->n - 1];
    if (step1 + step2 == 0 || (step1 | step2) > 1) {
        return -1;
    }
    *n = r->dims[r->n - 1];
    *step = step2;
    if (step1 == 0) {
        *swapped = 1;
        *step = 0;
        for (int32_t d = 0; d < r->n; ++d) {
            const int32_t st = r->stride1[d];
            r->stride1[d] = r->stride2[d];
            r->stride2[d] = st;
        }
    }
    return 0;
}

#endif /* TS_OPT_H */
