/*
 * ts_conv2d_s8_dsp.c - CONV_2D on the DSP extension.
 *
 * im2col: each output pixel's receptive field becomes an int16 column with the input
 * offset added (out-of-bounds taps are 0, as TFLM skips them), multiplied by the
 * generator's int16 re-layout of the filter (params->filter_dsp, ts_gemm_dsp.h), and
 * each output is requantized once (params->requant_dsp, per quad of rows). Pointwise
 * convolutions widen each pixel straight from the image (for the int8 range all pixels in one
 * assembly block); one-channel images with 3x3 or four-column windows read a word per window
 * row (zero points outside the image; runs of 3x3 windows inside it in the same block); other
 * windows are gathered. With `--kernels size` the filter stays int8 (params->filter_dsp8,
 * ts_gemm8_dsp.h) and output pixels go in pairs, their columns interleaved. Without the re-layouts (grouped convolutions, requantizations outside
 * the fast form) the portable kernel runs.
 */
#include "ts_conv2d_s8.h"

#if TS_OPT_DSP
#include "ts_gemm8_dsp.h"
#include "ts_gemm_dsp.h"
#include "ts_im2col.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_conv2d_s8_portable(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                              const int32_t *bias, int8_t *output, void *scratch);

/*
 * The window rows of an undilated window inside the image, copied a word at a time into
 * `bytes` (each row's last word spills into the next row, which overwrites it, or into the
 * k..k8 padding, whose weights are 0); 0 when the window is not inside or its last word
 * would be read past the image. With `bytes` NULL, only that check.
 */
static int gather_inside(const ts_conv2d_params_t *p, const int8_t *image, int32_t y0, int32_t x0, int8_t *bytes)
{
    const int32_t ic = p->input_c;
    const int32_t row = p->filter_w * ic;
    const int32_t words = (row + 3) >> 2;
    if (p->dilation_h != 1 || p->dilation_w != 1 || y0 < 0 || x0 < 0 || y0 + p->filter_h > p->input_h ||
        x0 + p->filter_w > p->input_w ||
        ((y0 + p->filter_h - 1) * p->input_w + x0) * ic + words * 4 > p->input_h * p->input_w * ic) {
        return 0;
    }
    if (bytes == NULL) {
        return 1;
    }
    const int8_t *src = image + ((size_t)y0 * p->input_w + x0) * ic;
    const int32_t stride = p->input_w * ic;
    for (int32_t fy = 0; fy < p->filter_h; ++fy, src += stride, bytes += row) {
        for (int32_t i = 0; i < words * 4; i += 4) {
            ts_write32(bytes + i, ts_read32(src + i));
        }
    }
    return 1;
}

/* The four input bytes at (y, x0..x0 + 3) of a one-channel image, the input zero point where
 * outside (+ offset = 0 there, as TFLM skips those taps). */
static uint32_t row_word(const ts_conv2d_params_t *p, const int8_t *image, int32_t y, int32_t x0, uint32_t zp4)
{
    if ((uint32_t)y >= (uint32_t)p->input_h) {
        return zp4;
    }
    const int8_t *row = image + (size_t)y * p->input_w;
    const int32_t w = p->input_w;
    if (x0 >= 0 && x0 + 4 <= w) {
        return ts_read32(row + x0);
    }
    if (w >= 4 && x0 < 0 && x0 > -4) { /* the row's first word shifted up, zero points below */
        const uint32_t low = 8u * (uint32_t)-x0;
        return (ts_read32(row) << low) | (zp4 & ((1u << low) - 1u));
    }
    if (w >= 4 && x0 >= 0 && x0 + 4 > w && x0 < w) { /* the row's last word shifted down */
        const uint32_t high = 8u * (uint32_t)(x0 + 4 - w);
        return (ts_read32(row + w - 4) >> high) | (zp4 & ~(0xFFFFFFFFu >> high));
    }
    uint32_t v = zp4;
    for (int32_t i = 0; i < 4; ++i) {
        if ((uint32_t)(x0 + i) < (uint32_t)p->input_w) {
            v = (v & ~(0xFFu << (8 * i))) | ((uint32_t)(uint8_t)row[x0 + i] << (8 * i));
        }
    }
    return v;
}

/* The column of a one-channel 3x3 window from its three row words (x00 x01 x02 x10 | x11 x12
 * x20 x21 | x22 and a byte whose weight is 0; the words' fourth bytes unused). */
