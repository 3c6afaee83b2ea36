/*
 * ts_mve.h - Helium (MVE) helpers of the optimized aot kernels (Cortex-M55).
 *
 * Offsets: an int8 dot product with an input offset is sum(w * x) + offset * sum(w);
 * the kernels fold offset * sum(w) + bias into the accumulators' start (ts_mve_rq_table)
 * and feed raw int8 lanes to VMLADAVA (16 MACs per instruction). Taps outside the image
 * read the input zero point, whose contribution w * (zp + offset) is 0, as TFLM's skip.
 *
 * Requantization (ts_mve_requant_lr) is TFLM's MultiplyByQuantizedMultiplier on four lanes:
 * VQRDMULH is SaturatingRoundingDoublingHighMul exactly, and RoundingDivideByPOT (half
 * away from zero) is VRSHL (half up) after subtracting 1 from negative lanes.
 */
#ifndef TS_MVE_H
#define TS_MVE_H

#include <arm_mve.h>
#include "ts_kernels.h"
#include "ts_opt.h"

/** Output offset and clamp of a requantized row (read from memory by ts_mve_gemv_rq's asm). */
typedef struct {
    int32_t offset, min, max;
} ts_mve_out_t;

/** The shift as TFLM stores it split into left = max(shift, 0) and right = min(shift, 0). */
#define TS_MVE_LEFT(s) ((s) > 0 ? (s) : 0)
#define TS_MVE_RIGHT(s) ((s) < 0 ? (s) : 0)

/**
 * ts_mve_gemv_rq's table, per quad of rows: {init[4], multiplier[4], left[4], right[4]},
 * init = bias + offset * sum(w[r][0..k)); channel r's multiplier and shift at
 * multiplier[r * step], shift[r * step] (step 0: per tensor). Rows padded to a quad.
 */
static inline void ts_mve_rq_table(const int8_t *w, int32_t k, int32_t rows, const int32_t *bias, int32_t offset,
                                   const int32_t *multiplier, const int32_t *shift, int32_t step, int32_t *rq)
{
    for (int32_t r = 0; r < rows; ++r, w += k) {
        const int8_t *wp = w;
        int32_t sum;
        __asm__ volatile( /* VADDVA takes an even register */
            "movs r4, #0\n\t"
            "dlstp.8 lr, %[k]\n"
            "1:\n\t"
            "vldrb.8 q0, [%[wp]], #16\n\t"
            "vaddva.s8 r4, q0\n\t"
            "letp lr, 1b\n\t"
            "mov %[sum], r4\n\t"
            : [sum] "=r"(sum), [wp] "+r"(wp)
            : [k] "r"(k)
            : "r4", "q0", "lr", "cc", "memory");
        int32_t *slot = rq + r / 4 * 16 + r % 4;
        slot[0] = (bias != NULL ? bias[r] : 0) + offset * sum;
        slot[4] = multiplier[r * step];
        slot[8] = TS_MVE_LEFT(shift[r * step]);
        slot[12] = TS_MVE_RIGHT(shift[r * step]);
    }
}

/** TFLM MultiplyByQuantizedMultiplier on four lanes (see the top of this file), the shift
 * split as left and right (TS_MVE_LEFT, TS_MVE_RIGHT). */
TS_ALWAYS_INLINE int32x4_t ts_mve_requant_lr(int32x4_t acc, int32x4_t multiplier, int32x4_t left, int32x4_t right)
{
    acc = vshlq_s32(acc, left); /* wraps, as TFLM's left shift */
    acc = vqrdmulhq_s32(acc, multiplier);
    acc = vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, right), 31)); /* -1 where acc < 0 and right < 0 */
    return vrshlq_s32(acc, right);
}

/**
 * out[r] = clamp(requant(init[r] + w[r] . x) + offset) for `rows` rows of length k, `rq`
 * from ts_mve_rq_table. Four rows share each x load in a tail-predicated loop (its last
 * pass loads and sums only the k % 16 remaining lanes). All quads of rows, requantization
 * included, are one asm block so that no loop state spills: accumulators in r4, r6, r8,
 * r10 (VMLADAV takes even registers), the clamp in q6/q7, the quad count and the output
 * offset read from the stack (too few registers otherwise). VMOV Qd[2], Qd[0], Rt, Rt2
 * writes Rt to the lower lane.
 */
