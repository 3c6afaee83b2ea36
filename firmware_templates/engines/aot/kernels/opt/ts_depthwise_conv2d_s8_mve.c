/*
 * ts_depthwise_conv2d_s8_mve.c - DEPTHWISE_CONV_2D with Helium (MVE), sixteen channels per
 * pass. Per output pixel a table of byte offsets from a base points each tap at its input
 * pixel, or at a row of input zero points outside the image (windows inside the image share
 * one table from their corner); the input offset is folded into the accumulators' start
 * (bias + offset * sum of the channel's weights, ts_mve.h). Depth multipliers other than
 * 1, channel counts not a multiple of 8 and filters over TS_MVE_DW_MAX_WEIGHTS use the
 * portable kernel.
 */
/* -O2 whatever the project level: the Helium asm has impossible register constraints at -O0 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_depthwise_conv2d_s8.h"

#if TS_OPT_MVE
#include <string.h>
#include "ts_mve.h"

/* Largest filter (taps x channels) re-laid on the stack per call. */
#define TS_MVE_DW_MAX_WEIGHTS 4096

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_depthwise_conv2d_s8_portable(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                                        const int8_t *filter, const int32_t *bias, int8_t *output);

/* Requantize and store eight channels (even/odd lanes re-interleaved by VMOVNB/VMOVNT). */
TS_ALWAYS_INLINE void store8(const ts_depthwise_conv2d_params_t *p, int32x4_t even, int32x4_t odd, const int32_t *g,
                             int8_t *out)
{
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    even = ts_mve_requant_lr(even, vldrwq_s32(g + 8), vldrwq_s32(g + 16), vldrwq_s32(g + 24));
    odd = ts_mve_requant_lr(odd, vldrwq_s32(g + 12), vldrwq_s32(g + 20), vldrwq_s32(g + 28));
    even = vminq_s32(vmaxq_s32(vaddq_n_s32(even, p->output_offset), lo), hi);
    odd = vminq_s32(vmaxq_s32(vaddq_n_s32(odd, p->output_offset), lo), hi);
    vstrbq_s16(out, vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), even), odd));
}

/*
 * Sixteen channels at base + tap[t] over all taps, requantized as store8 does and stored at
 * out: acc = init + sum(x * w) in q0-q3 (even/odd lanes of each half, rq's layout). The output
 * offset and clamp are read from p into the loop's scratch register afterwards (too few
 * registers otherwise). Widening loads and stores need low registers ("l"); q4-q7 are
 * callee-saved, so the compiler saves them around the asm.
 */
