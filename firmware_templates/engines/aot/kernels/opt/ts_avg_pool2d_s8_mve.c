/*
 * ts_avg_pool2d_s8_mve.c - AVERAGE_POOL_2D with Helium (MVE).
 *
 * Per output pixel, 32 channels at a time: one pass over the window's in-bounds input
 * pixels adds them into four int16x8 vectors (VLDRB.S16 widens on load; a window of at most
 * TS_AVG_MVE_MAX_COUNT elements cannot overflow an int16 lane). Window rows that span the
 * whole input width are one contiguous run and walked as one row. Then a group of 16
 * channels, and the last ones eight at a time (tail-predicated).
 *
 * Division (TFLM: (sum +- count/2) / count, truncated, i.e. |sum| + count/2 divided by
 * count with the sum's sign): q = floor(n * m / 2^31) with n = |sum| + count/2 and
 * m = ceil(2^31 / count) (VMULH.U32 of 2n and m). With m * count = 2^31 + e, e < count,
 * n * m / 2^31 = n / count + n * e / (count * 2^31), and n * e < 2^31 (n <= 32896,
 * e < 256) keeps the error below 1/count: the floor is exact. The lanes are widened even /
 * odd (VSHLLB/VSHLLT, doubling on the way) and narrowed back in place (VMOVNB/VMOVNT), the
 * sign restored on int16 lanes, clamped, and stored narrowing to int8.
 *
 * Windows larger than TS_AVG_MVE_MAX_COUNT sum sub-windows of at most that many elements
 * in int16 lanes and widen them into int32 ones; the same division stays exact while
 * (128 * count + count / 2) * (count - 1) < 2^31, up to TS_AVG_MVE_MAX_RECIP elements.
 * Larger windows use the portable kernel.
 */
/* -O2 whatever the project level: the Helium asm's register constraints want it */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_pool2d_s8.h"

#if TS_OPT_MVE
#include "ts_mve.h"

/* Largest window (in-bounds elements) summed in int16 lanes: 256 * -128 = -32768. */
#define TS_AVG_MVE_MAX_COUNT 256

/* Largest window the reciprocal divides exactly: (128 * count + count / 2) * (count - 1) < 2^31. */
#define TS_AVG_MVE_MAX_RECIP 4088

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_avg_pool2d_s8_portable(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output);

/* One pixel's division and clamp: m = ceil(2^31 / count), half2 = 2 * (count / 2). */
typedef struct {
    uint32x4_t m;
    uint32_t half2;
    int16x8_t lo, hi;
} ts_avg_div_t;

/* Eight int16 window sums divided (rounded half away from zero) and clamped. */
TS_ALWAYS_INLINE int16x8_t ts_avg_div8(int16x8_t sum, const ts_avg_div_t *dv)
{
    const uint16x8_t a = vreinterpretq_u16_s16(vabsq_s16(sum)); /* -32768 reads as 32768 */
    const uint32x4_t even = vmulhq_u32(vaddq_n_u32(vshllbq_n_u16(a, 1), dv->half2), dv->m);
    const uint32x4_t odd = vmulhq_u32(vaddq_n_u32(vshlltq_n_u16(a, 1), dv->half2), dv->m);
    const int16x8_t q = vreinterpretq_s16_u16(vmovntq_u32(vmovnbq_u32(a, even), odd));
    const int16x8_t sign = vshrq_n_s16(sum, 15);
    return vminq_s16(vmaxq_s16(vsubq_s16(veorq_s16(q, sign), sign), dv->lo), dv->hi);
}

/* Four int32 window sums divided (rounded half away from zero), count <= TS_AVG_MVE_MAX_RECIP. */
TS_ALWAYS_INLINE int32x4_t ts_avg_div4(int32x4_t sum, const ts_avg_div_t *dv)
{
    const uint32x4_t n2 = vaddq_n_u32(vshlq_n_u32(vreinterpretq_u32_s32(vabsq_s32(sum)), 1), dv->half2);
    const int32x4_t q = vreinterpretq_s32_u32(vmulhq_u32(n2, dv->m));
    const int32x4_t sign = vshrq_n_s32(sum, 31);
    return vsubq_s32(veorq_s32(q, sign), sign);
}