static TS_NOINLINE void ts_mve_gemv_rq(const int8_t *w, int32_t k, const int8_t *x, int32_t rows, const int32_t *rq,
                                  const ts_mve_out_t *o, int8_t *out)
{
    const int32_t zp = o->offset, lo = o->min, hi = o->max;
    int32_t quads = rows / 4;
    const int8_t *w0 = w, *w1, *w2, *w3, *xp;
    if (quads > 0) {
        __asm__ volatile(
            "ldr %[w1], %[lo]\n\t"
            "vdup.32 q6, %[w1]\n\t"
            "ldr %[w1], %[hi]\n\t"
            "vdup.32 q7, %[w1]\n"
            "2:\n\t"
            "ldrd r4, r6, [%[rq]]\n\t"
            "ldrd r8, r10, [%[rq], #8]\n\t"
            "add %[w1], %[w0], %[k]\n\t"
            "add %[w2], %[w1], %[k]\n\t"
            "add %[w3], %[w2], %[k]\n\t"
            "mov %[xp], %[x]\n\t"
            "dlstp.8 lr, %[k]\n"
            "1:\n\t"
            "vldrb.8 q0, [%[xp]], #16\n\t"
            "vldrb.8 q1, [%[w0]], #16\n\t"
            "vldrb.8 q2, [%[w1]], #16\n\t"
            "vmladava.s8 r4, q0, q1\n\t"
            "vldrb.8 q3, [%[w2]], #16\n\t"
            "vmladava.s8 r6, q0, q2\n\t"
            "vldrb.8 q1, [%[w3]], #16\n\t"
            "vmladava.s8 r8, q0, q3\n\t"
            "vmladava.s8 r10, q0, q1\n\t"
            "letp lr, 1b\n\t"
            "sub %[w0], %[w3], %[xp]\n\t" /* the next quad: w3 and xp moved alike, w3 + k */
            "add %[w0], %[w0], %[x]\n\t"
            "add %[w0], %[w0], %[k]\n\t"
            "vmov q0[2], q0[0], r4, r8\n\t"
            "vmov q0[3], q0[1], r6, r10\n\t"
            "vldrw.32 q1, [%[rq], #32]\n\t" /* left shift */
            "vshl.s32 q0, q0, q1\n\t"
            "vldrw.32 q1, [%[rq], #16]\n\t" /* multiplier */
            "vqrdmulh.s32 q0, q0, q1\n\t"
            "vldrw.32 q1, [%[rq], #48]\n\t" /* right shift */
            "vand q2, q0, q1\n\t"
            "vshr.s32 q2, q2, #31\n\t"
            "vqadd.s32 q0, q0, q2\n\t"
            "vrshl.s32 q0, q0, q1\n\t"
            "ldr %[w1], %[zp]\n\t"
            "vadd.i32 q0, q0, %[w1]\n\t"
            "vmax.s32 q0, q0, q6\n\t"
            "vmin.s32 q0, q0, q7\n\t"
            "vstrb.32 q0, [%[out]], #4\n\t"
            "add %[rq], %[rq], #64\n\t"
            "ldr %[w1], %[n]\n\t"
            "subs %[w1], %[w1], #1\n\t"
            "str %[w1], %[n]\n\t"
            "bne 2b\n\t"
            : [w0] "+r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [xp] "=&r"(xp), [rq] "+r"(rq),
              [out] "+l"(out), [n] "+m"(quads)
            : [k] "r"(k), [x] "r"(x), [zp] "m"(zp), [lo] "m"(lo), [hi] "m"(hi)
            : "r4", "r6", "r8", "r10", "q0", "q1", "q2", "q3", "q6", "q7", "lr", "cc", "memory");
    }
    for (int32_t j = 0; j < rows % 4; ++j, w0 += k) { /* the rows of a last partial quad */
        int32_t a = rq[j];
        for (int32_t i = 0; i < k; i += 16) {
            const mve_pred16_t p = vctp8q((uint32_t)(k - i));
            a = vmladavaq_p_s8(a, vldrbq_z_s8(x + i, p), vldrbq_z_s8(w0 + i, p), p);
        }
        const int32x4_t v = ts_mve_requant_lr(vdupq_n_s32(a), vdupq_n_s32(rq[4 + j]), vdupq_n_s32(rq[8 + j]),
                                              vdupq_n_s32(rq[12 + j]));
        const int32_t y = vgetq_lane_s32(v, 0) + zp;
        *out++ = (int8_t)(y < lo ? lo : y > hi ? hi : y);
    }
}

#endif /* TS_MVE_H */