static void taps16(const int32_t *tap, int32_t taps, const int8_t *base, const int8_t *w, const int32_t *rq,
                   const ts_depthwise_conv2d_params_t *p, int8_t *out)
{
    const int8_t *x;
    __asm__ volatile(
        "vldrw.32 q0, [%[rq]]\n\t"
        "vldrw.32 q1, [%[rq], #16]\n\t"
        "vldrw.32 q2, [%[rq], #128]\n\t"
        "vldrw.32 q3, [%[rq], #144]\n\t"
        "dls lr, %[n]\n"
        "1:\n\t"
        "ldr %[x], [%[tap]], #4\n\t"
        "add %[x], %[x], %[base]\n\t"
        "vldrb.s16 q4, [%[x]]\n\t"
        "vldrb.s16 q5, [%[w]], #8\n\t"
        "vmullb.s16 q6, q4, q5\n\t"
        "vmullt.s16 q7, q4, q5\n\t"
        "vldrb.s16 q4, [%[x], #8]\n\t"
        "vadd.i32 q0, q0, q6\n\t"
        "vldrb.s16 q5, [%[w]], #8\n\t"
        "vadd.i32 q1, q1, q7\n\t"
        "vmullb.s16 q6, q4, q5\n\t"
        "vmullt.s16 q7, q4, q5\n\t"
        "vadd.i32 q2, q2, q6\n\t"
        "vadd.i32 q3, q3, q7\n\t"
        "le lr, 1b\n\t"
        "ldr %[x], %[lo]\n\t"
        "vdup.32 q6, %[x]\n\t"
        "ldr %[x], %[hi]\n\t"
        "vdup.32 q7, %[x]\n\t"
        "ldr %[x], %[zp]\n\t"
        "vldrw.32 q4, [%[rq], #64]\n\t" /* left shift */
        "vshl.s32 q0, q0, q4\n\t"
        "vldrw.32 q4, [%[rq], #32]\n\t" /* multiplier */
        "vqrdmulh.s32 q0, q0, q4\n\t"
        "vldrw.32 q4, [%[rq], #96]\n\t" /* right shift */
        "vand q5, q0, q4\n\t"
        "vshr.s32 q5, q5, #31\n\t"
        "vqadd.s32 q0, q0, q5\n\t"
        "vrshl.s32 q0, q0, q4\n\t"
        "vadd.i32 q0, q0, %[x]\n\t"
        "vmax.s32 q0, q0, q6\n\t"
        "vmin.s32 q0, q0, q7\n\t"
        "vldrw.32 q4, [%[rq], #80]\n\t" /* left shift */
        "vshl.s32 q1, q1, q4\n\t"
        "vldrw.32 q4, [%[rq], #48]\n\t" /* multiplier */
        "vqrdmulh.s32 q1, q1, q4\n\t"
        "vldrw.32 q4, [%[rq], #112]\n\t" /* right shift */
        "vand q5, q1, q4\n\t"
        "vshr.s32 q5, q5, #31\n\t"
        "vqadd.s32 q1, q1, q5\n\t"
        "vrshl.s32 q1, q1, q4\n\t"
        "vadd.i32 q1, q1, %[x]\n\t"
        "vmax.s32 q1, q1, q6\n\t"
        "vmin.s32 q1, q1, q7\n\t"
        "vldrw.32 q4, [%[rq], #192]\n\t" /* left shift */
        "vshl.s32 q2, q2, q4\n\t"
        "vldrw.32 q4, [%[rq], #160]\n\t" /* multiplier */
        "vqrdmulh.s32 q2, q2, q4\n\t"
        "vldrw.32 q4, [%[rq], #224]\n\t" /* right shift */
        "vand q5, q2, q4\n\t"
        "vshr.s32 q5, q5, #31\n\t"
        "vqadd.s32 q2, q2, q5\n\t"
        "vrshl.s32 q2, q2, q4\n\t"
        "vadd.i32 q2, q2, %[x]\n\t"
        "vmax.s32 q2, q2, q6\n\t"
        "vmin.s32 q2, q2, q7\n\t"
        "vldrw.32 q4, [%[rq], #208]\n\t" /* left shift */
        "vshl.s32 q3, q3, q4\n\t"
        "vldrw.32 q4, [%[rq], #176]\n\t" /* multiplier */
        "vqrdmulh.s32 q3, q3, q4\n\t"
        "vldrw.32 q4, [%[rq], #240]\n\t" /* right shift */
        "vand q5, q3, q4\n\t"
        "vshr.s32 q5, q5, #31\n\t"
        "vqadd.s32 q3, q3, q5\n\t"
        "vrshl.s32 q3, q3, q4\n\t"
        "vadd.i32 q3, q3, %[x]\n\t"
        "vmax.s32 q3, q3, q6\n\t"
        "vmin.s32 q3, q3, q7\n\t"
        "vmovnt.i32 q0, q1\n\t" /* channel 2i + 1 into 16-bit lane 2i + 1 */
        "vstrb.16 q0, [%[out]]\n\t"
        "vmovnt.i32 q2, q3\n\t"
        "vstrb.16 q2, [%[out], #8]\n\t"
        : [x] "=&l"(x), [tap] "+r"(tap), [w] "+l"(w)
        : [n] "r"(taps), [base] "r"(base), [rq] "r"(rq), [out] "l"(out), [zp] "m"(p->output_offset),
          [lo] "m"(p->act_min), [hi] "m"(p->act_max)
        : "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "lr", "memory");
}

/*
 * All channels of one output pixel (taps at base + tap[t]), sixteen per pass (then eight). `w` is
 * [channels / 16][taps][16] (a last group of eight: [taps][8]) and `rq`
 * [channels / 8][init 8, multiplier 8, left shift 8, right shift 8], even channels first (prepare()).
 */
static void pixel(const ts_depthwise_conv2d_params_t *p, const int8_t *base, const int32_t *tap, int32_t taps,
                  const int8_t *w, const int32_t *rq, int8_t *out)
{
    const int32_t ch = p->input_c;
    int32_t c = 0;
    for (; c + 16 <= ch; c += 16, w += taps * 16, rq += 64) {
        taps16(tap, taps, base + c, w, rq, p, out + c);
    }
    if (c < ch) { /* eight channels left */
        int32x4_t even = vldrwq_s32(rq), odd = vldrwq_s32(rq + 4);
        for (int32_t t = 0; t < taps; ++t, w += 8) {
            const int16x8_t x = vldrbq_s16(base + tap[t] + c), k = vldrbq_s16(w);
            even = vaddq_s32(even, vmullbq_int_s16(x, k));
            odd = vaddq_s32(odd, vmulltq_int_s16(x, k));
        }
        store8(p, even, odd, rq, out + c);
    }
}

/* Channel-group layouts for pixel(): weights, and accumulator starts (bias + offset * sum(w)),
 * multipliers and left and right shifts. */
static void prepare(const ts_depthwise_conv2d_params_t *p, const int8_t *filter, const int32_t *bias, int32_t taps,
                    int8_t *w, int32_t *rq)
{
    const int32_t ch = p->input_c;
    for (int32_t c = 0; c < ch; ++c) {
        const int32_t lane = c % 8, first = c - c % 16, width = ch - first < 16 ? 8 : 16;
        int32_t *slot = rq + c / 8 * 32 + (lane % 2) * 4 + lane / 2; /* even channels first */
        int32_t sum = 0;
        for (int32_t t = 0; t < taps; ++t) {
            const int8_t v = filter[(size_t)t * ch + c];
            w[(size_t)first * taps + t * width + c % 16] = v;
            sum += v;
        }
        slot[0] = (bias != NULL ? bias[c] : 0) + p->input_offset * sum;
        slot[8] = p->multiplier[c];
        slot[16] = p->shift[c] > 0 ? p->shift[c] : 0;
        slot[24] = p->shift[c] < 0 ? p->shift[c] : 0;
    }
}

/* Tap offsets from `image` of the window at (y0, x0) partly outside the image: outside taps
 * read `pad` (an offset between two objects: M-profile addresses are flat and 32-bit). */
static void window(const ts_depthwise_conv2d_params_t *p, const int8_t *image, int32_t y0, int32_t x0,
                   const int8_t *pad, int32_t *tap)
{
    for (int32_t fy = 0, t = 0; fy < p->filter_h; ++fy) {
        const int32_t y = y0 + fy * p->dilation_h;
        for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t) {
            const int32_t x = x0 + fx * p->dilation_w;
            const int inside = y >= 0 && y < p->input_h && x >= 0 && x < p->input_w;
            tap[t] = inside ? (y * p->input_w + x) * p->input_c : (int32_t)((intptr_t)pad - (intptr_t)image);
        }
    }
}

