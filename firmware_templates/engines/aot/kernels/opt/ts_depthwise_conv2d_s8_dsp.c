/*
 * ts_depthwise_conv2d_s8_dsp.c - DEPTHWISE_CONV_2D on the DSP extension.
 *
 * 3x3 filters on images large enough (the generator decides: aot_opt.py dsp_depthwise_planes
 * sets params->planes_dsp and lays out each channel's taps as rows (w0, w1, w2, 0), doubled,
 * dsp_depthwise3x3_filter): per quad of channels, a band of input lines is widened once
 * (input offset added, SXTAB16) into four int16 planes, one per channel, with zeros for the
 * padding around the image (x + offset = 0, as TFLM skips those taps). Adjacent positions of a plane are the halfword pairs SMLAD
 * multiplies by two taps. Then, channel by channel, the band's output lines run in one
 * assembly loop over groups of four outputs: per window row one LDM of the plane, one LDRD of
 * the row's taps and eight MACs (SMLAD or, for odd positions at stride 1, PKHBT + SMLADX for
 * the tap pair, SMLAxB for the third tap), then the four outputs requantized with the
 * channel's parameters kept on the stack; a line ends in a single output or in a group
 * overlapping the one before. Lines are image rows, or image columns (taps transposed) when
 * that computes fewer outputs (kws: 5 columns wide, 25 high). Strides along a line other than
 * 1 and 2, or lines too long for the planes' stack budget, run pixel by pixel in C.
 * Other filters, dilated windows and small images: per output pixel, a table points each tap
 * at its input pixel, or at a row of input zero points for taps outside the image (an undilated
 * 3x3 window inside the image is read by rows from its corner instead). Four channels per word: inputs
 * widened with the offset by SXTAB16, weights pre-widened by the generator
 * (params->filter_dsp: per channel quad, per tap, (w0, w2) (w1, w3)), one 16x16 MAC per
 * channel and tap (SMLABB/SMLATT); 3x3 filters here take their taps in pairs (aot_opt.py
 * dsp_depthwise_pairs: per channel (w_t, w_t+1)), two taps' words interleaved and widened
 * into each channel's input pair for one SMLAD. Outputs are requantized from registers
 * (params->requant_dsp).
 * A depth multiplier above 1 or channels not in quads (dw_scalar): per output channel, its
 * taps (params->filter_dsp: per channel, per tap, doubled) times the tap table's bytes of its
 * input channel, one SMLABB each, the input offset folded into the bias by the generator.
 * Without the re-layouts (requantizations outside the fast form) the portable kernel runs.
 */
#include "ts_depthwise_conv2d_s8.h"

#if TS_OPT_DSP
#include "ts_opt.h"
#include "ts_simd.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_depthwise_conv2d_s8_portable(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                                        const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

/* ---- 3x3 filters: channel planes ------------------------------------------------------ */

/* scratch bytes for the int16 planes of one channel quad (a band of input lines); the generator
 * plans the same figure (toolchain/codegen/aot_opt.py DW_PLANES_BYTES; 4096 saves about 1% on
 * person_detect) */
#define TS_DW_PLANES_BYTES 2048
/* after the planes: a band's lines of four outputs (at most budget / 48 lines) */
#define TS_DW_LINES_BYTES (4 * (TS_DW_PLANES_BYTES / 48))

/* One channel as the line loop reads it (copied onto the stack by the loop): per window row
 * its taps as (w0, w1), (w2, 0) (doubled, as dsp_depthwise3x3_filter lays them out), the
 * requantization and the activation clamp. */
typedef struct {
    uint32_t w[6];
    ts_rq_t rq;
    int32_t lo, hi;
} dw_frame_t;

/* Outputs are computed along lines: image rows, or image columns (then the taps transposed). */
typedef struct {
    int32_t lines_out, len_out, lines_in, len_in; /* lines and positions per line */
    int32_t s_line, s_pos, pad_line, pad_pos;     /* strides and leading padding across / along lines */
    int32_t in_line, in_pos, out_line, out_pos;   /* byte steps between lines / positions */
    int transposed;
} dw_geom_t;

static void dw_geom(const ts_depthwise_conv2d_params_t *p, int transposed, dw_geom_t *g)
{
    const int32_t ch = p->input_c;
    if (transposed) {
        *g = (dw_geom_t){p->output_w, p->output_h, p->input_w, p->input_h, p->stride_w, p->stride_h,
                         p->pad_w, p->pad_h, ch, p->input_w * ch, ch, p->output_w * ch, 1};
    } else {
        *g = (dw_geom_t){p->output_h, p->output_w, p->input_h, p->input_w, p->stride_h, p->stride_w,
                         p->pad_h, p->pad_w, p->input_w * ch, ch, p->output_w * ch, ch, 0};
    }
}

