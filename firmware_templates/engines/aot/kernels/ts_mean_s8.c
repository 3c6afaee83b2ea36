/* MEAN int8, as TFLM reference_ops::QuantizedMeanOrSum (compute_sum = false); the oracle for optimized variants. */
#include "ts_mean_s8.h"

#if TS_OPT_MEAN /* an optimized variant (kernels/opt) defines ts_mean_s8 and falls back to this one */
#define ts_mean_s8 ts_mean_s8_portable
#endif

int32_t ts_mean_s8(const ts_mean_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || params->kept_ndims < 0 ||
        params->kept_ndims > TS_MAX_DIMS || params->reduced_ndims < 0 || params->reduced_ndims > TS_MAX_DIMS) {
        return TS_ERR_ARG;
    }
    int32_t kept[TS_MAX_DIMS] = {0};
    int32_t o = 0;
    do {
        const int8_t *base = input + ts_index_offset(params->kept_ndims, kept, params->kept_strides);
        int32_t reduced[TS_MAX_DIMS] = {0};
        int32_t sum = 0; /* sum of (x - input_zero_point), as TFLM's int32 accumulator */
        do {
            sum += base[ts_index_offset(params->reduced_ndims, reduced, params->reduced_strides)] + params->input_offset;
        } while (ts_next_index(params->reduced_ndims, params->reduced_dims, reduced));
        const int32_t y = ts_mbqm(sum, params->multiplier, params->shift) + params->output_offset;
        output[o++] = ts_clamp_s8(y, INT8_MIN, INT8_MAX);
    } while (ts_next_index(params->kept_ndims, params->kept_dims, kept));
    return TS_OK;
}
