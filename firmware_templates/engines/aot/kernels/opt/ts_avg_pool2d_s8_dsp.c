/*
 * ts_avg_pool2d_s8_dsp.c - AVERAGE_POOL_2D on the DSP extension (Cortex-M4/M7/M33).
 *
 * Per output pixel, sixteen channels at a time: one pass over the window's in-bounds input
 * pixels loads four words (sixteen int8 channels) each and adds them into eight registers of
 * int16 halfword pairs with SXTAB16 (bytes 0 and 2) and SXTAB16 ROR #8 (bytes 1 and 3); a
 * window of at most TS_AVG_DSP_MAX_COUNT elements cannot overflow a halfword. Window rows
 * spanning the whole input width are one contiguous run, walked as one row. Last groups
 * of eight and four channels use two words and one, the last one to three channels a
 * scalar sum.
 *
 * Groups of four sums are divided by a multiply with a reciprocal in unsigned halfwords
 * and stored as one word (ts_avg_store4 derives it). The last channels and large windows
 * divide as TFLM does, (sum +- count/2) / count truncated: the +-count/2 comes from the
 * sum's sign mask s as (count/2 ^ s) - s (a zero sum rounds to 0 either way), and SDIV
 * truncates like C. Windows larger than TS_AVG_DSP_MAX_COUNT sum
 * sub-windows of at most that many elements in halfwords and add them into int32 sums,
 * four channels at a time.
 */
#include "ts_pool2d_s8.h"

#if TS_OPT_DSP
#include "ts_simd.h"

/* Largest window (in-bounds elements) summed in halfwords: 256 * -128 = -32768. */
#define TS_AVG_DSP_MAX_COUNT 256

/* Largest window at all (|sum| + count / 2 within int32). */
#define TS_AVG_DSP_MAX_WINDOW (1 << 23)

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_avg_pool2d_s8_portable(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output);

/* One pixel's window and the activation clamp, for SDIV (ts_avg_div) and for ts_avg_store4. */
typedef struct {
    int32_t count, half, lo, hi;
    uint32_t bias;     /* 128 * count + half in both halfwords */
    uint32_t m;        /* ceil(2^24 / count) */
    int32_t even;      /* count is even: negative sums take one less */
    uint32_t lo4, hi4; /* lo + 128, hi + 128 in all four bytes */
    int32_t full;      /* the clamp is the whole int8 range */
} ts_avg_div_t;

/* The division constants of a window of `count` elements. */
static void ts_avg_div_init(ts_avg_div_t *dv, int32_t count)
{
    dv->count = count;
    dv->half = count / 2;
    dv->bias = ts_dup16(128 * count + dv->half);
    dv->m = ((1u << 24) + (uint32_t)count - 1u) / (uint32_t)count;
    dv->even = (count & 1) == 0;
}

/* A window sum divided (rounded half away from zero) and clamped. */
static inline int8_t ts_avg_div(int32_t sum, const ts_avg_div_t *dv)
{
    const int32_t s = sum >> 31;
    const int32_t q = (sum + ((dv->half ^ s) - s)) / dv->count;
    return (int8_t)(q < dv->lo ? dv->lo : q > dv->hi ? dv->hi : q);
}

