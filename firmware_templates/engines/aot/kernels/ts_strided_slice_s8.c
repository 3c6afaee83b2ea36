/* STRIDED_SLICE int8, as TFLM reference_ops::StridedSlice (index arithmetic resolved at generation time). */
#include <string.h>

#include "ts_strided_slice_s8.h"

int32_t ts_strided_slice_s8(const ts_strided_slice_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || params->ndims < 1 || params->ndims > TS_MAX_DIMS) {
        return TS_ERR_ARG;
    }
    const ts_strided_slice_params_t *p = params;
    const int32_t outer = p->ndims - 1; /* the innermost axis is copied as a run */
    const int32_t run = p->counts[outer];
    const int32_t step = p->steps[outer];
    int32_t index[TS_MAX_DIMS] = {0};
    do {
        const int8_t *source = input + p->start + ts_index_offset(outer, index, p->steps);
        if (step == 1) {
            memcpy(output, source, (size_t)run);
        } else {
            for (int32_t i = 0; i < run; ++i) {
                output[i] = source[i * step];
            }
        }
        output += run;
    } while (ts_next_index(outer, p->counts, index));
    return TS_OK;
}