/* int16 positions of a plane row: every group of four outputs reads s_pos * 4 + 2 of them */
static int32_t dw_wp(const dw_geom_t *g)
{
    return g->s_pos * ((g->len_out + 3) & ~3) + 2;
}

/* input lines of a band of planes; 0 when the line loop does not apply (stride along the line
 * not 1 or 2, or three lines do not fit the stack budget) */
static int32_t dw_band_rows(const dw_geom_t *g)
{
    if (g->s_pos != 1 && g->s_pos != 2) {
        return 0;
    }
    const int32_t rows = TS_DW_PLANES_BYTES / (4 * 2 * dw_wp(g));
    return rows >= 3 ? rows : 0;
}

/* Rows or columns, whichever computes fewer outputs in groups of four (a line costs about two
 * more); 0 when neither applies. */
static int dw_choose(const ts_depthwise_conv2d_params_t *p, dw_geom_t *g)
{
    dw_geom_t rows, cols;
    dw_geom(p, 0, &rows);
    dw_geom(p, 1, &cols);
    const int32_t r_cost = dw_band_rows(&rows) ? rows.lines_out * (((rows.len_out + 3) & ~3) + 2) : INT32_MAX;
    const int32_t c_cost = dw_band_rows(&cols) ? cols.lines_out * (((cols.len_out + 3) & ~3) + 2) : INT32_MAX;
    if (r_cost == INT32_MAX && c_cost == INT32_MAX) {
        return 0;
    }
    *g = c_cost < r_cost ? cols : rows;
    return 1;
}

/* Positions a, a + 1 of four channels (words va, vb) into the four planes' word q[0], q[pw], ...:
 * the two words' halves interleaved first ([a0 a1 b0 b1], [a2 a3 b2 b3]), then widened. */
TS_ALWAYS_INLINE void dw_pair(uint32_t *q, int32_t pw, uint32_t va, uint32_t vb, uint32_t off2)
{
    const uint32_t x01 = ts_pack_bb(va, vb), x23 = ts_pack_tt(va, vb);
    q[0] = ts_sxtab16(off2, x01);
    q[pw] = ts_sxtab16_ror8(off2, x01);
    q[2 * pw] = ts_sxtab16(off2, x23);
    q[3 * pw] = ts_sxtab16_ror8(off2, x23);
}

/* Pair m of a line whose positions may lie outside the image (those read zero points). */
static void dw_edge_pair(const int8_t *src, int32_t m, int32_t step, int32_t pad, int32_t len, uint32_t off2,
                         uint32_t zp4, uint32_t *q, int32_t pw)
{
    const int32_t a = 2 * m - pad;
    const uint32_t va = a >= 0 && a < len ? ts_read32(src + a * step) : zp4;
    const uint32_t vb = a + 1 >= 0 && a + 1 < len ? ts_read32(src + (a + 1) * step) : zp4;
    dw_pair(q + m, pw, va, vb, off2);
}

/* One input line of four channels (src: its position 0) widened into a row of the planes
 * (plane k at row + k * plane int16). Only the pairs holding a position inside the image are
 * written (the planes start cleared: the others stay 0); positions outside read zero points. */
static void dw_widen_line(const int8_t *src, const dw_geom_t *g, int32_t wp, uint32_t off2, uint32_t zp4,
                          int16_t *row, int32_t plane)
{
    uint32_t *q = (uint32_t *)(void *)row;
    const int32_t pw = plane / 2, step = g->in_pos, pad = g->pad_pos, len = g->len_in, pairs = wp / 2;
    int32_t end = (len + pad + 1) / 2, lo = (pad + 1) / 2, hi = (len + pad) / 2; /* [lo, hi): both inside */
    end = end < pairs ? end : pairs;
    hi = hi > end ? end : hi < lo ? lo : hi;
    if (pad / 2 < lo && pad / 2 < end) { /* a leading pair half outside */
        dw_edge_pair(src, pad / 2, step, pad, len, off2, zp4, q, pw);
    }
    const int8_t *x = src + (2 * lo - pad) * step;
    for (int32_t m = lo; m < hi; ++m, x += 2 * step) {
        dw_pair(q + m, pw, ts_read32(x), ts_read32(x + step), off2);
    }
    if (hi < end) { /* a trailing pair half outside */
        dw_edge_pair(src, hi, step, pad, len, off2, zp4, q, pw);
    }
}

/* What the line loop needs besides the channel: groups of four outputs per line, the step back
 * (plane bytes, output bytes) to a last group overlapping the one before (0: none), the
 * steps from a line's end to the next line's start, the number of lines, whether a single
 * output ends each line (and a word to keep the stack in double words). */
typedef struct {
    int32_t full, back_p, back_o, line_p, line_o, lines, single, spare;
} dw_run_t;