TS_ALWAYS_INLINE void col_1ch3x3(uint32_t r0, uint32_t r1, uint32_t r2, uint32_t off2, uint32_t *dst)
{
    const uint32_t g0 = (r0 & 0xFFFFFFu) | (r1 << 24), g1 = ((r1 >> 8) & 0xFFFFu) | (r2 << 16), g2 = r2 >> 16;
    dst[0] = ts_sxtab16(off2, g0);
    dst[1] = ts_sxtab16_ror8(off2, g0);
    dst[2] = ts_sxtab16(off2, g1);
    dst[3] = ts_sxtab16_ror8(off2, g1);
    dst[4] = ts_sxtab16(off2, g2);
    dst[5] = ts_sxtab16_ror8(off2, g2);
}

/* Whether conv_1ch runs the layer: one input channel, undilated, 3x3 or four columns wide
 * (a window row is one word: the 3x3 column packed from three, or one group per row). */
static int one_channel(const ts_conv2d_params_t *p)
{
    return p->input_c == 1 && p->filter_c == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
           (p->filter_w == 4 || (p->filter_h == 3 && p->filter_w == 3));
}

/* One image of a one-channel convolution (one_channel): window rows read a word each, from the
 * image when the window (and its last word) is inside it, else with zero points outside; runs of
 * 3x3 windows inside the image (rows in fours, k <= 256, the int8 range) all in assembly. */
static void conv_1ch(const ts_conv2d_params_t *p, const int8_t *image, int8_t *out, ts_gemv_plan_t *g,
                     int16_t *col)
{
    const uint32_t off2 = ts_dup16(p->input_offset);
    const uint32_t zp4 = 0x01010101u * (uint8_t)(int8_t)-p->input_offset;
    const int32_t fh = p->filter_h, w = p->input_w, total = p->input_h * w;
    uint32_t *dst = (uint32_t *)(void *)col;
    /* runs of 3x3 windows inside the image all in assembly (ts_pointwise_ssat_asm's 3x3 mode) */
    const int runs = p->filter_w == 3 && g->unrollable && (p->output_c & 3) == 0;
    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ox = 0, x0 = -p->pad_w; ox < p->output_w; ++ox, x0 += p->stride_w, out += p->output_c) {
            const int inside = y0 >= 0 && y0 + fh <= p->input_h && x0 >= 0 && x0 + p->filter_w <= w &&
                               (y0 + fh - 1) * w + x0 + 4 <= total;
            if (inside && runs) {
                int32_t n = 1; /* the windows inside from here on */
                while (ox + n < p->output_w && x0 + n * p->stride_w + 3 <= w &&
                       (y0 + 2) * w + x0 + n * p->stride_w + 4 <= total) {
                    ++n;
                }
                ts_pointwise_frame_t run = g->pw;
                run.gemv.col = col;
                run.gemv.out = out;
                run.src = image + (size_t)y0 * w + x0;
                run.pixels = n;
                run.eights = -1;
                run.off2 = off2;
                run.row = w;
                run.step = p->stride_w;
                ts_pointwise_ssat_asm(&run);
                ox += n - 1, x0 += (n - 1) * p->stride_w, out += (size_t)(n - 1) * p->output_c;
                continue;
            }
            if (p->filter_w == 4) {
                const int8_t *src = image + (size_t)y0 * w + x0;
                for (int32_t r = 0; r < fh; ++r, src += w) {
                    const uint32_t v = inside ? ts_read32(src) : row_word(p, image, y0 + r, x0, zp4);
                    dst[2 * r] = ts_sxtab16(off2, v);
                    dst[2 * r + 1] = ts_sxtab16_ror8(off2, v);
                }
            } else if (inside) {
                const int8_t *src = image + (size_t)y0 * w + x0;
                col_1ch3x3(ts_read32(src), ts_read32(src + w), ts_read32(src + 2 * w), off2, dst);
            } else {
                col_1ch3x3(row_word(p, image, y0, x0, zp4), row_word(p, image, y0 + 1, x0, zp4),
                           row_word(p, image, y0 + 2, x0, zp4), off2, dst);
            }
            ts_gemv_run(g, col, out);
        }
    }
}

/* The receptive field of output pixel `px` as a column (ts_gemm_dsp.h): widened straight
 * from the image when channels come in fours, else gathered as int8 first. */