/* UADD16 / USUB16: halfword-wise a + b, a - b (modulo 2^16). */
static inline uint32_t ts_avg_uadd16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("uadd16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static inline uint32_t ts_avg_usub16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("usub16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* Byte-wise unsigned clamp of w to [lo4, hi4] (USUB8 sets the GE flags SEL reads). */
static inline uint32_t ts_avg_clamp8(uint32_t w, uint32_t lo4, uint32_t hi4)
{
    uint32_t t;
    __asm__("usub8 %[t], %[w], %[lo]\n\t"
            "sel %[w], %[w], %[lo]\n\t"
            "usub8 %[t], %[w], %[hi]\n\t"
            "sel %[w], %[hi], %[w]"
            : [w] "+r"(w), [t] "=&r"(t)
            : [lo] "r"(lo4), [hi] "r"(hi4)
            : "cc");
    return w;
}

/* The unsigned quotient n / count of a halfword n (ts_avg_store4). */
static inline uint32_t ts_avg_q(uint32_t n, const ts_avg_div_t *dv)
{
    return (n * dv->m) >> 24;
}

/*
 * The four channels of a pair of SXTAB16 sums, (c0, c2) in `even` and (c1, c3) in `odd`,
 * divided, clamped and stored as one word (a window of at most TS_AVG_DSP_MAX_COUNT).
 * TFLM's (sum +- count/2) / count truncated is floor(n / count) - 128 with the unsigned
 * halfword n = sum + 128 * count + count/2 - [sum < 0 and count even] <= 65408 (for odd
 * counts, sums of either sign round alike). floor(n / count) is (n * m) >> 24 with
 * m = ceil(2^24 / count): exact while n * (m * count - 2^24) < 2^24, and n * m < 2^32,
 * both true for every count <= 256 and every n (tests/test_aot_opt_pool_add.py checks them
 * all). The four quotients (0..255) are packed, clamped byte-wise (USUB8/SEL against
 * lo + 128, hi + 128), and turned into int8 by flipping each byte's top bit.
 */
static inline void ts_avg_store4(uint32_t even, uint32_t odd, const ts_avg_div_t *dv, int8_t *out)
{
    uint32_t ne = ts_avg_uadd16(even, dv->bias), no = ts_avg_uadd16(odd, dv->bias);
    if (dv->even) {
        ne = ts_avg_usub16(ne, (even >> 15) & 0x00010001u);
        no = ts_avg_usub16(no, (odd >> 15) & 0x00010001u);
    }
    uint32_t w = ts_avg_q(ne & 0xFFFFu, dv) | ts_avg_q(no & 0xFFFFu, dv) << 8 | ts_avg_q(ne >> 16, dv) << 16 |
                 ts_avg_q(no >> 16, dv) << 24;
    if (!dv->full) {
        w = ts_avg_clamp8(w, dv->lo4, dv->hi4);
    }
    ts_write32(out, w ^ 0x80808080u);
}

/*
 * The averages of 4 * `words` channels over a window of rows x cols input pixels starting at `in`
 * (pixels `channels` bytes apart, rows `row_step` bytes apart), at most TS_AVG_DSP_MAX_COUNT of them.
 */
TS_ALWAYS_INLINE void ts_avg_words(const int8_t *in, int32_t rows, int32_t cols, int32_t row_step, int32_t channels,
                                   int32_t words, const ts_avg_div_t *dv, int8_t *out)
{
    uint32_t even[4] = {0}, odd[4] = {0};
    for (int32_t y = 0; y < rows; ++y, in += row_step) {
        ts_sxtab16_pixels(in, cols, channels, words, even, odd);
    }
    ts_avg_store4(even[0], odd[0], dv, out);
    if (words > 1) {
        ts_avg_store4(even[1], odd[1], dv, out + 4);
    }
    if (words > 2) {
        ts_avg_store4(even[2], odd[2], dv, out + 8);
        ts_avg_store4(even[3], odd[3], dv, out + 12);
    }
}

/* The averages of all `channels` channels over a window of at most TS_AVG_DSP_MAX_COUNT pixels (ts_avg_words). */
static void ts_avg_pixel(const int8_t *in, int32_t rows, int32_t cols, int32_t row_step, int32_t channels,
                         const ts_avg_div_t *dvp, int8_t *out)
{
    const ts_avg_div_t d = *dvp; /* a local copy: the byte stores cannot alias it (no reloads) */
    const ts_avg_div_t *dv = &d;
    int32_t c = 0;
    for (; c + 16 <= channels; c += 16) {
        ts_avg_words(in + c, rows, cols, row_step, channels, 4, dv, out + c);
    }
    if (c + 8 <= channels) {
        ts_avg_words(in + c, rows, cols, row_step, channels, 2, dv, out + c);
        c += 8;
    }
    if (c + 4 <= channels) {
        ts_avg_words(in + c, rows, cols, row_step, channels, 1, dv, out + c);
        c += 4;
    }
    for (; c < channels; ++c) {
        int32_t sum = 0;
        const int8_t *row = in + c;
        for (int32_t y = 0; y < rows; ++y, row += row_step) {
            const int8_t *x = row;
            for (int32_t i = cols; i > 0; --i, x += channels) {
                sum += *x;
            }
        }
        out[c] = ts_avg_div(sum, dv);
    }
}

/*
 * ts_avg_pixel for a window of more than TS_AVG_DSP_MAX_COUNT elements: four channels at a
 * time, halfword sums over sub-windows of at most that many elements added into int32
 * sums; the last one to three channels summed in int32 directly.
 */
static void ts_avg_pixel_large(const int8_t *in, int32_t rows, int32_t cols, int32_t row_step, int32_t channels,
                               const ts_avg_div_t *dvp, int8_t *out)
{
    const ts_avg_div_t d = *dvp; /* a local copy: the byte stores cannot alias it (no reloads) */
    const ts_avg_div_t *dv = &d;
    const int32_t sub_cols = ts_min_i32(cols, TS_AVG_DSP_MAX_COUNT);
    const int32_t sub_rows = TS_AVG_DSP_MAX_COUNT / sub_cols;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int32_t y0 = 0; y0 < rows; y0 += sub_rows) {
            const int32_t y1 = ts_min_i32(rows, y0 + sub_rows);
            for (int32_t x0 = 0; x0 < cols; x0 += sub_cols) {
                const int32_t n = ts_min_i32(cols, x0 + sub_cols) - x0;
                uint32_t even[4] = {0}, odd[4] = {0};
                for (int32_t y = y0; y < y1; ++y) {
                    ts_sxtab16_pixels(in + c + y * row_step + x0 * channels, n, channels, 1, even, odd);
                }
                s0 += (int16_t)even[0];
                s1 += (int16_t)odd[0];
                s2 += (int32_t)even[0] >> 16;
                s3 += (int32_t)odd[0] >> 16;
            }
        }
        out[c] = ts_avg_div(s0, dv);
        out[c + 1] = ts_avg_div(s1, dv);
        out[c + 2] = ts_avg_div(s2, dv);
        out[c + 3] = ts_avg_div(s3, dv);
    }
    for (; c < channels; ++c) {
        int32_t sum = 0;
        for (int32_t y = 0; y < rows; ++y) {
            const int8_t *x = in + c + y * row_step;
            for (int32_t i = cols; i > 0; --i, x += channels) {
                sum += *x;
            }
        }
        out[c] = ts_avg_div(sum, dv);
    }
}

