/*
 * ts_gemm_dsp.h - int16 matrix x vector on the DSP extension's dual 16-bit MAC (SMLAD).
 *
 * The generator widens CONV_2D / FULLY_CONNECTED filters [rows, k] to int16 once
 * (toolchain/codegen/aot_opt.py dsp_filter): rows padded to a multiple of 4, k to a
 * multiple of 8 (k8), and for each quad of rows and each group of four k, each row's
 * (w0, w2) (w1, w3). A column (one output pixel's receptive field, input offset added)
 * stores each group the same way: (x0, x2) (x1, x3). Then one LDRD fetches the column's
 * group, two LDMs the four rows' groups, and eight SMLADs consume them: 0.75 instructions
 * per MAC with the loop.
 */
#ifndef TS_GEMM_DSP_H
#define TS_GEMM_DSP_H

#include "ts_opt.h"
#include "ts_simd.h"

/** Position of element `k` of a column in the (x0, x2, x1, x3) group order. */
static inline int32_t ts_col_index(int32_t k)
{
    return (k & ~3) | ((k & 1) << 1) | ((k >> 1) & 1);
}

/**
 * Widen `n` (a multiple of 4) int8 inputs plus `offset` into the column order.
 * @param[in]  x       n int8 inputs
 * @param[in]  offset  added to every input (-input zero point)
 * @param[out] col     n int16, 4-byte aligned
 */
static inline void ts_col_fill4(const int8_t *x, int32_t n, int32_t offset, int16_t *col)
{
    const uint32_t off2 = ts_dup16(offset);
    uint32_t *dst = (uint32_t *)(void *)col;
    for (int32_t i = 0; i < n; i += 4, dst += 2) {
        const uint32_t v = ts_read32(x + i);
        dst[0] = ts_sxtab16(off2, v);
        dst[1] = ts_sxtab16_ror8(off2, v);
    }
}

/**
 * out[r] = requantized (row r . col) for r < rows: the four accumulators of a quad of
 * rows start at their bias and are requantized straight from registers. Only the groups
 * of four that hold the k inputs are multiplied: a k8 group of zero weights is skipped.
 * @param[in]  w        the re-laid filter (dsp_filter, laid out for k8 = k rounded up to 8), 4-byte aligned
 * @param[in]  col      the k inputs rounded up to 4 (zeros after k), int16 in column order, 4-byte aligned
 * @param[in]  k        the depth (>= 1)
 * @param[in]  rows     output rows
 * @param[in]  rq       [rows rounded up to 4] requantization (ts_rq_t)
 * @param[out] out      [rows] int8
 * @param[in]  odd      whether k, rounded up to 4, is an odd number of groups of four
 */
