/* HARD_SWISH int8: 16-bit fixed point, as TFLM reference_ops::HardSwish<int8_t>. */
#include "ts_hard_swish_s8.h"

/** x * 2^amount saturated to int16 (amount >= 0). */
static int16_t saturating_left_shift_s16(int16_t x, int32_t amount)
{
    const int64_t shifted = (int64_t)x * ((int64_t)1 << amount);
    return shifted > INT16_MAX ? INT16_MAX : shifted < INT16_MIN ? INT16_MIN : (int16_t)shifted;
}

/** round(a * b / 2^15) with the single overflow case saturated (ARM SQRDMULH, 16 bit). */
static int16_t srdhm_s16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    const int32_t ab = (int32_t)a * b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/** a * b / 2^15 truncated toward zero, the overflow case saturated (ARM SQDMULH, 16 bit). */
static int16_t sdhm_s16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * b) / (1 << 15));
}

int32_t ts_hard_swish_s8(const ts_hard_swish_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const int32_t reluish_exponent = params->reluish_multiplier_exponent;
    for (int32_t i = 0; i < params->size; ++i) {
        const int16_t x_hires = (int16_t)((input[i] + params->input_offset) * (1 << 7));
        const int16_t x_preshift_output = srdhm_s16(x_hires, params->output_multiplier);
        /* x on a scale where 3.0 is 32768, saturated: [-3, 3] -> [-1, 1] */
        int16_t reluish = x_hires;
        if (reluish_exponent > 0) {
            reluish = saturating_left_shift_s16(reluish, reluish_exponent - 1);
        }
        reluish = srdhm_s16(reluish, params->reluish_multiplier);
        if (reluish_exponent > 0) {
            reluish = saturating_left_shift_s16(reluish, 1);
        } else if (reluish_exponent < 0) {
            reluish = (int16_t)ts_rounding_divide_by_pot(reluish, -reluish_exponent);
        }
        /* [-1, 1] -> [0, 1] */
        reluish = (int16_t)((reluish + (1 << 15)) >> 1);
        const int16_t y_preshift = sdhm_s16(reluish, x_preshift_output);
        const int32_t y = ts_rounding_divide_by_pot(y_preshift, -params->output_multiplier_exponent);
        /* TFLM adds the zero point in int16 (wrapping) before clamping */
        output[i] = ts_clamp_s8((int16_t)(y + params->output_offset), INT8_MIN, INT8_MAX);
    }
    return TS_OK;
}
