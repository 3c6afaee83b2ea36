/* ts_max_min_s8.c - portable MAXIMUM and MINIMUM. */
#include "ts_max_min_s8.h"

int32_t ts_max_min_s8(const ts_max_min_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_max_min_params_t *p = params;
    for (int32_t i = 0; i < p->shape.size; ++i) {
        int32_t o1 = i;
        int32_t o2 = i;
        if (p->shape.broadcast) {
            ts_broadcast_offsets(&p->shape, i, &o1, &o2);
        }
        const int8_t a = input1[o1];
        const int8_t b = input2[o2];
        output[i] = (p->minimum ? b < a : b > a) ? b : a;
    }
    return TS_OK;
}