/* s0..s3 += the 32 channels at x over n >= 1 pixels `step` bytes apart (a low-overhead loop;
 * the widening VLDRB takes a low base register). */
TS_ALWAYS_INLINE void ts_avg_sum32(const int8_t *x, int32_t n, int32_t step, int16x8_t *s0, int16x8_t *s1,
                                   int16x8_t *s2, int16x8_t *s3)
{
    int16x8_t t0, t1;
    __asm__ volatile("dls lr, %[n]\n"
                     "1:\n\t"
                     "vldrb.s16 %q[t0], [%[x]]\n\t"
                     "vldrb.s16 %q[t1], [%[x], #8]\n\t"
                     "vadd.i16 %q[s0], %q[s0], %q[t0]\n\t"
                     "vadd.i16 %q[s1], %q[s1], %q[t1]\n\t"
                     "vldrb.s16 %q[t0], [%[x], #16]\n\t"
                     "vldrb.s16 %q[t1], [%[x], #24]\n\t"
                     "add %[x], %[x], %[step]\n\t"
                     "vadd.i16 %q[s2], %q[s2], %q[t0]\n\t"
                     "vadd.i16 %q[s3], %q[s3], %q[t1]\n\t"
                     "le lr, 1b\n"
                     : [s0] "+w"(*s0), [s1] "+w"(*s1), [s2] "+w"(*s2), [s3] "+w"(*s3), [t0] "=&w"(t0),
                       [t1] "=&w"(t1), [x] "+l"(x)
                     : [n] "r"(n), [step] "r"(step)
                     : "lr", "memory");
}

/* s0, s1 += the 16 channels at x over n >= 1 pixels `step` bytes apart. */
TS_ALWAYS_INLINE void ts_avg_sum16(const int8_t *x, int32_t n, int32_t step, int16x8_t *s0, int16x8_t *s1)
{
    int16x8_t t0, t1;
    __asm__ volatile("dls lr, %[n]\n"
                     "1:\n\t"
                     "vldrb.s16 %q[t0], [%[x]]\n\t"
                     "vldrb.s16 %q[t1], [%[x], #8]\n\t"
                     "add %[x], %[x], %[step]\n\t"
                     "vadd.i16 %q[s0], %q[s0], %q[t0]\n\t"
                     "vadd.i16 %q[s1], %q[s1], %q[t1]\n\t"
                     "le lr, 1b\n"
                     : [s0] "+w"(*s0), [s1] "+w"(*s1), [t0] "=&w"(t0), [t1] "=&w"(t1), [x] "+l"(x)
                     : [n] "r"(n), [step] "r"(step)
                     : "lr", "memory");
}

/*
 * The averages of `channels` channels over a window of rows x cols input pixels starting
 * at `in` (pixels `channels` bytes apart, rows `row_step` bytes apart).
 */
static void ts_avg_pixel(const int8_t *in, int32_t rows, int32_t cols, int32_t row_step, int32_t channels,
                         const ts_avg_div_t *dv, int8_t *out)
{
    int32_t c = 0;
    for (; c + 32 <= channels; c += 32) {
        int16x8_t s0 = vdupq_n_s16(0), s1 = vdupq_n_s16(0), s2 = vdupq_n_s16(0), s3 = vdupq_n_s16(0);
        for (int32_t y = 0; y < rows; ++y) {
            ts_avg_sum32(in + c + y * row_step, cols, channels, &s0, &s1, &s2, &s3);
        }
        vstrbq_s16(out + c, ts_avg_div8(s0, dv));
        vstrbq_s16(out + c + 8, ts_avg_div8(s1, dv));
        vstrbq_s16(out + c + 16, ts_avg_div8(s2, dv));
        vstrbq_s16(out + c + 24, ts_avg_div8(s3, dv));
    }
    if (c + 16 <= channels) {
        int16x8_t s0 = vdupq_n_s16(0), s1 = vdupq_n_s16(0);
        for (int32_t y = 0; y < rows; ++y) {
            ts_avg_sum16(in + c + y * row_step, cols, channels, &s0, &s1);
        }
        vstrbq_s16(out + c, ts_avg_div8(s0, dv));
        vstrbq_s16(out + c + 8, ts_avg_div8(s1, dv));
        c += 16;
    }
    for (; c < channels; c += 8) { /* the last 1..15 channels, eight (or fewer) at a time */
        const mve_pred16_t p = vctp16q((uint32_t)(channels - c));
        int16x8_t s = vdupq_n_s16(0);
        const int8_t *row = in + c;
        for (int32_t y = 0; y < rows; ++y, row += row_step) {
            const int8_t *x = row;
            for (int32_t i = cols; i > 0; --i, x += channels) {
                s = vaddq_s16(s, vldrbq_z_s16(x, p));
            }
        }
        vstrbq_p_s16(out + c, ts_avg_div8(s, dv), p);
    }
}

