/*
 * ts_mve.h - Helium (MVE) helpers of the optimized aot kernels (Cortex-M55).
 *
 * Offsets: an int8 dot product with an input offset is sum(w * x) + offset * sum(w);
 * the kernels fold offset * sum(w) + bias into the accumulators' start (ts_mve_row_init)
 * and feed raw int8 lanes to VMLADAVA (16 MACs per instruction). Taps outside the image
 * read the input zero point, whose contribution w * (zp + offset) is 0, as TFLM's skip.
 *
 * Requantization (ts_mve_requant) is TFLM's MultiplyByQuantizedMultiplier on four lanes:
 * VQRDMULH is SaturatingRoundingDoublingHighMul exactly, and RoundingDivideByPOT (half
 * away from zero) is VRSHL (half up) after subtracting 1 from negative lanes.
 */
#ifndef TS_MVE_H
#define TS_MVE_H

#include <arm_mve.h>
#include "ts_kernels.h"
#include "ts_opt.h"

/** Per-channel accumulator starts: init[r] = bias[r] + offset * sum(w[r][0..k)). */
static inline void ts_mve_row_init(const int8_t *w, int32_t k, int32_t rows, const int32_t *bias, int32_t offset,
                                   int32_t *init)
{
    for (int32_t r = 0; r < rows; ++r, w += k) {
        int32_t sum = 0;
        for (int32_t i = 0; i < k; i += 16) {
            const mve_pred16_t p = vctp8q((uint32_t)(k - i));
            sum = vaddvaq_p_s8(sum, vldrbq_z_s8(w + i, p), p);
        }
        init[r] = (bias != NULL ? bias[r] : 0) + offset * sum;
    }
}

/** acc[r] = init[r] + w[r] . x for `rows` rows of length k (four rows share each x load;
 * a tail-predicated loop: its last pass loads and sums only the k % 16 remaining lanes).
 * A pass over four rows is one asm block (accumulators in r4, r6, r8, r10: VMLADAV takes
 * even registers) so that no loop state spills around it. */
static TS_NOINLINE void ts_mve_gemv(const int8_t *w, int32_t k, const int8_t *x, int32_t rows, const int32_t *init,
                               int32_t *acc)
{
    const int32_t *ip = init;
    int32_t *ap = acc;
    int32_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const int8_t *w0 = w + (size_t)r * k, *w1, *w2, *w3, *xp;
        __asm__ volatile(
            "ldrd r4, r6, [%[ip]], #8\n\t"
            "ldrd r8, r10, [%[ip]], #8\n\t"
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
            "strd r4, r6, [%[ap]], #8\n\t"
            "strd r8, r10, [%[ap]], #8\n\t"
            : [w0] "+r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [xp] "=&r"(xp), [ip] "+r"(ip),
              [ap] "+r"(ap)
            : [k] "r"(k), [x] "r"(x)
            : "r4", "r6", "r8", "r10", "q0", "q1", "q2", "q3", "lr", "memory");
    }
    for (; r < rows; ++r) {
        const int8_t *w0 = w + (size_t)r * k;
        int32_t a0 = init[r];
        for (int32_t i = 0; i < k; i += 16) {
            const mve_pred16_t p = vctp8q((uint32_t)(k - i));
            a0 = vmladavaq_p_s8(a0, vldrbq_z_s8(x + i, p), vldrbq_z_s8(w0 + i, p), p);
        }
        acc[r] = a0;
    }
}

/** TFLM MultiplyByQuantizedMultiplier on four lanes (see the top of this file), the shift
 * split as left = max(shift, 0) and right = min(shift, 0). */
TS_ALWAYS_INLINE int32x4_t ts_mve_requant_lr(int32x4_t acc, int32x4_t multiplier, int32x4_t left, int32x4_t right)
{
    acc = vshlq_s32(acc, left); /* wraps, as TFLM's left shift */
    acc = vqrdmulhq_s32(acc, multiplier);
    acc = vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, right), 31)); /* -1 where acc < 0 and right < 0 */
    return vrshlq_s32(acc, right);
}

/** ts_mve_requant_lr with the shift as TFLM stores it. */
TS_ALWAYS_INLINE int32x4_t ts_mve_requant(int32x4_t acc, int32x4_t multiplier, int32x4_t shift)
{
    const int32x4_t zero = vdupq_n_s32(0);
    return ts_mve_requant_lr(acc, multiplier, vmaxq_s32(shift, zero), vminq_s32(shift, zero));
}

/**
 * out[i] = clamp(requant(acc[i]) + output_offset) for n outputs, channel i's multiplier and
 * shift at multiplier[i * step], shift[i * step] (step 0: per tensor).
 */
TS_ALWAYS_INLINE void ts_mve_requant_row(const int32_t *acc, const int32_t *multiplier, const int32_t *shift,
                                         int32_t step, int32_t n, int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out)
{
    const int32x4_t lo = vdupq_n_s32(act_min), hi = vdupq_n_s32(act_max);
    int32_t i = 0;
    if (step) {
        for (; i + 4 <= n; i += 4) {
            const int32x4_t v = ts_mve_requant(vldrwq_s32(acc + i), vldrwq_s32(multiplier + i), vldrwq_s32(shift + i));
            vstrbq_s32(out + i, vminq_s32(vmaxq_s32(vaddq_n_s32(v, output_offset), lo), hi));
        }
    }
    for (; i < n; i += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - i));
        const int32x4_t m = step ? vldrwq_z_s32(multiplier + i, p) : vdupq_n_s32(multiplier[0]);
        const int32x4_t s = step ? vldrwq_z_s32(shift + i, p) : vdupq_n_s32(shift[0]);
        int32x4_t v = ts_mve_requant(vldrwq_z_s32(acc + i, p), m, s);
        v = vminq_s32(vmaxq_s32(vaddq_n_s32(v, output_offset), lo), hi);
        vstrbq_p_s32(out + i, v, p);
    }
}

#endif /* TS_MVE_H */
