/*
 * ts_max_pool2d_s8_dsp.c - MAX_POOL_2D on the DSP extension (Cortex-M4/M7/M33).
 *
 * Per output pixel, sixteen channels at a time: one pass over the window's in-bounds input
 * pixels loads four words (sixteen int8 channels) each and keeps the byte-wise maximum in
 * four registers: SSUB8 sets a GE flag per byte where the new byte is the larger (signed),
 * SEL takes those bytes. The activation clamp is the same pair of instructions against
 * act_min and act_max in every byte. Then groups of eight and four channels, and the last
 * one to three a byte at a time. Every shape runs here (no portable fallback).
 */
#include "ts_pool2d_s8.h"

#if TS_OPT_DSP
#include "ts_simd.h"

/** Per byte, u where x >= y (signed), else v: SSUB8 sets the GE flags SEL reads. */
TS_ALWAYS_INLINE uint32_t ts_sel_ge8(uint32_t x, uint32_t y, uint32_t u, uint32_t v)
{
    uint32_t t, r;
    __asm__("ssub8 %[t], %[x], %[y]\n\t"
            "sel %[r], %[u], %[v]"
            : [t] "=&r"(t), [r] "=r"(r)
            : [x] "r"(x), [y] "r"(y), [u] "r"(u), [v] "r"(v)
            : "cc");
    return r;
}

/** The byte-wise signed maximum and minimum of a and b. */
TS_ALWAYS_INLINE uint32_t ts_max8(uint32_t a, uint32_t b)
{
    return ts_sel_ge8(b, a, b, a);
}

TS_ALWAYS_INLINE uint32_t ts_min8(uint32_t a, uint32_t b)
{
    return ts_sel_ge8(a, b, b, a);
}

/* The window and the clamp of one output pixel. */
typedef struct {
    int32_t rows, cols, row_step, channels;
    uint32_t lo4, hi4; /* act_min, act_max in every byte */
    int clamp;         /* the clamp is narrower than int8 */
} ts_max_window_t;

/* The maximum of `words` (1, 2 or 4) words of channels at `in` over the window, clamped, to `out`. */
TS_ALWAYS_INLINE void ts_max_words(const int8_t *in, const ts_max_window_t *win, int32_t words, int8_t *out)
{
    uint32_t m0 = 0x80808080u, m1 = 0x80808080u, m2 = 0x80808080u, m3 = 0x80808080u;
    const int8_t *row = in;
    for (int32_t y = 0; y < win->rows; ++y, row += win->row_step) {
        const int8_t *x = row;
        for (int32_t i = win->cols; i > 0; --i, x += win->channels) {
            m0 = ts_max8(m0, ts_read32(x));
            if (words > 1) {
                m1 = ts_max8(m1, ts_read32(x + 4));
            }
            if (words > 2) {
                m2 = ts_max8(m2, ts_read32(x + 8));
                m3 = ts_max8(m3, ts_read32(x + 12));
            }
        }
    }
    uint32_t m[4] = {m0, m1, m2, m3};
    for (int32_t i = 0; i < words; ++i) {
        ts_write32(out + 4 * i, win->clamp ? ts_min8(ts_max8(m[i], win->lo4), win->hi4) : m[i]);
    }
}

/* The maxima of all channels of one output pixel, its window's first input pixel at `in`. */
static void ts_max_pixel(const int8_t *in, const ts_max_window_t *win, int32_t act_min, int32_t act_max, int8_t *out)
{
    int32_t c = 0;
    for (; c + 16 <= win->channels; c += 16) {
        ts_max_words(in + c, win, 4, out + c);
    }
    if (c + 8 <= win->channels) {
        ts_max_words(in + c, win, 2, out + c);
        c += 8;
    }
    if (c + 4 <= win->channels) {
        ts_max_words(in + c, win, 1, out + c);
        c += 4;
    }
    for (; c < win->channels; ++c) {
        int32_t m = INT8_MIN;
        const int8_t *row = in + c;
        for (int32_t y = 0; y < win->rows; ++y, row += win->row_step) {
            for (int32_t i = 0; i < win->cols; ++i) {
                m = ts_max_i32(m, row[i * win->channels]);
            }
        }
        out[c] = ts_clamp_s8(m, act_min, act_max);
    }
}

int32_t ts_max_pool2d_s8(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_pool2d_params_t *p = params;
    const int32_t c = p->channels;
    ts_max_window_t win;
    win.row_step = p->input_w * c;
    win.channels = c;
    win.lo4 = (uint32_t)(uint8_t)p->act_min * 0x01010101u;
    win.hi4 = (uint32_t)(uint8_t)p->act_max * 0x01010101u;
    win.clamp = p->act_min > INT8_MIN || p->act_max < INT8_MAX;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * win.row_step;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ts_max_i32(0, -in_y0);
            win.rows = ts_min_i32(p->filter_h, p->input_h - in_y0) - fy0;
            for (int32_t ox = 0; ox < p->output_w; ++ox, output += c) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ts_max_i32(0, -in_x0);
                win.cols = ts_min_i32(p->filter_w, p->input_w - in_x0) - fx0;
                const int8_t *in = image + ((size_t)(in_y0 + fy0) * p->input_w + in_x0 + fx0) * c;
                ts_max_pixel(in, &win, p->act_min, p->act_max, output);
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
