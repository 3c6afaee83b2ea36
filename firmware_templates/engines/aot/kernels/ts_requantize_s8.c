/* ts_requantize_s8.c - int8 -> int8 rescale and clamp (QUANTIZE, RELU, RELU6). */
#include "ts_requantize_s8.h"

int32_t ts_requantize_s8(const ts_requantize_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_requantize_params_t *p = params;
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t y = ts_mbqm(input[i] - p->input_zero_point, p->multiplier, p->shift) + p->output_zero_point;
        output[i] = ts_clamp_s8(y, p->act_min, p->act_max);
    }
    return TS_OK;
}
