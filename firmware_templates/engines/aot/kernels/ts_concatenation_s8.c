/* ts_concatenation_s8.c - CONCATENATION, int8. */
#include <string.h>

#include "ts_concatenation_s8.h"

int32_t ts_concatenation_s8(const ts_concatenation_params_t *params, const int8_t *const *inputs, int8_t *output)
{
    if (params == NULL || inputs == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_concatenation_params_t *p = params;
    int8_t *y = output;
    for (int32_t outer = 0; outer < p->outer_size; ++outer) {
        for (int32_t k = 0; k < p->num_inputs; ++k) {
            const int32_t n = p->copy_size[k];
            const int8_t *x = inputs[k] + (size_t)outer * n;
            const int same = p->multiplier[k] == (1 << 30) && p->shift[k] == 1 &&
                             p->input_zero_point[k] == p->output_zero_point;
            if (same) {
                memcpy(y, x, (size_t)n);
            } else {
                for (int32_t i = 0; i < n; ++i) {
                    const int32_t v = ts_mbqm(x[i] - p->input_zero_point[k], p->multiplier[k], p->shift[k]);
                    y[i] = ts_clamp_s8(v + p->output_zero_point, INT8_MIN, INT8_MAX);
                }
            }
            y += n;
        }
    }
    return TS_OK;
}
