/* TANH int8: gemmlowp fixed-point tanh, as TFLM reference_integer_ops::Tanh. */
#include "ts_fx_act_s8.h"

#include "ts_fixedpoint.h"

static int8_t tanh_of(const void *params, int8_t value)
{
    int32_t x_q4;
    const int side = ts_fx_act_input(params, value, &x_q4);
    if (side != 0) {
        return side < 0 ? INT8_MIN : INT8_MAX;
    }
    /* Q0.31 to 1/128 steps, zero point 0 */
    return ts_clamp_s8(ts_rounding_divide_by_pot(ts_fx_tanh(x_q4, 4), 24), INT8_MIN, INT8_MAX);
}

int32_t ts_tanh_s8(const ts_fx_act_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    ts_fx_map_s8(params, tanh_of, params->size, input, output);
    return TS_OK;
}
