/*
 * ts_depthwise_conv2d_s8_dsp.c - DEPTHWISE_CONV_2D on the DSP extension.
 *
 * Per output pixel, a table points each tap at its input pixel, or at a row of input
 * zero points for taps outside the image (x + offset = 0 there, as TFLM skips them); a 3x3
 * window inside the image is read by rows from its corner instead.
 * Four channels per word: inputs widened with the offset by SXTAB16, weights pre-widened
 * by the generator (params->filter_dsp: per channel quad, per tap, (w0, w2) (w1, w3)),
 * one 16x16 MAC per channel and tap (SMLABB/SMLATT), and the outputs requantized from
 * registers (params->requant_dsp). Without the re-layouts (depth multiplier != 1,
 * dilation, channels not a multiple of 4, requantizations outside the fast form) the
 * portable kernel runs.
 */
#include "ts_depthwise_conv2d_s8.h"

#if TS_OPT_DSP
#include "ts_opt.h"
#include "ts_simd.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_depthwise_conv2d_s8_portable(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                                        const int8_t *filter, const int32_t *bias, int8_t *output);

/* The MACs of tap t of one channel quad in assembly, its input word in r4, weight words
 * w[2t], w[2t + 1] (temporaries: r5 the input's even bytes, r8 r9 weights). */
#define TS_DW_MAC_ASM(t)                                 \
    "ldrd r8, r9, [%[w], #8 * " #t "]\n\t"               \
    "sxtab16 r5, %[off], r4\n\t"                         \
    "sxtab16 r4, %[off], r4, ror #8\n\t"                 \
    "smlabb %[a0], r5, r8, %[a0]\n\t"                    \
    "smlatt %[a2], r5, r8, %[a2]\n\t"                    \
    "smlabb %[a1], r4, r9, %[a1]\n\t"                    \
    "smlatt %[a3], r4, r9, %[a3]\n\t"

/* tap t through the tap table: input word at tap[t] + c */
#define TS_DW_TAP_ASM(t) "ldr r4, [%[tab], #4 * " #t "]\n\t" "ldr r4, [r4, %[c]]\n\t" TS_DW_MAC_ASM(t)

/* one window row of a 3x3 window inside the image: words at row, row + ch, row + 2 ch, then the next row */
#define TS_DW_ROW_ASM(t0, t1, t2)                                                             \
    "ldr r4, [%[row]]\n\t" TS_DW_MAC_ASM(t0) "ldr r4, [%[row], %[ch]]\n\t" TS_DW_MAC_ASM(t1) \
    "ldr r4, [%[row], %[ch], lsl #1]\n\t" TS_DW_MAC_ASM(t2) "add %[row], %[row], %[rs]\n\t"

/*
 * All channels of one output pixel whose 3x3 window is inside the image, read by rows from
 * its corner `base`: the nine taps of a channel quad are one assembly block that also steps
 * the weights, so that row, channel count, row stride and input offset stay in registers
 * (the compiler spilled them between separate blocks). All registers pinned (r7, the Thumb
 * frame pointer, left alone): thirteen are in use, more than the compiler finds to allocate
 * at -O0. Out of line (below): the caller's frame pointer (VLAs) costs a register.
 */
TS_ALWAYS_INLINE void inside3x3_body(const ts_depthwise_conv2d_params_t *p, const int8_t *base, int8_t *out,
                                     int32_t lo, int32_t hi)
{
    const uint32_t off2 = ts_dup16(p->input_offset);
    const ts_rq_t *rq = (const ts_rq_t *)(const void *)p->requant_dsp;
    const ts_rq_t *const end = rq + p->input_c;
    const uint32_t *w = (const uint32_t *)(const void *)p->filter_dsp;
    const int32_t channels = p->input_c, row_stride = p->input_w * channels;
    for (; rq < end; rq += 4, base += 4, out += 4) {
        register int32_t r0 __asm__("r0") = rq[0].bias2, r1 __asm__("r1") = rq[1].bias2,
                                      r2 __asm__("r2") = rq[2].bias2, r3 __asm__("r3") = rq[3].bias2;
        register const uint32_t *wr __asm__("r12") = w;
        register uint32_t off __asm__("lr") = off2;
        register const int8_t *row __asm__("r10") = base;
        register int32_t ch __asm__("r11") = channels;
        register int32_t rs __asm__("r6") = row_stride;
        __asm__ volatile(TS_DW_ROW_ASM(0, 1, 2) TS_DW_ROW_ASM(3, 4, 5) TS_DW_ROW_ASM(6, 7, 8)
                         "add %[w], %[w], #72\n\t"
                         : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [row] "+r"(row),
                           [w] "+r"(wr)
                         : [ch] "r"(ch), [rs] "r"(rs), [off] "r"(off)
                         : "r4", "r5", "r8", "r9", "memory");
        w = wr;
        ts_rq_apply4(r0, r1, r2, r3, rq, lo, hi, out);
    }
}

/* inside3x3_body with the int8 range as the activation clamp (constants: no test per quad), and any clamp */
static TS_NOINLINE void pixel_inside3x3_ssat(const ts_depthwise_conv2d_params_t *p, const int8_t *base, int8_t *out)
{
    inside3x3_body(p, base, out, -128, 127);
}

static TS_NOINLINE void pixel_inside3x3_clamp(const ts_depthwise_conv2d_params_t *p, const int8_t *base, int8_t *out)
{
    inside3x3_body(p, base, out, p->act_min, p->act_max);
}

/*
 * All channels of one output pixel through its tap table. A 3x3 filter's nine taps are one
 * assembly block, so that the tap table, channel offset and input offset stay in registers.
 */