/*
 * The line loop. Entry: r0 the channel's frame, r1 the run, r10 the plane row of the first
 * line's top window row, r11 the byte step between plane rows, r12 the first output, lr the
 * output step along a line. Frame and run are copied onto the stack (taps at sp + 0..20,
 * bias2 24, multiplier 28, add 32, right 36, lo 40, hi 44, run 48..76), which leaves r0-r3
 * for the four accumulators, r4-r6 for plane words, r8 r9 for taps and r7 (the Thumb frame
 * pointer, saved and restored inside the block, out of the compiler's sight) for the count
 * of groups.
 */
#define TS_DW_PROLOGUE                                                                            \
    "push {r7}\n\t"                                                                               \
    "add r6, r1, #24\n\t"                                                                         \
    "ldm r6, {r2, r3}\n\t"                                                                        \
    "push {r2, r3}\n\t"                                                                           \
    "ldm r1, {r1, r2, r3, r4, r5, r6}\n\t"                                                        \
    "push {r1, r2, r3, r4, r5, r6}\n\t"                                                           \
    "add r6, r0, #24\n\t"                                                                         \
    "ldm r6, {r1, r2, r3, r4, r5, r6}\n\t"                                                        \
    "push {r1, r2, r3, r4, r5, r6}\n\t"                                                           \
    "ldm r0, {r0, r1, r2, r3, r4, r5}\n\t"                                                        \
    "push {r0, r1, r2, r3, r4, r5}\n\t"

/* one output (a line's last, at a word-aligned position): per window row one LDRD of j0..j3,
 * (j0 j1).(w0 w1) + j2 w2, then requantized and stored at r12 */
#define TS_DW_SINGLE_ROW(base, woff, i0)                \
    "ldrd r4, r5, [" base "]\n\t"                       \
    "ldrd r8, r9, [sp, #" woff "]\n\t"                  \
    "smlad r0, r4, r8, " i0 "\n\t"                      \
    "smlabb r0, r5, r9, r0\n\t"
#define TS_DW_SINGLE(clamp)                                                                       \
    "ldr r3, [sp, #24]\n\t" TS_DW_SINGLE_ROW("r10", "0", "r3")                                     \
    "add r6, r10, r11\n\t" TS_DW_SINGLE_ROW("r6", "8", "r0")                                       \
    "add r6, r10, r11, lsl #1\n\t" TS_DW_SINGLE_ROW("r6", "16", "r0")                              \
    "ldrd r8, r9, [sp, #28]\n\t" "ldr r6, [sp, #36]\n\t" TS_DW_RQ("r0", clamp) "strb r4, [r12]\n\t"

/* per line: `full` groups, then either the last group overlapping the one before (`tail`: the
 * same group, whose plane may be read at any halfword) or a last single output, then the
 * next line */
#define TS_DW_LINES(group, tail, step, clamp)                                                            \
    "2:\n\t"                                                                                      \
    "ldr r7, [sp, #48]\n\t"                                                                       \
    "1:\n\t" group                                                                                \
    "add r10, r10, #" step "\n\t"                                                                 \
    "subs r7, r7, #1\n\t"                                                                         \
    "bne 1b\n\t"                                                                                  \
    "ldr r4, [sp, #52]\n\t"                                                                       \
    "cmp r4, #0\n\t"                                                                              \
    "beq 7f\n\t"                                                                                  \
    "sub r10, r10, r4\n\t"                                                                        \
    "ldr r4, [sp, #56]\n\t"                                                                       \
    "sub r12, r12, r4\n\t" tail                                                                   \
    "add r10, r10, #" step "\n\t"                                                                 \
    "b 3f\n\t"                                                                                    \
    "7:\n\t"                                                                                      \
    "ldr r4, [sp, #72]\n\t"                                                                       \
    "cmp r4, #0\n\t"                                                                              \
    "beq 3f\n\t" TS_DW_SINGLE(clamp) "add r10, r10, #" step " / 4\n\t"                                   \
    "add r12, r12, lr\n\t"                                                                        \
    "3:\n\t"                                                                                      \
    "ldrd r4, r5, [sp, #60]\n\t"                                                                  \
    "add r10, r10, r4\n\t"                                                                        \
    "add r12, r12, r5\n\t"                                                                        \
    "ldr r4, [sp, #68]\n\t"                                                                       \
    "subs r4, r4, #1\n\t"                                                                         \
    "str r4, [sp, #68]\n\t"                                                                       \
    "bne 2b\n\t"                                                                                  \
    "add sp, sp, #80\n\t"                                                                         \
    "pop {r7}\n\t"

/* the three plane words of a window row: LDM (word aligned), or three LDRs (any halfword; the
 * base, r4 or r10, read last) */
#define TS_DW_LDM(base) "ldm " base ", {r4, r5, r6}\n\t"
#define TS_DW_LDR3(base) "ldr r6, [" base ", #8]\n\t" "ldr r5, [" base ", #4]\n\t" "ldr r4, [" base "]\n\t"

