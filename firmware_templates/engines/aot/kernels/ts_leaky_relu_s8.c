/* LEAKY_RELU int8, as TFLM reference_ops::QuantizeLeakyRelu. */
#include "ts_leaky_relu_s8.h"

int32_t ts_leaky_relu_s8(const ts_leaky_relu_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || params->multiplier_alpha == INT32_MIN) {
        return TS_ERR_ARG;
    }
    /* requantize with |alpha| and negate after, as TFLM does for a negative alpha */
    const int alpha_negative = params->multiplier_alpha < 0;
    const int32_t alpha_magnitude = alpha_negative ? -params->multiplier_alpha : params->multiplier_alpha;
    for (int32_t i = 0; i < params->size; ++i) {
        const int32_t x = input[i] + params->input_offset;
        int32_t y;
        if (x >= 0) {
            y = ts_mbqm(x, params->multiplier_identity, params->shift_identity);
        } else {
            y = ts_mbqm(x, alpha_magnitude, params->shift_alpha);
            y = alpha_negative ? -y : y;
        }
        output[i] = ts_clamp_s8(y + params->output_offset, INT8_MIN, INT8_MAX);
    }
    return TS_OK;
}
