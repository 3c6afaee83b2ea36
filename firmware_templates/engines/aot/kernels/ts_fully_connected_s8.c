/* ts_fully_connected_s8.c - portable FULLY_CONNECTED (the oracle for optimized variants). */
#include "ts_fully_connected_s8.h"

#if TS_OPT_FULLY_CONNECTED /* an optimized variant (kernels/opt) defines ts_fully_connected_s8 and falls back to this one */
#define ts_fully_connected_s8 ts_fully_connected_s8_portable
#else
int32_t ts_fully_connected_s8_scratch_size(const ts_fully_connected_params_t *params)
{
    (void)params;
    return 0;
}
#endif

int32_t ts_fully_connected_s8(const ts_fully_connected_params_t *params, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch)
{
    (void)scratch; /* none needed */
    if (params == NULL || input == NULL || filter == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_fully_connected_params_t *p = params;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * p->accum_depth;
        for (int32_t o = 0; o < p->output_depth; ++o) {
            const int8_t *w = filter + (size_t)o * p->accum_depth;
            int32_t acc = 0;
            for (int32_t d = 0; d < p->accum_depth; ++d) {
                acc += (w[d] + p->filter_offset) * (x[d] + p->input_offset);
            }
            const int32_t c = p->per_channel ? o : 0;
            output[(size_t)b * p->output_depth + o] = ts_requant_acc(acc, bias, o, p->multiplier[c], p->shift[c],
                                                                     p->output_offset, p->act_min, p->act_max);
        }
    }
    return TS_OK;
}