/* Stride 1, one window row (taps at sp + woff) at r4 (or r10 for the top row), positions
 * j0..j5: out0 += (j0 j1).(w0 w1) + j2 w2, out2 += (j2 j3).(w0 w1) + j4 w2, out1 += j3 w2 +
 * (j2 j1) x (w0 w1) (SMLADX), out3 += j5 w2 + (j4 j3) x (w0 w1); accumulating onto i0..i3
 * (the bias, r3, in the top row). */
#define TS_DW_S1_ROW(load, base, woff, i0, i1, i2, i3) \
    load(base)                                      \
    "ldrd r8, r9, [sp, #" woff "]\n\t"              \
    "smlad r0, r4, r8, " i0 "\n\t"                  \
    "smlabb r0, r5, r9, r0\n\t"                     \
    "smlad r2, r5, r8, " i2 "\n\t"                  \
    "smlabb r2, r6, r9, r2\n\t"                     \
    "smlatb r1, r5, r9, " i1 "\n\t"                 \
    "smlatb r3, r6, r9, " i3 "\n\t"                 \
    "pkhbt r6, r6, r5\n\t"                          \
    "smladx r3, r6, r8, r3\n\t"                     \
    "pkhbt r5, r5, r4\n\t"                          \
    "smladx r1, r5, r8, r1\n\t"
#define TS_DW_S1_ROWS(load)                                                              \
    "ldr r3, [sp, #24]\n\t" TS_DW_S1_ROW(load, "r10", "0", "r3", "r3", "r3", "r3")        \
    "add r4, r10, r11\n\t" TS_DW_S1_ROW(load, "r4", "8", "r0", "r1", "r2", "r3")          \
    "add r4, r10, r11, lsl #1\n\t" TS_DW_S1_ROW(load, "r4", "16", "r0", "r1", "r2", "r3")

/* Stride 2, one window row, positions j0..j9 (r4-r6, then j6..j9 in r4 r5 from base + 12):
 * out_i += (j2i j2i+1).(w0 w1) + j2i+2 w2. `again` recomputes the row address. */
#define TS_DW_S2_ROW(base, again, woff, i0, i1, i2, i3) \
    "ldm " base ", {r4, r5, r6}\n\t"                    \
    "ldrd r8, r9, [sp, #" woff "]\n\t"                  \
    "smlad r0, r4, r8, " i0 "\n\t"                      \
    "smlabb r0, r5, r9, r0\n\t"                         \
    "smlad r1, r5, r8, " i1 "\n\t"                      \
    "smlabb r1, r6, r9, r1\n\t"                         \
    "smlad r2, r6, r8, " i2 "\n\t" again                \
    "ldrd r4, r5, [" base ", #12]\n\t"                  \
    "smlabb r2, r4, r9, r2\n\t"                         \
    "smlad r3, r4, r8, " i3 "\n\t"                      \
    "smlabb r3, r5, r9, r3\n\t"
#define TS_DW_S2_ROWS(load)                                                                                 \
    "ldr r3, [sp, #24]\n\t" TS_DW_S2_ROW("r10", "", "0", "r3", "r3", "r3", "r3")                           \
    "add r4, r10, r11\n\t" TS_DW_S2_ROW("r4", "add r4, r10, r11\n\t", "8", "r0", "r1", "r2", "r3")         \
    "add r4, r10, r11, lsl #1\n\t"                                                                        \
    TS_DW_S2_ROW("r4", "add r4, r10, r11, lsl #1\n\t", "16", "r0", "r1", "r2", "r3")

/* requantize accumulator `a` into r4 (multiplier r8, add r9, right r6; ts_rq_value), then clamp */
#define TS_DW_RQ(a, clamp) "smmlar r4, " a ", r8, r9\n\t" "add r4, r4, " a ", asr #31\n\t" "asr r4, r4, r6\n\t" clamp
#define TS_DW_SSAT "ssat r4, #8, r4\n\t"
#define TS_DW_CLAMP                                                                                \
    "ldr r5, [sp, #40]\n\t" "cmp r4, r5\n\t" "it lt\n\t" "movlt r4, r5\n\t"                        \
    "ldr r5, [sp, #44]\n\t" "cmp r4, r5\n\t" "it gt\n\t" "movgt r4, r5\n\t"
#define TS_DW_STORE4(clamp)                                                                        \
    "ldrd r8, r9, [sp, #28]\n\t" "ldr r6, [sp, #36]\n\t"                                           \
    TS_DW_RQ("r0", clamp) "strb r4, [r12]\n\t" TS_DW_RQ("r1", clamp) "strb r4, [r12, lr]\n\t"     \
    "add r12, r12, lr, lsl #1\n\t"                                                                 \
    TS_DW_RQ("r2", clamp) "strb r4, [r12]\n\t" TS_DW_RQ("r3", clamp) "strb r4, [r12, lr]\n\t"     \
    "add r12, r12, lr, lsl #1\n\t"

