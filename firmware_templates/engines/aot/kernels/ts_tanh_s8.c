/* TANH int8: gemmlowp fixed-point tanh, as TFLM reference_integer_ops::Tanh. */
#include "ts_tanh_s8.h"

#include "ts_fixedpoint.h"

int32_t ts_tanh_s8(const ts_tanh_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    for (int32_t i = 0; i < params->size; ++i) {
        const int32_t x = input[i] + params->input_offset;
        if (x <= -params->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (x >= params->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t x_q4 = ts_mbqm(x, params->input_multiplier, params->input_left_shift);
            const int32_t y_q0 = ts_fx_tanh(x_q4, 4);
            /* Q0.31 to 1/128 steps, zero point 0 */
            output[i] = ts_clamp_s8(ts_rounding_divide_by_pot(y_q0, 24), INT8_MIN, INT8_MAX);
        }
    }
    return TS_OK;
}