TS_ALWAYS_INLINE void ts_gemv_body(const int16_t *w, const int16_t *col, int32_t k, int32_t rows,
                                   const ts_rq_t *rq, int32_t act_min, int32_t act_max, int8_t *out, int odd)
{
    const int32_t pairs = (k + 3) >> 3; /* groups: 2 * pairs + odd (a constant: then 16 zero weights end each quad) */
    for (int32_t r = 0; r < rows; r += 4, rq += 4) {
        /* Every register of the loop is pinned: LDM needs ascending registers (fixed ones,
         * clobbered), which leaves the compiler too few to allocate the rest at every -O level.
         * r7 (the Thumb frame pointer) is left alone. */
        register const int16_t *wp __asm__("r11") = w;
        register int32_t a0 __asm__("r0") = rq[0].bias2;
        register int32_t a1 __asm__("r1") = rq[1].bias2;
        register int32_t a2 __asm__("r2") = rq[2].bias2;
        register int32_t a3 __asm__("r3") = rq[3].bias2;
        register const int16_t *c __asm__("r12") = col;
        register int32_t n __asm__("lr") = pairs;
        /* per group of four k: one LDRD of the column, two LDMs of two rows' weights each */
#define TS_GEMV_GROUP                                       \
    "ldrd r9, r10, [%[c]], #8\n\t"                          \
    "ldm %[w]!, {r4, r5, r6, r8}\n\t"                       \
    "smlad %[a0], r4, r9, %[a0]\n\t"                        \
    "smlad %[a0], r5, r10, %[a0]\n\t"                       \
    "smlad %[a1], r6, r9, %[a1]\n\t"                        \
    "smlad %[a1], r8, r10, %[a1]\n\t"                       \
    "ldm %[w]!, {r4, r5, r6, r8}\n\t"                       \
    "smlad %[a2], r4, r9, %[a2]\n\t"                        \
    "smlad %[a2], r5, r10, %[a2]\n\t"                       \
    "smlad %[a3], r6, r9, %[a3]\n\t"                        \
    "smlad %[a3], r8, r10, %[a3]\n\t"
#define TS_GEMV_OPERANDS                                                                                 \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(wp), [c] "+r"(c), [n] "+r"(n) \
    :                                                                                                    \
    : "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory"
        if (odd) {
            __asm__ volatile(TS_GEMV_GROUP TS_GEMV_OPERANDS);
        }
        if (!odd || n != 0) {
            __asm__ volatile("1:\n\t" TS_GEMV_GROUP TS_GEMV_GROUP
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b\n\t" TS_GEMV_OPERANDS);
        }
#undef TS_GEMV_OPERANDS
#undef TS_GEMV_GROUP
        w = wp + 16 * odd;
        if (rows - r >= 4) {
            ts_rq_apply4(a0, a1, a2, a3, rq, act_min, act_max, out + r);
            continue;
        }
        const int32_t acc[3] = {a0, a1, a2};
        for (int32_t i = 0; i < rows - r; ++i) {
            out[r + i] = ts_rq_apply(acc[i], &rq[i], act_min, act_max);
        }
    }
}

/* ts_gemv_body for an even or odd number of groups of four in k, with the int8 range as the
 * activation clamp (constants: one SSAT per output) or any clamp */
#define TS_GEMV_SSAT(name, odd)                                                                           \
    static TS_NOINLINE void name(const int16_t *w, const int16_t *col, int32_t k, int32_t rows,          \
                                 const ts_rq_t *rq, int8_t *out)                                          \
    {                                                                                                     \
        ts_gemv_body(w, col, k, rows, rq, -128, 127, out, odd);                                           \
    }
#define TS_GEMV_CLAMP(name, odd)                                                                          \
    static TS_NOINLINE void name(const int16_t *w, const int16_t *col, int32_t k, int32_t rows,          \
                                 const ts_rq_t *rq, int32_t act_min, int32_t act_max, int8_t *out)        \
    {                                                                                                     \
        ts_gemv_body(w, col, k, rows, rq, act_min, act_max, out, odd);                                    \
    }
TS_GEMV_SSAT(ts_gemv_ssat, 0)
TS_GEMV_SSAT(ts_gemv_ssat_odd, 1)
TS_GEMV_CLAMP(ts_gemv_clamp, 0)
TS_GEMV_CLAMP(ts_gemv_clamp_odd, 1)
#undef TS_GEMV_SSAT
#undef TS_GEMV_CLAMP

/** ts_gemv_body, the clamp and the parity of k's groups decided once per call. */
static inline void ts_gemv_dsp(const int16_t *w, const int16_t *col, int32_t k, int32_t rows, const ts_rq_t *rq,
                               int32_t act_min, int32_t act_max, int8_t *out)
{
    const int odd = ((k + 3) >> 2) & 1;
    if (act_min == -128 && act_max == 127) {
        (odd ? ts_gemv_ssat_odd : ts_gemv_ssat)(w, col, k, rows, rq, out);
    } else {
        (odd ? ts_gemv_clamp_odd : ts_gemv_clamp)(w, col, k, rows, rq, act_min, act_max, out);
    }
}

#endif /* TS_GEMM_DSP_H */