static void im2col(const ts_conv2d_params_t *p, const int8_t *image, int32_t px, int8_t *bytes, int16_t *col)
{
    const int32_t ic = p->input_c;
    const int32_t k = p->filter_h * p->filter_w * ic;
    const int32_t y0 = px / p->output_w * p->stride_h - p->pad_h;
    const int32_t x0 = px % p->output_w * p->stride_w - p->pad_w;
    if ((ic & 3) != 0) {
        const int8_t *x = gather_inside(p, image, y0, x0, bytes) ? bytes : ts_im2col_s8(p, image, px, bytes);
        ts_col_fill4(x, (k + 3) & ~3, p->input_offset, col);
        return;
    }
    if (p->filter_h == 1 && p->filter_w == 1 && (uint32_t)y0 < (uint32_t)p->input_h &&
        (uint32_t)x0 < (uint32_t)p->input_w) { /* a pointwise pixel: one run of channels */
        ts_col_fill4(image + ((size_t)y0 * p->input_w + x0) * ic, ic, p->input_offset, col);
        return;
    }
    int32_t n = 0;
    for (int32_t fy = 0; fy < p->filter_h; ++fy) {
        const int32_t in_y = y0 + fy * p->dilation_h;
        for (int32_t fx = 0; fx < p->filter_w; ++fx, n += ic) {
            const int32_t in_x = x0 + fx * p->dilation_w;
            if (in_y >= 0 && in_y < p->input_h && in_x >= 0 && in_x < p->input_w) {
                ts_col_fill4(image + ((size_t)in_y * p->input_w + in_x) * ic, ic, p->input_offset, col + n);
            } else {
                memset(col + n, 0, (size_t)ic * sizeof *col);
            }
        }
    }
}

/* The column of output pixel `px` for conv_size: a one-channel window four columns wide a word per
 * window row (as conv_1ch reads them), others as im2col builds them. */
static void column8(const ts_conv2d_params_t *p, const int8_t *image, int32_t px, int8_t *bytes, uint32_t *col)
{
    if (!(one_channel(p) && p->filter_w == 4)) {
        im2col(p, image, px, bytes, (int16_t *)(void *)col);
        return;
    }
    const uint32_t off2 = ts_dup16(p->input_offset);
    const uint32_t zp4 = 0x01010101u * (uint8_t)(int8_t)-p->input_offset;
    const int32_t y0 = px / p->output_w * p->stride_h - p->pad_h;
    const int32_t x0 = px % p->output_w * p->stride_w - p->pad_w;
    const int inside = y0 >= 0 && y0 + p->filter_h <= p->input_h && x0 >= 0 && x0 + 4 <= p->input_w;
    const int8_t *src = image + (y0 * p->input_w + x0);
    for (int32_t r = 0; r < p->filter_h; ++r, src += p->input_w) {
        const uint32_t v = inside ? ts_read32(src) : row_word(p, image, y0 + r, x0, zp4);
        col[2 * r] = ts_sxtab16(off2, v);
        col[2 * r + 1] = ts_sxtab16_ror8(off2, v);
    }
}

/* One image with the int8 filter (--kernels size): output pixels in pairs, their columns
 * interleaved (ts_cols8_fill's order; pointwise ones straight from the image); an odd last pixel
 * is paired with itself, its twin's outputs dropped. */
static void conv_size(const ts_conv2d_params_t *p, const int8_t *image, int8_t *out, void *scratch)
{
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    const int32_t groups = (k + 3) >> 2, oc = p->output_c, pixels = p->output_h * p->output_w;
    uint32_t *a = (uint32_t *)scratch, *b = a + 2 * groups, *cols = b + 2 * groups; /* see the scratch size */
    int8_t *bytes = (int8_t *)(cols + 4 * groups), *spare = bytes + 4 * groups + 4;
    memset(a, 0, (size_t)16 * groups);
    memset(bytes, -p->input_offset, (size_t)4 * groups + 4); /* widens to 0 */
    const int pointwise = p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                          p->pad_h == 0 && p->pad_w == 0 && (k & 3) == 0 && p->input_w == p->output_w;
    for (int32_t px = 0; px < pixels; px += 2, out += 2 * oc) {
        const int32_t twin = px + 1 < pixels ? px + 1 : px;
        if (pointwise) { /* input pixel = output pixel */
            ts_cols8_fill(image + (size_t)px * k, image + (size_t)twin * k, groups, p->input_offset, cols);
        } else {
            column8(p, image, px, bytes, a);
            column8(p, image, twin, bytes, b);
            for (int32_t g = 0; g < groups; ++g) {
                cols[4 * g] = a[2 * g], cols[4 * g + 1] = a[2 * g + 1];
                cols[4 * g + 2] = b[2 * g], cols[4 * g + 3] = b[2 * g + 1];
            }
        }
        ts_gemm8_run(p->filter_dsp8, cols, groups, oc, p->requant_dsp, p->output_offset, p->act_min, p->act_max, out,
                     twin != px ? out + oc : spare);
    }
}

