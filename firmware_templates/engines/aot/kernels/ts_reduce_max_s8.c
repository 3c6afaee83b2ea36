/* REDUCE_MAX int8, as TFLM reference_ops::ReduceGeneric with the max reducer (initial value -128). */
#include "ts_reduce_max_s8.h"

int32_t ts_reduce_max_s8(const ts_reduce_max_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || params->kept_ndims < 0 ||
        params->kept_ndims > TS_MAX_DIMS || params->reduced_ndims < 0 || params->reduced_ndims > TS_MAX_DIMS) {
        return TS_ERR_ARG;
    }
    /* the innermost reduced axis is a plain strided loop; the others are walked by index */
    const int32_t outer = params->reduced_ndims > 0 ? params->reduced_ndims - 1 : 0;
    const int32_t run = params->reduced_ndims > 0 ? params->reduced_dims[outer] : 1;
    const int32_t step = params->reduced_ndims > 0 ? params->reduced_strides[outer] : 0;
    int32_t kept[TS_MAX_DIMS] = {0};
    int32_t o = 0;
    do {
        const int8_t *base = input + ts_index_offset(params->kept_ndims, kept, params->kept_strides);
        int32_t reduced[TS_MAX_DIMS] = {0};
        int8_t max = INT8_MIN;
        do {
            const int8_t *x = base + ts_index_offset(outer, reduced, params->reduced_strides);
            for (int32_t i = 0; i < run; ++i, x += step) {
                max = *x > max ? *x : max;
            }
        } while (ts_next_index(outer, params->reduced_dims, reduced));
        output[o++] = max;
    } while (ts_next_index(params->kept_ndims, params->kept_dims, kept));
    return TS_OK;
}
