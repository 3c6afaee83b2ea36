/* LOGISTIC int8: gemmlowp fixed-point logistic, as TFLM reference_integer_ops::Logistic. */
#include "ts_logistic_s8.h"

#include "ts_fixedpoint.h"

int32_t ts_logistic_s8(const ts_logistic_params_t *params, const int8_t *input, int8_t *output)
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
            const int32_t y_q0 = ts_fx_logistic(x_q4, 4);
            /* Q0.31 to 1/256 steps, zero point -128 */
            output[i] = ts_clamp_s8(ts_rounding_divide_by_pot(y_q0, 23) + INT8_MIN, INT8_MIN, INT8_MAX);
        }
    }
    return TS_OK;
}