/* one line loop: `rows` (stride 1 or 2, stepping the plane by `step` bytes per group), `clamp`
 * (the last group of a line at stride 1 may start at an odd position: three LDRs) */
#define TS_DW_LINE_FN(name, rows, step, clamp)                                                           \
    static TS_NOINLINE void name(const dw_frame_t *f, const dw_run_t *run, const int16_t *plane, int32_t d, \
                                 int8_t *out, int32_t out_step)                                         \
    {                                                                                                   \
        register const dw_frame_t *r0 __asm__("r0") = f;                                                \
        register const dw_run_t *r1 __asm__("r1") = run;                                                \
        register const int16_t *r10 __asm__("r10") = plane;                                             \
        register int32_t r11 __asm__("r11") = d;                                                        \
        register int8_t *r12 __asm__("r12") = out;                                                      \
        register int32_t lr __asm__("lr") = out_step;                                                   \
        __asm__ volatile(TS_DW_PROLOGUE                                                                 \
                         TS_DW_LINES(rows(TS_DW_LDM) TS_DW_STORE4(clamp), rows(TS_DW_LDR3) TS_DW_STORE4(clamp), step, clamp)                     \
                         : "+r"(r0), "+r"(r1), "+r"(r10), "+r"(r12)                                     \
                         : "r"(r11), "r"(lr)                                                            \
                         : "r2", "r3", "r4", "r5", "r6", "r8", "r9", "cc", "memory");                   \
    }
TS_DW_LINE_FN(dw_line_s1_ssat, TS_DW_S1_ROWS, "8", TS_DW_SSAT)
TS_DW_LINE_FN(dw_line_s1_clamp, TS_DW_S1_ROWS, "8", TS_DW_CLAMP)
TS_DW_LINE_FN(dw_line_s2_ssat, TS_DW_S2_ROWS, "16", TS_DW_SSAT)
TS_DW_LINE_FN(dw_line_s2_clamp, TS_DW_S2_ROWS, "16", TS_DW_CLAMP)

typedef void (*dw_line_fn)(const dw_frame_t *, const dw_run_t *, const int16_t *, int32_t, int8_t *, int32_t);

/* Tap (y, x) of channel c, doubled: from the generator's rows (w0, w1, w2, 0), or with int8_dsp
 * from the int8 filter [3, 3, channels]. */
static int16_t dw_tap(const ts_depthwise_conv2d_params_t *p, const int8_t *filter, int32_t c, int32_t y, int32_t x)
{
    return p->int8_dsp ? (int16_t)(2 * filter[(3 * y + x) * p->input_c + c]) : p->filter_dsp[c * 12 + 4 * y + x];
}

/* The frames of channels c..c+3: their taps, transposed (a line's window rows are then the
 * filter's columns) when lines are image columns, and requantization (with int8_dsp derived from
 * the bias, multiplier and shift as aot_opt.py dsp_requant does). */
static void dw_frames(const ts_depthwise_conv2d_params_t *p, const int8_t *filter, const int32_t *bias,
                      int transposed, int32_t c, dw_frame_t *f)
{
    const ts_rq_t *rq = (const ts_rq_t *)(const void *)p->requant_dsp;
    for (int32_t k = 0; k < 4; ++k) {
        for (int32_t r = 0; r < 3; ++r) {
            const int16_t a = transposed ? dw_tap(p, filter, c + k, 0, r) : dw_tap(p, filter, c + k, r, 0);
            const int16_t b = transposed ? dw_tap(p, filter, c + k, 1, r) : dw_tap(p, filter, c + k, r, 1);
            const int16_t e = transposed ? dw_tap(p, filter, c + k, 2, r) : dw_tap(p, filter, c + k, r, 2);
            f[k].w[2 * r] = (uint16_t)a | ((uint32_t)(uint16_t)b << 16);
            f[k].w[2 * r + 1] = (uint16_t)e;
        }
        if (p->int8_dsp) {
            const int32_t right = -p->shift[c + k];
            f[k].rq = (ts_rq_t){bias != NULL ? 2 * bias[c + k] : 0, p->multiplier[c + k],
                                (1 << (right - 1)) + p->output_offset * (1 << right), right};
        } else {
            f[k].rq = rq[c + k];
        }
        f[k].lo = p->act_min;
        f[k].hi = p->act_max;
    }
}

