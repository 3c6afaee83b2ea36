/* ts_add_s8.c - portable ADD and SUB (the oracle for optimized variants). */
#include "ts_add_s8.h"

#if TS_OPT_ADD /* an optimized variant (kernels/opt) defines ts_add_s8 and falls back to this one */
#define ts_add_s8 ts_add_s8_portable
#endif

int32_t ts_add_s8(const ts_add_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_add_params_t *p = params;
    for (int32_t i = 0; i < p->shape.size; ++i) {
        int32_t o1 = i;
        int32_t o2 = i;
        if (p->shape.broadcast) {
            ts_broadcast_offsets(&p->shape, i, &o1, &o2);
        }
        const int32_t x1 = (int32_t)((uint32_t)(input1[o1] + p->input1_offset) << p->left_shift);
        const int32_t x2 = (int32_t)((uint32_t)(input2[o2] + p->input2_offset) << p->left_shift);
        const int32_t r1 = ts_mbqm(x1, p->input1_multiplier, p->input1_shift);
        const int32_t r2 = ts_mbqm(x2, p->input2_multiplier, p->input2_shift);
        const int32_t sum = p->subtract ? r1 - r2 : r1 + r2;
        const int32_t y = ts_mbqm(sum, p->output_multiplier, p->output_shift) + p->output_offset;
        output[i] = ts_clamp_s8(y, p->act_min, p->act_max);
    }
    return TS_OK;
}
