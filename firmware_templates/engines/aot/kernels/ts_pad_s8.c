/* ts_pad_s8.c - PAD / PADV2, int8. */
#include <string.h>

#include "ts_pad_s8.h"

int32_t ts_pad_s8(const ts_pad_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_pad_params_t *p = params;
    size_t out_size = 1;
    int32_t rows = 1;
    for (int32_t d = 0; d < TS_MAX_DIMS; ++d) {
        out_size *= (size_t)p->output_dims[d];
        rows *= d < TS_MAX_DIMS - 1 ? p->input_dims[d] : 1;
    }
    memset(output, (int8_t)p->pad_value, out_size);
    const int32_t row = p->input_dims[TS_MAX_DIMS - 1];
    for (int32_t r = 0; r < rows; ++r) {
        /* output offset of input row r: walk its coordinates from the innermost outer dimension */
        int32_t rest = r;
        size_t offset = (size_t)p->before[TS_MAX_DIMS - 1];
        size_t stride = (size_t)p->output_dims[TS_MAX_DIMS - 1];
        for (int32_t d = TS_MAX_DIMS - 2; d >= 0; --d) {
            offset += (size_t)(rest % p->input_dims[d] + p->before[d]) * stride;
            rest /= p->input_dims[d];
            stride *= (size_t)p->output_dims[d];
        }
        memcpy(output + offset, input + (size_t)r * row, (size_t)row);
    }
    return TS_OK;
}