/* One image of a 3x3 depthwise convolution by channel planes (file comment). */
static void dw3x3_planes(const ts_depthwise_conv2d_params_t *p, const int8_t *filter, const int32_t *bias,
                         const dw_geom_t *g, const int8_t *image, int8_t *out, void *work)
{
    const int32_t wp = dw_wp(g), budget = dw_band_rows(g), band = (budget - 3) / g->s_line + 1; /* output lines */
    const int one_band = g->lines_out <= band;
    const int32_t rows = one_band ? (g->lines_out - 1) * g->s_line + 3 : budget, plane = rows * wp;
    const int32_t full = g->len_out / 4, rem = g->len_out % 4;
    const int short_lines = full == 0;
    const uint32_t off2 = ts_dup16(p->input_offset);
    const uint32_t zp4 = 0x01010101u * (uint8_t)(int8_t)-p->input_offset; /* + offset = 0 */
    const int ssat = p->act_min == -128 && p->act_max == 127;
    const dw_line_fn line = g->s_pos == 1 ? (ssat ? dw_line_s1_ssat : dw_line_s1_clamp)
                                          : (ssat ? dw_line_s2_ssat : dw_line_s2_clamp);
    int16_t *planes = (int16_t *)work;
    int8_t *scratch = (int8_t *)work + TS_DW_PLANES_BYTES;
    dw_frame_t f[4];
    memset(planes, 0, (size_t)4 * plane * sizeof *planes); /* the padding columns, never written */
    for (int32_t c = 0; c < p->input_c; c += 4) {
        dw_frames(p, filter, bias, g->transposed, c, f);
        for (int32_t i0 = 0; i0 < g->lines_out; i0 += band) {
            const int32_t n_out = g->lines_out - i0 < band ? g->lines_out - i0 : band;
            const int32_t first = i0 * g->s_line - g->pad_line, n_in = (n_out - 1) * g->s_line + 3;
            for (int32_t r = 0; r < n_in; ++r) {
                const int32_t in = first + r;
                int16_t *row = planes + r * wp;
                if (in >= 0 && in < g->lines_in) {
                    dw_widen_line(image + (size_t)in * g->in_line + c, g, wp, off2, zp4, row, plane);
                    continue;
                }
                for (int32_t k = 0; k < 4 && !one_band; ++k) { /* a padding line (with one band, still clear) */
                    memset(row + k * plane, 0, (size_t)wp * sizeof *row);
                }
            }
            const int32_t plane_line = 2 * g->s_line * wp; /* plane bytes between output lines */
            for (int32_t k = 0; k < 4; ++k) {
                int8_t *o = out + (size_t)i0 * g->out_line + c + k;
                if (short_lines) { /* lines of 1-3 outputs: one group each, into the scratch */
                    const dw_run_t run = {1, 0, 0, plane_line - 8 * g->s_pos, 0, n_out, 0, 0};
                    line(&f[k], &run, planes + k * plane, 2 * wp, scratch, 1);
                    for (int32_t i = 0; i < n_out; ++i) {
                        for (int32_t j = 0; j < g->len_out; ++j) {
                            o[(size_t)i * g->out_line + (size_t)j * g->out_pos] = scratch[4 * i + j];
                        }
                    }
                    continue;
                }
                const int32_t overlap = rem > 1 ? 4 - rem : 0; /* one output left: a single, else overlapping */
                const dw_run_t run = {full, overlap * 2 * g->s_pos, overlap * g->out_pos,
                                      plane_line - 2 * g->s_pos * g->len_out, g->out_line - g->len_out * g->out_pos,
                                      n_out, rem == 1, 0};
                line(&f[k], &run, planes + k * plane, 2 * wp, o, g->out_pos);
            }
        }
    }
}

/* One image of a 3x3 depthwise convolution the lines do not cover: pixel by pixel, in C. */
static void dw3x3_pixels(const ts_depthwise_conv2d_params_t *p, const int8_t *image, int8_t *out)
{
    const ts_rq_t *rq = (const ts_rq_t *)(const void *)p->requant_dsp;
    const int32_t ch = p->input_c;
    for (int32_t oy = 0; oy < p->output_h; ++oy) {
        for (int32_t ox = 0; ox < p->output_w; ++ox, out += ch) {
            const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
            for (int32_t c = 0; c < ch; ++c) {
                const int16_t *t = p->filter_dsp + c * 12;
                int32_t acc = rq[c].bias2;
                for (int32_t fy = 0; fy < 3; ++fy) {
                    for (int32_t fx = 0; fx < 3; ++fx) {
                        const int32_t y = y0 + fy, x = x0 + fx;
                        if (y >= 0 && y < p->input_h && x >= 0 && x < p->input_w) {
                            acc += t[4 * fy + fx] * (image[((size_t)y * p->input_w + x) * ch + c] + p->input_offset);
                        }
                    }
                }
                out[c] = ts_rq_apply(acc, &rq[c], p->act_min, p->act_max);
            }
        }
    }
}

/* ---- other filter sizes: tap tables ---------------------------------------------------- */

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

/* The MACs of a pair of taps of a 3x3 filter laid out in pairs (aot_opt.py dsp_depthwise_pairs:
 * per channel, (w_t, w_t+1), at byte `o` of the quad's weights), input words in r4 (tap t) and
 * r5 (tap t + 1): the words' halves interleaved ([a0 a1 b0 b1], [a2 a3 b2 b3]) and widened
 * into each channel's pair of inputs, one SMLAD per channel (temporaries r8 r9 and rx). */