TS_ALWAYS_INLINE void table_body(const ts_depthwise_conv2d_params_t *p, const int8_t *const *tap, int32_t taps,
                                 int8_t *out, int32_t lo, int32_t hi)
{
    const uint32_t off2 = ts_dup16(p->input_offset);
    const ts_rq_t *rq = (const ts_rq_t *)(const void *)p->requant_dsp;
    const uint32_t *w = (const uint32_t *)(const void *)p->filter_dsp;
    const int32_t channels = p->input_c;
    for (int32_t c = 0; c < channels; c += 4, rq += 4, w += 2 * taps) {
        int32_t a0 = rq[0].bias2, a1 = rq[1].bias2, a2 = rq[2].bias2, a3 = rq[3].bias2;
        if (taps == 9) {
            register int32_t r0 __asm__("r0") = a0, r1 __asm__("r1") = a1, r2 __asm__("r2") = a2,
                                          r3 __asm__("r3") = a3;
            register const uint32_t *wr __asm__("r12") = w;
            register uint32_t off __asm__("lr") = off2;
            register const int8_t *const *tab __asm__("r10") = tap;
            register int32_t cc __asm__("r11") = c;
            __asm__ volatile(TS_DW_TAP_ASM(0) TS_DW_TAP_ASM(1) TS_DW_TAP_ASM(2)
                             TS_DW_TAP_ASM(3) TS_DW_TAP_ASM(4) TS_DW_TAP_ASM(5)
                             TS_DW_TAP_ASM(6) TS_DW_TAP_ASM(7) TS_DW_TAP_ASM(8)
                             : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3)
                             : [tab] "r"(tab), [c] "r"(cc), [w] "r"(wr), [off] "r"(off)
                             : "r4", "r5", "r8", "r9", "memory");
            a0 = r0, a1 = r1, a2 = r2, a3 = r3;
        } else {
            for (int32_t t = 0; t < taps; ++t) {
                const uint32_t xv = ts_read32(tap[t] + c);
                const uint32_t x02 = ts_sxtab16(off2, xv), x13 = ts_sxtab16_ror8(off2, xv);
                a0 = ts_smlabb(x02, w[2 * t], a0);
                a2 = ts_smlatt(x02, w[2 * t], a2);
                a1 = ts_smlabb(x13, w[2 * t + 1], a1);
                a3 = ts_smlatt(x13, w[2 * t + 1], a3);
            }
        }
        ts_rq_apply4(a0, a1, a2, a3, rq, lo, hi, out + c);
    }
}

/* table_body with the int8 range as the activation clamp, and any clamp */
static TS_NOINLINE void pixel_table_ssat(const ts_depthwise_conv2d_params_t *p, const int8_t *const *tap,
                                         int32_t taps, int8_t *out)
{
    table_body(p, tap, taps, out, -128, 127);
}

static TS_NOINLINE void pixel_table_clamp(const ts_depthwise_conv2d_params_t *p, const int8_t *const *tap,
                                          int32_t taps, int8_t *out)
{
    table_body(p, tap, taps, out, p->act_min, p->act_max);
}

/* Tap pointers of the window at (y0, x0) partly outside the image: outside taps read `pad`. */
static void window(const ts_depthwise_conv2d_params_t *p, const int8_t *image, int32_t y0, int32_t x0,
                   const int8_t *pad, const int8_t **tap)
{
    for (int32_t fy = 0, t = 0; fy < p->filter_h; ++fy) {
        const int32_t y = y0 + fy;
        for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t) {
            const int32_t x = x0 + fx;
            const int inside = y >= 0 && y < p->input_h && x >= 0 && x < p->input_w;
            tap[t] = inside ? image + ((size_t)y * p->input_w + x) * p->input_c : pad;
        }
    }
}

int32_t ts_depthwise_conv2d_s8(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_depthwise_conv2d_params_t *p = params;
    if (p->filter_dsp == NULL || p->requant_dsp == NULL) {
        return ts_depthwise_conv2d_s8_portable(params, input, filter, bias, output);
    }
    const int32_t ch = p->input_c;
    const int32_t taps = p->filter_h * p->filter_w;
    const int square3 = p->filter_h == 3 && p->filter_w == 3; /* windows inside the image read by rows */
    const int ssat = p->act_min == -128 && p->act_max == 127;
    int32_t pad_words[ch / 4]; /* input zero points: x + offset = 0 */
    const int8_t *tap[taps];
    int32_t offset[taps]; /* tap offsets from the window's corner */
    for (int32_t fy = 0, t = 0; fy < p->filter_h; ++fy) {
        for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t) {
            offset[t] = (fy * p->input_w + fx) * ch;
        }
    }
    memset(pad_words, (int8_t)-p->input_offset, sizeof pad_words);
    const int8_t *pad = (const int8_t *)(const void *)pad_words;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ch;
        int8_t *out = output + (size_t)b * p->output_h * p->output_w * ch;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->output_w; ++ox, out += ch) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int inside = y0 >= 0 && y0 + (p->filter_h - 1) < p->input_h && x0 >= 0 &&
                                   x0 + (p->filter_w - 1) < p->input_w;
                const int8_t *base = inside ? image + ((size_t)y0 * p->input_w + x0) * ch : NULL;
                if (base == NULL) {
                    window(p, image, y0, x0, pad, tap);
                } else if (square3) {
                    (ssat ? pixel_inside3x3_ssat : pixel_inside3x3_clamp)(p, base, out);
                    continue;
                } else { /* the whole window: the offsets prepared once */
                    for (int32_t t = 0; t < taps; ++t) {
                        tap[t] = base + offset[t];
                    }
                }
                (ssat ? pixel_table_ssat : pixel_table_clamp)(p, tap, taps, out);
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