int32_t ts_depthwise_conv2d_s8(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (params == NULL || input == NULL || filter == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_depthwise_conv2d_params_t *p = params;
    const int32_t ch = p->input_c;
    const int32_t taps = p->filter_h * p->filter_w;
    if (p->depth_multiplier != 1 || ch % 8 != 0 || taps * ch > TS_MVE_DW_MAX_WEIGHTS) {
        return ts_depthwise_conv2d_s8_portable(params, input, filter, bias, output);
    }
    int8_t pad[ch]; /* input zero points: w * (zp + offset) = 0 */
    int8_t w[taps * ch];
    int32_t rq[4 * ch];
    int32_t offset[taps]; /* tap offsets from the window's corner */
    int32_t border[taps]; /* tap offsets from the image of a window partly outside it */
    for (int32_t fy = 0, t = 0; fy < p->filter_h; ++fy) {
        for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t) {
            offset[t] = (fy * p->dilation_h * p->input_w + fx * p->dilation_w) * ch;
        }
    }
    memset(pad, -p->input_offset, sizeof pad);
    prepare(p, filter, bias, taps, w, rq);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ch;
        int8_t *out = output + (size_t)b * p->output_h * p->output_w * ch;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->output_w; ++ox, out += ch) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int inside = y0 >= 0 && y0 + (p->filter_h - 1) * p->dilation_h < p->input_h && x0 >= 0 &&
                                   x0 + (p->filter_w - 1) * p->dilation_w < p->input_w;
                if (inside) { /* the whole window: the offsets prepared once */
                    pixel(p, image + ((size_t)y0 * p->input_w + x0) * ch, offset, taps, w, rq, out);
                } else {
                    window(p, image, y0, x0, pad, border);
                    pixel(p, image, border, taps, w, rq, out);
                }
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_MVE */