#define TS_DW_PAIR_ASM(o, rx)                            \
    "pkhbt r8, r4, r5, lsl #16\n\t"                      \
    "pkhtb r9, r5, r4, asr #16\n\t"                      \
    "sxtab16 r4, %[off], r8\n\t"                         \
    "sxtab16 r5, %[off], r8, ror #8\n\t"                 \
    "ldrd r8, " rx ", [%[w], #" o "]\n\t"                \
    "smlad %[a0], r4, r8, %[a0]\n\t"                     \
    "smlad %[a1], r5, " rx ", %[a1]\n\t"                 \
    "sxtab16 r4, %[off], r9\n\t"                         \
    "sxtab16 r5, %[off], r9, ror #8\n\t"                 \
    "ldrd r8, " rx ", [%[w], #" o " + 8]\n\t"            \
    "smlad %[a2], r4, r8, %[a2]\n\t"                     \
    "smlad %[a3], r5, " rx ", %[a3]\n\t"

/* the taps of a 3x3 window inside the image by rows (words at row, row + ch, row + 2 ch): pairs
 * (0 1) (2 3) (4 5) (6 7), then tap 8 alone; r7 (the Thumb frame pointer) saved inside */
#define TS_DW_INSIDE_ASM                                                                                  \
    "push {r7}\n\t"                                                                                       \
    "ldr r4, [%[row]]\n\t" "ldr r5, [%[row], %[ch]]\n\t" TS_DW_PAIR_ASM("0", "r7")                       \
    "ldr r4, [%[row], %[ch], lsl #1]\n\t" "add %[row], %[row], %[rs]\n\t" "ldr r5, [%[row]]\n\t"          \
    TS_DW_PAIR_ASM("16", "r7")                                                                            \
    "ldr r4, [%[row], %[ch]]\n\t" "ldr r5, [%[row], %[ch], lsl #1]\n\t" "add %[row], %[row], %[rs]\n\t"   \
    TS_DW_PAIR_ASM("32", "r7")                                                                            \
    "ldr r4, [%[row]]\n\t" "ldr r5, [%[row], %[ch]]\n\t" TS_DW_PAIR_ASM("48", "r7")                      \
    "ldr r4, [%[row], %[ch], lsl #1]\n\t" TS_DW_MAC_ASM(8)                                                \
    "pop {r7}\n\t"

