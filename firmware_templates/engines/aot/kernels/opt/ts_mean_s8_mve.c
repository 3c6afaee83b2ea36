/*
 * ts_mean_s8_mve.c - MEAN with Helium (MVE).
 *
 * The channels-innermost form (ts_mean_channels_inner in ts_mean_s8.h: GlobalAveragePooling's
 * MEAN over height and width): for each outer index, sixteen channels at a time (the last
 * ones tail-predicated), the reduced input pixels are summed into four int32x4 vectors with
 * widening loads (VLDRB.S32), the input offset times the count added, and the sums
 * requantized four lanes at a time as the portable kernel's ts_mbqm (ts_mve_requant_lr),
 * clamped and stored narrowing. Other reductions use the portable kernel.
 */
/* -O2 whatever the project level: ts_mve.h's Helium asm has impossible register constraints at -O0 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_mean_s8.h"

#if TS_OPT_MVE
#include "ts_mve.h"


/* The lanes of sixteen channels from c on that exist: four predicates of four lanes. */
static void ts_mean_preds(int32_t left, mve_pred16_t *pred)
{
    for (int32_t j = 0; j < 4; ++j) {
        pred[j] = vctp32q((uint32_t)ts_max_i32(0, left - 4 * j));
    }
}

/* The means of all channels of one outer index (ts_mean_s8_by_rows). */
static void ts_mean_row(const ts_mean_params_t *p, const int8_t *in, int8_t *output)
{
    const int32_t channels = p->kept_dims[p->kept_ndims - 1];
    const int32_t count = p->reduced_dims[0], step = p->reduced_strides[0];
    const int32x4_t mult = vdupq_n_s32(p->multiplier), left = vdupq_n_s32(TS_MVE_LEFT(p->shift));
    const int32x4_t right = vdupq_n_s32(TS_MVE_RIGHT(p->shift));
    const int32x4_t lo = vdupq_n_s32(INT8_MIN), hi = vdupq_n_s32(INT8_MAX);
    for (int32_t c = 0; c < channels; c += 16) {
        mve_pred16_t pred[4];
        ts_mean_preds(channels - c, pred);
        int32x4_t s0 = vdupq_n_s32(count * p->input_offset), s1 = s0, s2 = s0, s3 = s0;
        const int8_t *x = in + c;
        for (int32_t r = count; r > 0; --r, x += step) {
            s0 = vaddq_s32(s0, vldrbq_z_s32(x, pred[0]));
            s1 = vaddq_s32(s1, vldrbq_z_s32(x + 4, pred[1]));
            s2 = vaddq_s32(s2, vldrbq_z_s32(x + 8, pred[2]));
            s3 = vaddq_s32(s3, vldrbq_z_s32(x + 12, pred[3]));
        }
        const int32x4_t sums[4] = {s0, s1, s2, s3};
        for (int32_t j = 0; j < 4; ++j) {
            int32x4_t y = vaddq_n_s32(ts_mve_requant_lr(sums[j], mult, left, right), p->output_offset);
            vstrbq_p_s32(output + c + 4 * j, vminq_s32(vmaxq_s32(y, lo), hi), pred[j]);
        }
    }
}

int32_t ts_mean_s8(const ts_mean_params_t *params, const int8_t *input, int8_t *output)
{
    return ts_mean_s8_by_rows(params, input, output, ts_mean_row);
}
#endif /* TS_OPT_MVE */