/* Scratch: with filter_dsp8, two pixels' columns and their interleave (32 bytes per group of four
 * taps), the int8 gather (4 per group + a word's spill) and a spare output pixel; else the int16
 * column (2 * k8 bytes), then, when channels do not come in fours, the int8 gather (k8 + 4 bytes). */
int32_t ts_conv2d_s8_scratch_size(const ts_conv2d_params_t *params)
{
    const ts_conv2d_params_t *p = params;
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    if (p->filter_dsp8 != NULL) {
        return 36 * ((k + 3) >> 2) + 4 + p->output_c;
    }
    if (p->filter_dsp == NULL || p->requant_dsp == NULL) {
        return 0;
    }
    const int32_t k8 = (k + 7) & ~7;
    return 2 * k8 + ((p->input_c & 3) != 0 ? k8 + 4 : 0);
}

int32_t ts_conv2d_s8(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, int8_t *output, void *scratch)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_conv2d_params_t *p = params;
    if ((p->filter_dsp == NULL || p->requant_dsp == NULL) && p->filter_dsp8 == NULL) {
        return ts_conv2d_s8_portable(params, input, filter, bias, output, NULL);
    }
    if (scratch == NULL) { /* the generator's layout replaced the int8 filter: no portable fallback */
        return TS_ERR_ARG;
    }
    if (p->filter_dsp8 != NULL) {
        for (int32_t b = 0; b < p->batches; ++b) {
            conv_size(p, input + (size_t)b * p->input_h * p->input_w * p->input_c,
                      output + (size_t)b * p->output_h * p->output_w * p->output_c, scratch);
        }
        return TS_OK;
    }
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    const int32_t k8 = (k + 7) & ~7;
    const int32_t oc = p->output_c;
    const int32_t pixels = p->output_h * p->output_w;
    const ts_rq4_t *rq = (const ts_rq4_t *)(const void *)p->requant_dsp;
    int16_t *col = (int16_t *)scratch;
    int8_t *bytes = (int8_t *)scratch + 2 * k8;
    memset(col, 0, (size_t)2 * k8); /* the k..k8 padding stays 0 */
    if ((p->input_c & 3) != 0) {
        memset(bytes, -p->input_offset, (size_t)k8 + 4); /* and widens to 0 */
    }
    ts_gemv_plan_t g;
    ts_gemv_plan(&g, p->filter_dsp, k, oc, rq, p->act_min, p->act_max);
    /* 1x1 windows at stride 1 without padding, channels in fours: input pixel = output pixel */
    const int pointwise = p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                          p->pad_h == 0 && p->pad_w == 0 && (p->input_c & 3) == 0 &&
                          p->input_h == p->output_h && p->input_w == p->output_w;
    const int single = one_channel(p);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * p->input_c;
        int8_t *out = output + (size_t)b * pixels * oc;
        if (single) {
            conv_1ch(p, image, out, &g, col);
            continue;
        }
        if (pointwise && g.unrollable && (k & 7) == 0 && (oc & 3) == 0) { /* all pixels in assembly */
            ts_pointwise_frame_t run = g.pw;
            run.gemv.col = col;
            run.gemv.out = out;
            run.src = image;
            run.pixels = pixels;
            run.eights = k >> 3;
            run.off2 = ts_dup16(p->input_offset);
            ts_pointwise_ssat_asm(&run);
            continue;
        }
        if (pointwise) {
            for (int32_t px = 0; px < pixels; ++px, out += oc, image += k) {
                ts_col_fill4(image, k, p->input_offset, col);
                ts_gemv_run(&g, col, out);
            }
            continue;
        }
        for (int32_t px = 0; px < pixels; ++px, out += oc) {
            im2col(p, image, px, bytes, col);
            ts_gemv_run(&g, col, out);
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