/* taps t, t + 1 of a 3x3 filter through the tap table (temporary r6) */
#define TS_DW_TAP_PAIR_ASM(t, t1, o)                                                             \
    "ldr r4, [%[tab], #4 * " #t "]\n\t" "ldr r4, [r4, %[c]]\n\t"                                \
    "ldr r5, [%[tab], #4 * " #t1 "]\n\t" "ldr r5, [r5, %[c]]\n\t" TS_DW_PAIR_ASM(o, "r6")

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
        __asm__ volatile(TS_DW_INSIDE_ASM
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
    const int square3 = p->filter_h == 3 && p->filter_w == 3;
    for (int32_t c = 0; c < channels; c += 4, rq += 4, w += 2 * taps) {
        int32_t a0 = rq[0].bias2, a1 = rq[1].bias2, a2 = rq[2].bias2, a3 = rq[3].bias2;
        if (square3) { /* the pairs layout */
            register int32_t r0 __asm__("r0") = a0, r1 __asm__("r1") = a1, r2 __asm__("r2") = a2,
                                          r3 __asm__("r3") = a3;
            register const uint32_t *wr __asm__("r12") = w;
            register uint32_t off __asm__("lr") = off2;
            register const int8_t *const *tab __asm__("r10") = tap;
            register int32_t cc __asm__("r11") = c;
            __asm__ volatile(TS_DW_TAP_PAIR_ASM(0, 1, "0") TS_DW_TAP_PAIR_ASM(2, 3, "16")
                             TS_DW_TAP_PAIR_ASM(4, 5, "32") TS_DW_TAP_PAIR_ASM(6, 7, "48") TS_DW_TAP_ASM(8)
                             : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3)
                             : [tab] "r"(tab), [c] "r"(cc), [w] "r"(wr), [off] "r"(off)
                             : "r4", "r5", "r6", "r8", "r9", "memory");
            a0 = r0, a1 = r1, a2 = r2, a3 = r3;
        } else if (taps == 9) {
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

/* Whether the layer runs channel by channel (aot_opt.py dsp_depthwise_scalar states the same). */
static int dw_scalar(const ts_depthwise_conv2d_params_t *p)
{
    return p->depth_multiplier != 1 || p->output_c % 4 != 0;
}

/* All channels of one output pixel through its tap table, channel by channel (dw_scalar): output
 * channel o reads input channel o / depth_multiplier; the bias holds offset * sum(w). */
static void pixel_scalar(const ts_depthwise_conv2d_params_t *p, const int8_t *const *tap, int32_t taps, int8_t *out)
{
    const int16_t *w = p->filter_dsp;
    const ts_rq_t *rq = (const ts_rq_t *)(const void *)p->requant_dsp;
    for (int32_t c = 0, o = 0; c < p->input_c; ++c) {
        for (int32_t m = 0; m < p->depth_multiplier; ++m, ++o, w += taps) {
            int32_t acc = rq[o].bias2;
            for (int32_t t = 0; t < taps; ++t) {
                acc += w[t] * tap[t][c];
            }
            out[o] = ts_rq_apply(acc, &rq[o], p->act_min, p->act_max);
        }
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
        const int32_t y = y0 + fy * p->dilation_h;
        for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t) {
            const int32_t x = x0 + fx * p->dilation_w;
            const int inside = y >= 0 && y < p->input_h && x >= 0 && x < p->input_w;
            tap[t] = inside ? image + ((size_t)y * p->input_w + x) * p->input_c : pad;
        }
    }
}

/* Scratch: channel planes (TS_DW_PLANES_BYTES + TS_DW_LINES_BYTES; int16 or int8_dsp filter), or for the tap tables a row
 * of input zero points (C bytes), the taps' pointers and offsets (4 bytes each). */
int32_t ts_depthwise_conv2d_s8_scratch_size(const ts_depthwise_conv2d_params_t *params)
{
    const ts_depthwise_conv2d_params_t *p = params;
    if ((p->filter_dsp == NULL || p->requant_dsp == NULL) && !p->int8_dsp) {
        return 0;
    }
    return p->planes_dsp ? TS_DW_PLANES_BYTES + TS_DW_LINES_BYTES
                         : p->input_c + (4 + (int32_t)sizeof(const int8_t *)) * p->filter_h * p->filter_w;
}

int32_t ts_depthwise_conv2d_s8(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_depthwise_conv2d_params_t *p = params;
    if ((p->filter_dsp == NULL || p->requant_dsp == NULL) && !p->int8_dsp) {
        return ts_depthwise_conv2d_s8_portable(params, input, filter, bias, output, NULL);
    }
    if (scratch == NULL) { /* the int16 layout replaced the int8 filter: no portable fallback */
        return p->int8_dsp ? ts_depthwise_conv2d_s8_portable(params, input, filter, bias, output, NULL) : TS_ERR_ARG;
    }
    const int32_t ch = p->input_c;
    if (p->planes_dsp) {
        dw_geom_t g = {0}; /* set by dw_choose when it returns 1 */
        const int lines = dw_choose(p, &g);
        if (!lines && p->int8_dsp) { /* the pixel path reads the int16 layout */
            return ts_depthwise_conv2d_s8_portable(params, input, filter, bias, output, NULL);
        }
        for (int32_t b = 0; b < p->batches; ++b) {
            const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ch;
            int8_t *out = output + (size_t)b * p->output_h * p->output_w * ch;
            if (lines) {
                dw3x3_planes(p, filter, bias, &g, image, out, scratch);
            } else {
                dw3x3_pixels(p, image, out);
            }
        }
        return TS_OK;
    }
    const int32_t taps = p->filter_h * p->filter_w;
    const int scalar = dw_scalar(p);
    const int square3 = p->filter_h == 3 && p->filter_w == 3 && p->dilation_h == 1 && p->dilation_w == 1 &&
                        !scalar; /* windows inside the image read by rows */
    const int32_t oc = p->output_c;
    const int ssat = p->act_min == -128 && p->act_max == 127;
    int32_t *offset = (int32_t *)scratch;          /* [taps] tap offsets from the window's corner */
    const int8_t **tap = (const int8_t **)(offset + taps); /* [taps] */
    int8_t *pad = (int8_t *)(tap + taps);               /* [ch] input zero points: x + offset = 0 */
    for (int32_t fy = 0, t = 0; fy < p->filter_h; ++fy) {
        for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t) {
            offset[t] = (fy * p->dilation_h * p->input_w + fx * p->dilation_w) * ch;
        }
    }
    memset(pad, (int8_t)-p->input_offset, (size_t)ch);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ch;
        int8_t *out = output + (size_t)b * p->output_h * p->output_w * oc;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->output_w; ++ox, out += oc) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int inside = y0 >= 0 && y0 + (p->filter_h - 1) * p->dilation_h < p->input_h && x0 >= 0 &&
                                   x0 + (p->filter_w - 1) * p->dilation_w < p->input_w;
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
                if (scalar) {
                    pixel_scalar(p, tap, taps, out);
                } else {
                    (ssat ? pixel_table_ssat : pixel_table_clamp)(p, tap, taps, out);
                }
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
