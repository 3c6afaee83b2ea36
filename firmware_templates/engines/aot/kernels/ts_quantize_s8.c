/* ts_quantize_s8.c - QUANTIZE float32 -> int8. */
#include <math.h>

#include "ts_quantize_s8.h"

int32_t ts_quantize_s8(const ts_quantize_params_t *params, const float *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_quantize_params_t *p = params;
    for (int32_t i = 0; i < p->size; ++i) {
        /* clamp before the conversion: out-of-range float -> int is undefined in C */
        const float q = roundf(input[i] / p->scale);
        const float limited = q > 512.0f ? 512.0f : (q < -512.0f ? -512.0f : q);
        output[i] = ts_clamp_s8((int32_t)limited + p->zero_point, INT8_MIN, INT8_MAX);
    }
    return TS_OK;
}
