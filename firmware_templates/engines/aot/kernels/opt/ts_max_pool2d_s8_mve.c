/*
 * ts_max_pool2d_s8_mve.c - MAX_POOL_2D with Helium (MVE).
 *
 * Per output pixel, sixteen channels at a time (the last ones tail-predicated): VMAX.S8 of
 * the window's in-bounds input pixels into one vector, then the activation clamp (VMAX,
 * VMIN) and a predicated store. Every shape runs here (no portable fallback).
 */
#include "ts_pool2d_s8.h"

#if TS_OPT_MVE
#include <arm_mve.h>

int32_t ts_max_pool2d_s8(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_pool2d_params_t *p = params;
    const int32_t ch = p->channels, row_step = p->input_w * ch;
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min), hi = vdupq_n_s8((int8_t)p->act_max);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * row_step;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ts_max_i32(0, -in_y0);
            const int32_t rows = ts_min_i32(p->filter_h, p->input_h - in_y0) - fy0;
            for (int32_t ox = 0; ox < p->output_w; ++ox, output += ch) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ts_max_i32(0, -in_x0);
                const int32_t cols = ts_min_i32(p->filter_w, p->input_w - in_x0) - fx0;
                const int8_t *in = image + ((size_t)(in_y0 + fy0) * p->input_w + in_x0 + fx0) * ch;
                for (int32_t c = 0; c < ch; c += 16) {
                    const mve_pred16_t pred = vctp8q((uint32_t)(ch - c));
                    int8x16_t m = vdupq_n_s8(INT8_MIN);
                    const int8_t *row = in + c;
                    for (int32_t y = 0; y < rows; ++y, row += row_step) {
                        const int8_t *x = row;
                        for (int32_t i = cols; i > 0; --i, x += ch) {
                            m = vmaxq_s8(m, vldrbq_z_s8(x, pred));
                        }
                    }
                    vstrbq_p_s8(output + c, vminq_s8(vmaxq_s8(m, lo), hi), pred);
                }
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_MVE */
