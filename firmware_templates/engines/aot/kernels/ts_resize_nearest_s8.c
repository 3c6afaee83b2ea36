/* RESIZE_NEAREST_NEIGHBOR int8, as TFLM reference_ops::ResizeNearestNeighbor (indices precomputed). */
#include <string.h>

#include "ts_resize_nearest_s8.h"

int32_t ts_resize_nearest_s8(const ts_resize_nearest_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || params->source_row == NULL ||
        params->source_col == NULL) {
        return TS_ERR_ARG;
    }
    const ts_resize_nearest_params_t *p = params;
    const size_t pixel = (size_t)p->channels;
    const size_t row = (size_t)p->input_w * pixel;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * (size_t)p->input_h * row;
        for (int32_t y = 0; y < p->output_h; ++y) {
            const int8_t *source = image + (size_t)p->source_row[y] * row;
            for (int32_t x = 0; x < p->output_w; ++x) {
                memcpy(output, source + (size_t)p->source_col[x] * pixel, pixel);
                output += pixel;
            }
        }
    }
    return TS_OK;
}
