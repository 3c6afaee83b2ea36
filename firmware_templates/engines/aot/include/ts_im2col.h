/*
 * ts_im2col.h - the receptive field of one CONV_2D output pixel as k int8 values
 * (filter order: rows, columns, channels), shared by the optimized convolutions.
 * Taps outside the image are the input zero point (-input_offset): with the offset
 * added later they contribute 0, as TFLM skips them. A window over the border is the zero
 * point everywhere, then per window row inside the image one copy of its columns inside.
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

/** The taps [*lo, *hi) of a window along one axis (first tap at `start`, `taps` taps `dilation`
 * apart) that fall inside [0, extent); *lo == *hi when none does. */
static inline void ts_im2col_inside(int32_t start, int32_t dilation, int32_t extent, int32_t taps, int32_t *lo,
                                    int32_t *hi)
{
    int32_t l = start < 0 ? (-start + dilation - 1) / dilation : 0;
    int32_t h = extent - start > 0 ? (extent - start + dilation - 1) / dilation : 0;
    h = h < taps ? h : taps;
    *lo = l < h ? l : h;
    *hi = h;
}

/**
 * The window at (y0, x0) into col, which holds the input zero point already: per window row
 * inside the image, its columns inside the image (one run when dilation_w is 1).
 */
static inline void ts_im2col_copy(const ts_conv2d_params_t *p, const int8_t *image, int32_t y0, int32_t x0,
                                  int8_t *col)
{
    const int32_t ic = p->input_c, row = p->filter_w * ic;
    int32_t fx_lo, fx_hi;
    ts_im2col_inside(x0, p->dilation_w, p->input_w, p->filter_w, &fx_lo, &fx_hi);
    if (fx_hi <= fx_lo) {
        return;
    }
    for (int32_t fy = 0; fy < p->filter_h; ++fy) {
        const int32_t in_y = y0 + fy * p->dilation_h;
        if (in_y < 0 || in_y >= p->input_h) {
            continue;
        }
        const int8_t *src = image + ((size_t)in_y * p->input_w + x0 + fx_lo * p->dilation_w) * ic;
        int8_t *dst = col + fy * row + fx_lo * ic;
        if (p->dilation_w == 1) {
            ts_copy_s8(dst, src, (fx_hi - fx_lo) * ic);
            continue;
        }
        for (int32_t fx = fx_lo; fx < fx_hi; ++fx, dst += ic, src += (size_t)p->dilation_w * ic) {
            ts_copy_s8(dst, src, ic);
        }
    }
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
    const int32_t row = p->filter_w * ic;
    if (p->filter_h == 1 && p->filter_w == 1 && y0 >= 0 && y0 < p->input_h && x0 >= 0 && x0 < p->input_w) {
        return image + ((size_t)y0 * p->input_w + x0) * ic;
    }
    if (x0 >= 0 && x0 + (p->filter_w - 1) * p->dilation_w < p->input_w && y0 >= 0 &&
        y0 + (p->filter_h - 1) * p->dilation_h < p->input_h) {
        const int8_t *src = image + ((size_t)y0 * p->input_w + x0) * ic; /* the window is inside */
        for (int32_t fy = 0; fy < p->filter_h; ++fy, src += (size_t)p->dilation_h * p->input_w * ic) {
            if (p->dilation_w == 1) {
                ts_copy_s8(col + fy * row, src, row);
                continue;
            }
            for (int32_t fx = 0; fx < p->filter_w; ++fx) { /* dilated: each tap's channels */
                ts_copy_s8(col + fy * row + fx * ic, src + (size_t)fx * p->dilation_w * ic, ic);
            }
        }
        return col;
    }
    memset(col, (int8_t)-p->input_offset, (size_t)(p->filter_h * row));
    ts_im2col_copy(p, image, y0, x0, col);
    return col;
}

#if TS_OPT_MVE
/**
 * The window at (y0, x0) (any position, the border included) into col[0..k), col[k..span)
 * the zero point too: span >= k, a multiple of 16 (whole vectors are stored). The part of
 * each window row inside the image has the same length: one predicate for all rows.
 */
static inline void ts_im2col_zp_s8(const ts_conv2d_params_t *p, const int8_t *image, int32_t y0, int32_t x0,
                                   int8_t *col, int32_t span)
{
    const int8x16_t zp = vdupq_n_s8((int8_t)-p->input_offset);
    for (int32_t i = 0; i < span; i += 16) {
        vstrbq_s8(col + i, zp);
    }
    const int32_t ic = p->input_c, row = p->filter_w * ic;
    int32_t fx_lo, fx_hi, fy_lo, fy_hi;
    ts_im2col_inside(x0, p->dilation_w, p->input_w, p->filter_w, &fx_lo, &fx_hi);
    ts_im2col_inside(y0, p->dilation_h, p->input_h, p->filter_h, &fy_lo, &fy_hi);
    const int32_t n = (fx_hi - fx_lo) * ic;
    if (p->dilation_w != 1 || n > 16) {
        ts_im2col_copy(p, image, y0, x0, col);
        return;
    }
    if (n <= 0 || fy_hi <= fy_lo) {
        return;
    }
    const mve_pred16_t pred = vctp8q((uint32_t)n);
    const int32_t step = p->dilation_h * p->input_w * ic;
    const int8_t *src = image + ((size_t)(y0 + fy_lo * p->dilation_h) * p->input_w + x0 + fx_lo) * ic;
    int8_t *dst = col + fy_lo * row + fx_lo * ic;
    for (int32_t fy = fy_lo; fy < fy_hi; ++fy, src += step, dst += row) {
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pred), pred);
    }
}
#endif

#endif /* TS_IM2COL_H */
