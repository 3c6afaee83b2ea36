/* ts_dequantize_s8.c - DEQUANTIZE int8 -> float32. */
#include "ts_dequantize_s8.h"

int32_t ts_dequantize_s8(const ts_dequantize_params_t *params, const int8_t *input, float *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_dequantize_params_t *p = params;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = p->scale * (float)(input[i] - p->zero_point);
    }
    return TS_OK;
}