/*
 * ts_avg_pixel for a window of more than TS_AVG_MVE_MAX_COUNT elements: eight channels at a
 * time, int16 sums over sub-windows of at most that many elements widened into int32
 * lanes (even and odd channels, VMOVLB/VMOVLT), divided by ts_avg_div4.
 */
static void ts_avg_pixel_large(const int8_t *in, int32_t rows, int32_t cols, int32_t row_step, int32_t channels,
                               const ts_avg_div_t *dv, int8_t *out)
{
    const int32_t sub_cols = ts_min_i32(cols, TS_AVG_MVE_MAX_COUNT);
    const int32_t sub_rows = TS_AVG_MVE_MAX_COUNT / sub_cols;
    for (int32_t c = 0; c < channels; c += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(channels - c));
        int32x4_t even = vdupq_n_s32(0), odd = vdupq_n_s32(0);
        for (int32_t y0 = 0; y0 < rows; y0 += sub_rows) {
            const int32_t y1 = ts_min_i32(rows, y0 + sub_rows);
            for (int32_t x0 = 0; x0 < cols; x0 += sub_cols) {
                const int32_t n = ts_min_i32(cols, x0 + sub_cols) - x0;
                int16x8_t sum = vdupq_n_s16(0);
                for (int32_t y = y0; y < y1; ++y) {
                    const int8_t *x = in + c + y * row_step + x0 * channels;
                    for (int32_t i = n; i > 0; --i, x += channels) {
                        sum = vaddq_s16(sum, vldrbq_z_s16(x, p));
                    }
                }
                even = vaddq_s32(even, vmovlbq_s16(sum));
                odd = vaddq_s32(odd, vmovltq_s16(sum));
            }
        }
        const int16x8_t q = vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), ts_avg_div4(even, dv)), ts_avg_div4(odd, dv));
        vstrbq_p_s16(out + c, vminq_s16(vmaxq_s16(q, dv->lo), dv->hi), p);
    }
}

int32_t ts_avg_pool2d_s8(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_pool2d_params_t *p = params;
    if (ts_min_i32(p->filter_h, p->input_h) * ts_min_i32(p->filter_w, p->input_w) > TS_AVG_MVE_MAX_RECIP) {
        return ts_avg_pool2d_s8_portable(params, input, output);
    }
    const int32_t c = p->channels;
    const int32_t row_step = p->input_w * c;
    ts_avg_div_t dv;
    dv.m = vdupq_n_u32(0);
    dv.half2 = 0;
    dv.lo = vdupq_n_s16((int16_t)p->act_min);
    dv.hi = vdupq_n_s16((int16_t)p->act_max);
    int32_t last = 0;
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
                const int32_t count = rows * cols;
                if (count != last) {
                    last = count;
                    dv.m = vdupq_n_u32(0x7FFFFFFFu / (uint32_t)count + 1u); /* ceil(2^31 / count) */
                    dv.half2 = (uint32_t)(count & ~1);
                }
                if (cols == p->input_w) { /* whole rows: one contiguous run */
                    cols = count;
                    rows = 1;
                }
                const int8_t *in = image + ((size_t)(in_y0 + fy0) * p->input_w + in_x0 + fx0) * c;
                if (count <= TS_AVG_MVE_MAX_COUNT) {
                    ts_avg_pixel(in, rows, cols, row_step, c, &dv, output);
                } else {
                    ts_avg_pixel_large(in, rows, cols, row_step, c, &dv, output);
                }
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_MVE */
