/* LOGISTIC int8: gemmlowp fixed-point logistic, as TFLM reference_integer_ops::Logistic. */
#include "ts_fx_act_s8.h"

#include "ts_fixedpoint.h"

static int8_t logistic_of(const void *params, int8_t value)
{
    int32_t x_q4;
    const int side = ts_fx_act_input(params, value, &x_q4);
    if (side != 0) {
        return side < 0 ? INT8_MIN : INT8_MAX;
    }
    /* Q0.31 to 1/256 steps, zero point -128 */
    const int32_t y = ts_rounding_divide_by_pot(ts_fx_logistic(x_q4, 4), 23) + INT8_MIN;
    return ts_clamp_s8(y, INT8_MIN, INT8_MAX);
}

int32_t ts_logistic_s8(const ts_fx_act_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    ts_fx_map_s8(params, logistic_of, params->size, input, output);
    return TS_OK;
}