int32_t ts_avg_pool2d_s8(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_pool2d_params_t *p = params;
    if (ts_min_i32(p->filter_h, p->input_h) * ts_min_i32(p->filter_w, p->input_w) > TS_AVG_DSP_MAX_WINDOW) {
        return ts_avg_pool2d_s8_portable(params, input, output);
    }
    const int32_t c = p->channels;
    const int32_t row_step = p->input_w * c;
    ts_avg_div_t dv;
    ts_avg_div_init(&dv, 1);
    dv.lo = p->act_min;
    dv.hi = p->act_max;
    dv.lo4 = (uint32_t)(p->act_min + 128) * 0x01010101u;
    dv.hi4 = (uint32_t)(p->act_max + 128) * 0x01010101u;
    dv.full = p->act_min == -128 && p->act_max == 127;
    int32_t last = 1;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * row_step;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ts_max_i32(0, -in_y0);
            const int32_t fy1 = ts_min_i32(p->filter_h, p->input_h - in_y0);
            for (int32_t ox = 0; ox < p->output_w; ++ox, output += c) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ts_max_i32(0, -in_x0);
                const int32_t fx1 = ts_min_i32(p->filter_w, p->input_w - in_x0);
                if (fy1 <= fy0 || fx1 <= fx0) {
                    return TS_ERR_ARG;
                }
                int32_t rows = fy1 - fy0, cols = fx1 - fx0;
                if (rows * cols != last) {
                    last = rows * cols;
                    ts_avg_div_init(&dv, last);
                }
                if (cols == p->input_w) { /* whole rows: one contiguous run */
                    cols = dv.count;
                    rows = 1;
                }
                const int8_t *in = image + ((size_t)(in_y0 + fy0) * p->input_w + in_x0 + fx0) * c;
                if (dv.count <= TS_AVG_DSP_MAX_COUNT) {
                    ts_avg_pixel(in, rows, cols, row_step, c, &dv, output);
                } else {
                    ts_avg_pixel_large(in, rows, cols, row_step, c, &dv, output);
                }
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
