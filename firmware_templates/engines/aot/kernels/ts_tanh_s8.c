/* TANH int8: gemmlowp fixed-point tanh, as TFLM reference_integer_ops::Tanh. */
#include "ts_tanh_s8.h"

#include "ts_fixedpoint.h"

static int8_t tanh_of(const void *p, int8_t value)
{
    const ts_tanh_params_t *params = p;
    const int32_t x = value + params->input_offset;
    if (x <= -params->input_range_radius) {
        return INT8_MIN;
    }
    if (x >= params->input_range_radius) {
        return INT8_MAX;
    }
    const int32_t x_q4 = ts_mbqm(x, params->input_multiplier, params->input_left_shift);
    /* Q0.31 to 1/128 steps, zero point 0 */
    return ts_clamp_s8(ts_rounding_divide_by_pot(ts_fx_tanh(x_q4, 4), 24), INT8_MIN, INT8_MAX);
}

int32_t ts_tanh_s8(const ts_tanh_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    ts_fx_map_s8(params, tanh_of, params->size, input, output);
    return TS_OK;
}
