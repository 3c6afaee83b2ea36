/*
 * ts_im2col.h - the receptive field of one CONV_2D output pixel as k int8 values
 * (filter order: rows, columns, channels), shared by the optimized convolutions.
 * Taps outside the image are the input zero point (-input_offset): with the offset
 * added later they contribute 0, as TFLM skips them.
 */
#ifndef TS_IM2COL_H
#define TS_IM2COL_H

#include <string.h>
#include "ts_conv2d_s8.h"
#include "ts_opt.h"

#if TS_OPT_MVE
#include <arm_mve.h>
#endif

/** dst[0..n) = src[0..n) for the short segments of an im2col row (inlined: a call costs more at -Os). */
TS_ALWAYS_INLINE void ts_copy_s8(int8_t *dst, const int8_t *src, int32_t n)
{
#if TS_OPT_MVE
    for (int32_t i = 0; i < n; i += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        vstrbq_p_s8(dst + i, vldrbq_z_s8(src + i, p), p);
    }
#else
    if (n >= 32) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        dst[i] = src[i];
    }
#endif
}

/**
 * Output pixel `px` (row-major over output_h x output_w) of one image.
 * @param[in]  image  [input_h, input_w, input_c]
 * @param[out] col    k = filter_h * filter_w * input_c bytes
 * @return col, or for a 1x1 window inside the image the input pixel itself
 */
static inline const int8_t *ts_im2col_s8(const ts_conv2d_params_t *p, const int8_t *image, int32_t px, int8_t *col)
{
    const int32_t ic = p->input_c;
    const int32_t y0 = px / p->output_w * p->stride_h - p->pad_h;
    const int32_t x0 = px % p->output_w * p->stride_w - p->pad_w;
    const int8_t zp = (int8_t)-p->input_offset;
    if (p->filter_h == 1 && p->filter_w == 1 && y0 >= 0 && y0 < p->input_h && x0 >= 0 && x0 < p->input_w) {
        return image + ((size_t)y0 * p->input_w + x0) * ic;
    }
    const int32_t row = p->filter_w * ic;
    int8_t *dst = col;
    for (int32_t fy = 0; fy < p->filter_h; ++fy, dst += row) {
        const int32_t in_y = y0 + fy * p->dilation_h;
        if (in_y < 0 || in_y >= p->input_h) {
            memset(dst, zp, (size_t)row);
            continue;
        }
        const int8_t *src = image + (size_t)in_y * p->input_w * ic;
        if (p->dilation_w == 1 && x0 >= 0 && x0 + p->filter_w <= p->input_w) {
            ts_copy_s8(dst, src + (size_t)x0 * ic, row); /* the whole window row is inside */
            continue;
        }
        for (int32_t fx = 0; fx < p->filter_w; ++fx) {
            const int32_t in_x = x0 + fx * p->dilation_w;
            if (in_x >= 0 && in_x < p->input_w) {
                ts_copy_s8(dst + fx * ic, src + (size_t)in_x * ic, ic);
            } else {
                memset(dst + fx * ic, zp, (size_t)ic);
            }
        }
    }
    return col;
}

#endif /* TS_IM2COL_H */
