/*
 * ts_mean_s8_dsp.c - MEAN on the DSP extension (Cortex-M4/M7/M33).
 *
 * The channels-innermost form (ts_mean_channels_inner in ts_mean_s8.h: GlobalAveragePooling's
 * MEAN over height and width, any reduction whose kept axes end in a contiguous one): for each
 * outer index, sixteen channels at a time, the reduced input pixels are summed into halfword
 * pairs with SXTAB16 (bytes 0 and 2) and SXTAB16 ROR #8 (bytes 1 and 3), at most
 * TS_MEAN_DSP_RUN pixels per run (no halfword overflow), the runs' sums added into int32 ones;
 * then groups of four channels, and the last one to three a byte at a time. Each sum plus the
 * input offset times the count is requantized as the portable kernel does (ts_mbqm). Other
 * reductions use the portable kernel.
 */
#include "ts_mean_s8.h"

#if TS_OPT_DSP
#include "ts_simd.h"

/* Most pixels summed in halfwords: 256 * -128 = -32768. */
#define TS_MEAN_DSP_RUN 256


/* The requantized means of `n` channel sums of `count` pixels. */
static void ts_mean_store(const int32_t *sums, int32_t n, int32_t count, const ts_mean_params_t *p, int8_t *out)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t y = ts_mbqm(sums[i] + count * p->input_offset, p->multiplier, p->shift) + p->output_offset;
        out[i] = ts_clamp_s8(y, INT8_MIN, INT8_MAX);
    }
}

/* The means of 4 * words channels at `in` over `count` pixels `step` bytes apart. */
TS_ALWAYS_INLINE void ts_mean_words(const int8_t *in, int32_t count, int32_t step, int32_t words,
                                    const ts_mean_params_t *p, int8_t *out)
{
    int32_t sums[16] = {0};
    for (int32_t r0 = 0; r0 < count; r0 += TS_MEAN_DSP_RUN) {
        uint32_t even[4] = {0}, odd[4] = {0};
        ts_sxtab16_pixels(in + (size_t)r0 * step, ts_min_i32(count - r0, TS_MEAN_DSP_RUN), step, words, even, odd);
        for (int32_t j = 0; j < words; ++j) {
            sums[4 * j] += (int16_t)even[j];
            sums[4 * j + 1] += (int16_t)odd[j];
            sums[4 * j + 2] += (int32_t)even[j] >> 16;
            sums[4 * j + 3] += (int32_t)odd[j] >> 16;
        }
    }
    ts_mean_store(sums, 4 * words, count, p, out);
}

/* The means of all channels of one outer index (ts_mean_s8_by_rows). */
static void ts_mean_row(const ts_mean_params_t *p, const int8_t *in, int8_t *output)
{
    const int32_t channels = p->kept_dims[p->kept_ndims - 1];
    const int32_t count = p->reduced_dims[0], step = p->reduced_strides[0];
    int32_t c = 0;
    for (; c + 16 <= channels; c += 16) {
        ts_mean_words(in + c, count, step, 4, p, output + c);
    }
    for (; c + 4 <= channels; c += 4) {
        ts_mean_words(in + c, count, step, 1, p, output + c);
    }
    for (; c < channels; ++c) {
        int32_t sum = 0;
        for (int32_t r = 0; r < count; ++r) {
            sum += in[c + (size_t)r * step];
        }
        ts_mean_store(&sum, 1, count, p, output + c);
    }
}

int32_t ts_mean_s8(const ts_mean_params_t *params, const int8_t *input, int8_t *output)
{
    return ts_mean_s8_by_rows(params, input, output, ts_mean_row);
}
#endif /* TS_OPT_DSP */
