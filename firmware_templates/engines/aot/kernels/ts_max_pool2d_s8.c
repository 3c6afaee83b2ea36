/* ts_max_pool2d_s8.c - portable MAX_POOL_2D (the oracle for optimized variants). */
#include "ts_pool2d_s8.h"

#if TS_OPT_MAX_POOL2D /* an optimized variant (kernels/opt) defines ts_max_pool2d_s8 */
#define ts_max_pool2d_s8 ts_max_pool2d_s8_portable
#endif

int32_t ts_max_pool2d_s8(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_pool2d_params_t *p = params;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ts_max_i32(0, -in_y0);
            const int32_t fy1 = ts_min_i32(p->filter_h, p->input_h - in_y0);
            for (int32_t ox = 0; ox < p->output_w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ts_max_i32(0, -in_x0);
                const int32_t fx1 = ts_min_i32(p->filter_w, p->input_w - in_x0);
                for (int32_t c = 0; c < p->channels; ++c) {
                    int32_t max = INT8_MIN;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            max = ts_max_i32(max, input[(((size_t)b * p->input_h + in_y0 + fy) * p->input_w + in_x0 + fx) * p->channels + c]);
                        }
                    }
                    output[(((size_t)b * p->output_h + oy) * p->output_w + ox) * p->channels + c] =
                        ts_clamp_s8(max, p->act_min, p->act_max);
                }
            }
        }
    }
    return TS_OK;
}
