/*
 * ts_conv2d_s8_mve.c - CONV_2D with Helium (MVE).
 *
 * Receptive fields of up to 64 bytes (the generator's filter_mve, toolchain/codegen/
 * aot_opt_mve.py): a run of output pixels is one asm loop. Per pixel the field is gathered
 * into q0..q3 (VLDRB gathers with 8-bit byte offsets) straight from the image - a 1x1
 * convolution reads the pixel, a window inside the image its taps - or, for windows over the
 * border, from a column filled with the input zero point (ts_im2col_zp_s8); a small image
 * (the generator's padded_h_mve/_w_mve) is first copied into a zero-point-padded plane on
 * the stack, where every window is inside. Then per quad of output channels: four rows of
 * VMLADAV(A) against the zero-padded filter (lanes beyond k multiply 0), the four sums into
 * one vector, requantized with the generator's table {init = bias + input_offset * sum(w),
 * multiplier, shift} and stored by one VSTRB.32. Fields of one to three chunks (k <= 48) go by
 * pairs of pixels sharing each weight and requantization load (output channels a multiple of 4).
 *
 * Wider fields (k a multiple of 16, output channels a multiple of 4; chunks_mve > 4): two
 * pixels per pass (ts_im2col_s8 or in place) share each weight load, eight accumulators, the
 * filter laid per quad of rows chunk by chunk.
 *
 * The generator emits filter_mve only when every shift is in [-31, -1]; then TFLM's
 * MultiplyByQuantizedMultiplier is VQRDMULH, minus 1 for negative accumulators, VRSHL
 * (ts_opt.h derives why [acc < 0] may stand for [VQRDMULH < 0]). Other layers: per pixel
 * ts_im2col_s8 and ts_mve_gemv_rq (ts_mve.h), with the generator's requantization table when
 * present. Grouped convolutions use the portable kernel.
 */
/* -O2 whatever the project level: the Helium asm has impossible register constraints at -O0 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_conv2d_s8.h"

#if TS_OPT_MVE
#include <stddef.h>
#include <string.h>
#include "ts_im2col.h"
#include "ts_mve.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_conv2d_s8_portable(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                              const int32_t *bias, int8_t *output, void *scratch);

/** What a run of pixels reads (the asm loads these fields by offset). */
typedef struct {
    const uint8_t *offs;  /**< [chunks * 16] byte offsets of the receptive field from a pixel's x */
    const int8_t *w;      /**< filter_mve */
    const int32_t *rq;    /**< requant_mve */
    int32_t quads;        /**< output channels / 4, rounded up */
    int32_t out_step;     /**< output_c - 4 * quads: back to the next pixel after the last quad */
    int32_t x_step;       /**< bytes from a pixel's x to the next one's */
    int32_t oc;           /**< output channels */
    int32_t lo[4], hi[4]; /**< the activation clamp */
    int32_t spill[2];     /**< three-chunk pairs: pixel b's sums of rows 0 and 2 */
    int32_t tail[8];      /**< three-chunk pairs: both pixels' third chunks (the asm writes them) */
} ts_conv_run_t;

_Static_assert(offsetof(ts_conv_run_t, rq) == offsetof(ts_conv_run_t, w) + 4 &&
                   offsetof(ts_conv_run_t, oc) == offsetof(ts_conv_run_t, x_step) + 4,
               "ts_conv_run_t pairs loaded by LDRD");

/* the receptive field into q0..q(n-1), r4 = offs */
#define TS_X1 "vldrb.u8 q7, [r4]\n\tvldrb.u8 q0, [%[x], q7]\n\t"
#define TS_X2 TS_X1 "vldrb.u8 q7, [r4, #16]\n\tvldrb.u8 q1, [%[x], q7]\n\t"
#define TS_X3 TS_X2 "vldrb.u8 q7, [r4, #32]\n\tvldrb.u8 q2, [%[x], q7]\n\t"
#define TS_X4 TS_X3 "vldrb.u8 q7, [r4, #48]\n\tvldrb.u8 q3, [%[x], q7]\n\t"
/* one filter row's dot product with the field into `acc` */
#define TS_R1(acc) "vldrb.8 q4, [%[w]], #16\n\tvmladav.s8 " acc ", q0, q4\n\t"
#define TS_R2(acc) TS_R1(acc) "vldrb.8 q6, [%[w]], #16\n\tvmladava.s8 " acc ", q1, q6\n\t"
#define TS_R3(acc) TS_R2(acc) "vldrb.8 q4, [%[w]], #16\n\tvmladava.s8 " acc ", q2, q4\n\t"
#define TS_R4(acc) TS_R3(acc) "vldrb.8 q6, [%[w]], #16\n\tvmladava.s8 " acc ", q3, q6\n\t"
/* the clamp: [-128, 127] by saturating shifts, or any range from the run's lo/hi */
#define TS_CLAMP_FULL "vqshl.s32 q5, q5, #24\n\tvshr.s32 q5, q5, #24\n\t"
#define TS_CLAMP_RANGE                    \
    "vldrw.32 q6, [%[j], %[o_lo]]\n\t"    \
    "vmax.s32 q5, q5, q6\n\t"             \
    "vldrw.32 q6, [%[j], %[o_hi]]\n\t"    \
    "vmin.s32 q5, q5, q6\n\t"

/*
 * n pixels: x, x + x_step, ...; outputs from out on, output_c bytes per pixel (the last quad
 * writes 4 bytes: up to 3 past the pixel, see ts_conv_pixels). The filter's quads hold rows
 * 0, 2, 1, 3: accumulators r4, r8, r6, r10 (VMLADAV takes even registers), quads counted by
 * the low-overhead loop in lr; VMOV Qd[2], Qd[0], Rt, Rt2 writes Rt to the lower lane.
 */
#define TS_CONV_RUN(name, X, R, CLAMP)                                                                        \
    static TS_NOINLINE void name(const ts_conv_run_t *j, const int8_t *x, int32_t n, int8_t *out, int32_t zp) \
    {                                                                                                         \
        const int8_t *w;                                                                                      \
        const int32_t *rq;                                                                                    \
        __asm__ volatile("1:\n\t"                                                                             \
                         "ldr r4, [%[j], %[o_offs]]\n\t" X "ldrd %[w], %[rq], [%[j], %[o_w]]\n\t"            \
                         "ldr r4, [%[j], %[o_quads]]\n\t"                                                     \
                         "dls lr, r4\n"                                                                       \
                         "2:\n\t" R("r4") R("r8") R("r6") R("r10")                                            \
                         "vmov q5[2], q5[0], r4, r8\n\t"                                                      \
                         "vmov q5[3], q5[1], r6, r10\n\t"                                                     \
                         "vldrw.32 q6, [%[rq]], #16\n\t" /* init */                                           \
                         "vadd.i32 q5, q5, q6\n\t"                                                            \
                         "vshr.s32 q7, q5, #31\n\t"                                                           \
                         "vldrw.32 q6, [%[rq]], #16\n\t" /* multiplier */                                     \
                         "vqrdmulh.s32 q5, q5, q6\n\t"                                                        \
                         "vadd.i32 q5, q5, q7\n\t"                                                            \
                         "vldrw.32 q6, [%[rq]], #16\n\t" /* shift, negative */                                \
                         "vrshl.s32 q5, q5, q6\n\t"                                                           \
                         "vadd.i32 q5, q5, %[zp]\n\t" CLAMP "vstrb.32 q5, [%[out]], #4\n\t"                   \
                         "le lr, 2b\n\t"                                                                      \
                         "ldr r4, [%[j], %[o_ostep]]\n\t"                                                     \
                         "add %[out], %[out], r4\n\t"                                                         \
                         "ldr r4, [%[j], %[o_xstep]]\n\t"                                                     \
                         "add %[x], %[x], r4\n\t"                                                             \
                         "subs %[n], %[n], #1\n\t"                                                            \
                         "bne 1b\n\t"                                                                         \
                         : [x] "+r"(x), [out] "+l"(out), [n] "+r"(n), [w] "=&r"(w), [rq] "=&r"(rq)            \
                         : [j] "r"(j), [zp] "r"(zp), [o_offs] "i"(offsetof(ts_conv_run_t, offs)),             \
                           [o_w] "i"(offsetof(ts_conv_run_t, w)), [o_rq] "i"(offsetof(ts_conv_run_t, rq)),    \
                           [o_quads] "i"(offsetof(ts_conv_run_t, quads)),                                     \
                           [o_ostep] "i"(offsetof(ts_conv_run_t, out_step)),                                  \
                           [o_xstep] "i"(offsetof(ts_conv_run_t, x_step)),                                    \
                           [o_lo] "i"(offsetof(ts_conv_run_t, lo)), [o_hi] "i"(offsetof(ts_conv_run_t, hi))   \
                         : "r4", "r6", "r8", "r10", "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7",    \
                           "cc", "memory");                                                                   \
    }

TS_CONV_RUN(ts_conv_run1, TS_X1, TS_R1, TS_CLAMP_FULL)
TS_CONV_RUN(ts_conv_run2, TS_X2, TS_R2, TS_CLAMP_FULL)
TS_CONV_RUN(ts_conv_run3, TS_X3, TS_R3, TS_CLAMP_FULL)
TS_CONV_RUN(ts_conv_run4, TS_X4, TS_R4, TS_CLAMP_FULL)
TS_CONV_RUN(ts_conv_run1_range, TS_X1, TS_R1, TS_CLAMP_RANGE)
TS_CONV_RUN(ts_conv_run2_range, TS_X2, TS_R2, TS_CLAMP_RANGE)
TS_CONV_RUN(ts_conv_run3_range, TS_X3, TS_R3, TS_CLAMP_RANGE)
TS_CONV_RUN(ts_conv_run4_range, TS_X4, TS_R4, TS_CLAMP_RANGE)

/* the pairs' clamp: pixel a in q5, pixel b in QB, QP free */
#define TS_CLAMP2_FULL(QB, QP)                                                               \
    "vqshl.s32 q5, q5, #24\n\tvshr.s32 q5, q5, #24\n\t"                                     \
    "vqshl.s32 " QB ", " QB ", #24\n\tvshr.s32 " QB ", " QB ", #24\n\t"
#define TS_CLAMP2_RANGE(QB, QP)                                                              \
    "vldrw.32 " QP ", [%[j], %[o_lo]]\n\tvmax.s32 q5, q5, " QP "\n\t"                       \
    "vmax.s32 " QB ", " QB ", " QP "\n\t"                                                    \
    "vldrw.32 " QP ", [%[j], %[o_hi]]\n\tvmin.s32 q5, q5, " QP "\n\t"                       \
    "vmin.s32 " QB ", " QB ", " QP "\n\t"
/* a pair's fields (r6 = x_step): one chunk a q0, b q1 (offsets pinned in q2 by TS_PRE1); two
 * chunks a q0, q1, b q2, q3 */
#define TS_PRE1 "ldr r4, [%[j], %[o_offs]]\n\tvldrb.u8 q2, [r4]\n"
#define TS_XP1 "vldrb.u8 q0, [%[x], q2]\n\tadd %[x], %[x], r6\n\tvldrb.u8 q1, [%[x], q2]\n\tadd %[x], %[x], r6\n\t"
#define TS_PRE2 ""
#define TS_XP2                                                                               \
    "ldr r4, [%[j], %[o_offs]]\n\tvldrb.u8 q7, [r4]\n\tvldrb.u8 q4, [r4, #16]\n\t"          \
    "vldrb.u8 q0, [%[x], q7]\n\tvldrb.u8 q1, [%[x], q4]\n\tadd %[x], %[x], r6\n\t"          \
    "vldrb.u8 q2, [%[x], q7]\n\tvldrb.u8 q3, [%[x], q4]\n\tadd %[x], %[x], r6\n\t"
/* three chunks a q0, q1, q2, b q3, q4, q7 (offsets in q6); the third chunks kept in the table too:
 * the requantization borrows q2 and q7, each quad's end (TS_END3) reloads them */
#define TS_PRE3 ""
#define TS_XP3_PIXEL(Q0, Q1, Q2)                                                             \
    "vldrb.u8 q6, [r4]\n\tvldrb.u8 " Q0 ", [%[x], q6]\n\t"                                  \
    "vldrb.u8 q6, [r4, #16]\n\tvldrb.u8 " Q1 ", [%[x], q6]\n\t"                             \
    "vldrb.u8 q6, [r4, #32]\n\tvldrb.u8 " Q2 ", [%[x], q6]\n\tadd %[x], %[x], r6\n\t"
#define TS_XP3                                                                               \
    "ldr r4, [%[j], %[o_offs]]\n\t" TS_XP3_PIXEL("q0", "q1", "q2") TS_XP3_PIXEL("q3", "q4", "q7") \
    "vstrw.32 q2, [%[j], %[o_tail]]\n\tvstrw.32 q7, [%[j], %[o_tailb]]\n\t"
#define TS_END3 "vldrw.32 q2, [%[j], %[o_tail]]\n\tvldrw.32 q7, [%[j], %[o_tailb]]\n\t"
/* pixel b's sums of rows 0, 2 (r6, r10) into QB's even lanes, of rows 1, 3 into its odd lanes;
 * three chunks: the even ones wait in the table (QB, q6, holds the weights meanwhile) */
#define TS_B_EVEN(QB) "vmov " QB "[2], " QB "[0], r6, r10\n\t"
#define TS_B_ODD(QB) "vmov " QB "[3], " QB "[1], r6, r10\n\t"
#define TS_B_EVEN3 "strd r6, r10, [%[j], %[o_spill]]\n\t"
#define TS_B_ODD3 TS_B_ODD("q6") "ldrd r6, r10, [%[j], %[o_spill]]\n\t" TS_B_EVEN("q6")
/* one filter row for both pixels of a pair (weights in q4; three chunks q6) */
#define TS_RP1(a, b) "vldrb.8 q4, [%[w]], #16\n\tvmladav.s8 " a ", q0, q4\n\tvmladav.s8 " b ", q1, q4\n\t"
#define TS_RP2(a, b)                                                                         \
    "vldrb.8 q4, [%[w]], #16\n\tvmladav.s8 " a ", q0, q4\n\tvmladav.s8 " b ", q2, q4\n\t"    \
    "vldrb.8 q4, [%[w]], #16\n\tvmladava.s8 " a ", q1, q4\n\tvmladava.s8 " b ", q3, q4\n\t"
#define TS_RP3(a, b)                                                                         \
    "vldrb.8 q6, [%[w]], #16\n\tvmladav.s8 " a ", q0, q6\n\tvmladav.s8 " b ", q3, q6\n\t"    \
    "vldrb.8 q6, [%[w]], #16\n\tvmladava.s8 " a ", q1, q6\n\tvmladava.s8 " b ", q4, q6\n\t"  \
    "vldrb.8 q6, [%[w]], #16\n\tvmladava.s8 " a ", q2, q6\n\tvmladava.s8 " b ", q7, q6\n\t"

/*
 * Fields of one to three chunks (k <= 48), n pairs of pixels: x, x + x_step form a pair; per
 * quad each weight row is loaded once for both (rows 0, 2 then 1, 3: four accumulators fill
 * both vectors' even lanes, then their odd lanes), and each requantization vector once.
 * Pixel a's sums in q5, b's in QB, parameters in QP, the sign in QT.
 */
#define TS_CONV_PAIRS(name, PRE, XP, RP, QB, QP, QT, CLAMP, B_EVEN, B_ODD, END)                                                        \
    static TS_NOINLINE void name(const ts_conv_run_t *j, const int8_t *x, int32_t n, int8_t *out, int32_t zp)   \
    {                                                                                                           \
        const int8_t *w;                                                                                        \
        const int32_t *rq;                                                                                      \
        int8_t *outb;                                                                                           \
        __asm__ volatile(PRE "1:\n\t"                                                                           \
                         "ldrd r6, r8, [%[j], %[o_xstep]]\n\t" XP /* x_step, oc */                               \
                         "add %[outb], %[out], r8\n\t"                                                          \
                         "ldrd %[w], %[rq], [%[j], %[o_w]]\n\t"                                                 \
                         "ldr r4, [%[j], %[o_quads]]\n\t"                                                       \
                         "dls lr, r4\n"                                                                         \
                         "2:\n\t" RP("r4", "r6") RP("r8", "r10")                                                \
                         "vmov q5[2], q5[0], r4, r8\n\t"                                                        \
                         B_EVEN RP("r4", "r6") RP("r8", "r10")                                                  \
                         "vmov q5[3], q5[1], r4, r8\n\t"                                                        \
                         B_ODD                                                                                  \
                         "vldrw.32 " QP ", [%[rq]], #16\n\t" /* init */                                         \
                         "vadd.i32 q5, q5, " QP "\n\t"                                                          \
                         "vadd.i32 " QB ", " QB ", " QP "\n\t"                                                  \
                         "vldrw.32 " QP ", [%[rq]], #16\n\t" /* multiplier */                                   \
                         "vshr.s32 " QT ", q5, #31\n\t"                                                         \
                         "vqrdmulh.s32 q5, q5, " QP "\n\t"                                                      \
                         "vadd.i32 q5, q5, " QT "\n\t"                                                          \
                         "vshr.s32 " QT ", " QB ", #31\n\t"                                                     \
                         "vqrdmulh.s32 " QB ", " QB ", " QP "\n\t"                                              \
                         "vadd.i32 " QB ", " QB ", " QT "\n\t"                                                  \
                         "vldrw.32 " QP ", [%[rq]], #16\n\t" /* shift, negative */                              \
                         "vrshl.s32 q5, q5, " QP "\n\t"                                                         \
                         "vrshl.s32 " QB ", " QB ", " QP "\n\t"                                                 \
                         "vadd.i32 q5, q5, %[zp]\n\t"                                                           \
                         "vadd.i32 " QB ", " QB ", %[zp]\n\t" CLAMP(QB, QP) "vstrb.32 q5, [%[out]], #4\n\t"     \
                         "vstrb.32 " QB ", [%[outb]], #4\n\t" END                                              \
                         "le lr, 2b\n\t"                                                                        \
                         "ldr r4, [%[j], %[o_ostep]]\n\t"                                                       \
                         "add %[out], %[outb], r4\n\t"                                                          \
                         "subs %[n], %[n], #1\n\t"                                                              \
                         "bne 1b\n\t"                                                                           \
                         : [x] "+r"(x), [out] "+l"(out), [n] "+r"(n), [w] "=&r"(w), [rq] "=&r"(rq),             \
                           [outb] "=&l"(outb)                                                                   \
                         : [j] "r"(j), [zp] "r"(zp), [o_offs] "i"(offsetof(ts_conv_run_t, offs)),               \
                           [o_w] "i"(offsetof(ts_conv_run_t, w)), [o_rq] "i"(offsetof(ts_conv_run_t, rq)),      \
                           [o_quads] "i"(offsetof(ts_conv_run_t, quads)),                                       \
                           [o_ostep] "i"(offsetof(ts_conv_run_t, out_step)),                                    \
                           [o_xstep] "i"(offsetof(ts_conv_run_t, x_step)),                                      \
                           [o_oc] "i"(offsetof(ts_conv_run_t, oc)), [o_lo] "i"(offsetof(ts_conv_run_t, lo)),    \
                           [o_hi] "i"(offsetof(ts_conv_run_t, hi)),                                             \
                           [o_spill] "i"(offsetof(ts_conv_run_t, spill)),                                       \
                           [o_tail] "i"(offsetof(ts_conv_run_t, tail)),                                         \
                           [o_tailb] "i"(offsetof(ts_conv_run_t, tail) + 16)                                    \
                         : "r4", "r6", "r8", "r10", "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "cc", \
                           "memory");                                                                           \
    }

#define TS_PAIRS(name, PRE, XP, RP, QB, QP, QT)                                                                  \
    TS_CONV_PAIRS(name, PRE, XP, RP, QB, QP, QT, TS_CLAMP2_FULL, TS_B_EVEN(QB), TS_B_ODD(QB), "")                \
    TS_CONV_PAIRS(name##_range, PRE, XP, RP, QB, QP, QT, TS_CLAMP2_RANGE, TS_B_EVEN(QB), TS_B_ODD(QB), "")
TS_PAIRS(ts_conv_pairs1, TS_PRE1, TS_XP1, TS_RP1, "q3", "q6", "q7")
TS_PAIRS(ts_conv_pairs2, TS_PRE2, TS_XP2, TS_RP2, "q6", "q7", "q4")
TS_CONV_PAIRS(ts_conv_pairs3, TS_PRE3, TS_XP3, TS_RP3, "q6", "q2", "q7", TS_CLAMP2_FULL, TS_B_EVEN3, TS_B_ODD3, TS_END3)
TS_CONV_PAIRS(ts_conv_pairs3_range, TS_PRE3, TS_XP3, TS_RP3, "q6", "q2", "q7", TS_CLAMP2_RANGE, TS_B_EVEN3, TS_B_ODD3,
              TS_END3)

typedef void (*ts_conv_run_fn)(const ts_conv_run_t *, const int8_t *, int32_t, int8_t *, int32_t);

/** A convolution's runs: the asm's table, the variants (pairs: NULL or for pairs of pixels), where the output ends. */
typedef struct {
    ts_conv_run_t j;
    ts_conv_run_fn run, pairs;
    int32_t oc, zp;
    const int8_t *end;
    int8_t *last; /**< scratch for the output's last pixel (its padded quad) */
} ts_conv_mve_t;

/* Scratch of the fields path (chunks_mve <= 4): a border pixel's column (64 bytes), the last
 * pixel's padded quad (output_c + 3 bytes, rounded up to 16), then the zero-point-padded image. */
#define TS_CONV_FIELD 64
#define TS_CONV_PLANE_AT(oc) (TS_CONV_FIELD + ((oc) + 3 + 15) / 16 * 16)

/** n >= 1 pixels (pairs of them where there is a pair variant) from x on into out. */
static void ts_conv_span(ts_conv_mve_t *c, const int8_t *x, int32_t n, int8_t *out)
{
    if (c->pairs != NULL && n >= 2) {
        c->pairs(&c->j, x, n / 2, out, c->zp);
        if (n % 2 == 0) {
            return;
        }
        x += (n - 1) * c->j.x_step;
        out += (size_t)(n - 1) * c->oc;
        n = 1;
    }
    c->run(&c->j, x, n, out, c->zp);
}

/** n >= 1 pixels from x on (x_step apart, receptive field at offs) into out. */
static void ts_conv_pixels(ts_conv_mve_t *c, const int8_t *x, int32_t n, const uint8_t *offs, int32_t x_step,
                           int8_t *out)
{
    c->j.offs = offs;
    c->j.x_step = x_step;
    if (c->j.out_step != 0 && out + (size_t)n * c->oc == c->end) {
        /* the output's last pixel: its padded quad goes to a scratch buffer */
        if (n > 1) {
            ts_conv_span(c, x, n - 1, out);
        }
        c->run(&c->j, x + (n - 1) * x_step, 1, c->last, c->zp);
        memcpy(out + (size_t)(n - 1) * c->oc, c->last, (size_t)c->oc);
        return;
    }
    ts_conv_span(c, x, n, out);
}

/** The image zero-point-padded (padded_h_mve x padded_w_mve): every window is inside, one run per output row. */
static void ts_conv2d_mve_padded(const ts_conv2d_params_t *p, ts_conv_mve_t *c, const int8_t *image, int8_t *out,
                                 int8_t *plane)
{
    const int32_t ic = p->input_c, wp = p->padded_w_mve, row = p->input_w * ic;
    const int32_t size = (p->padded_h_mve * wp * ic + 15) / 16 * 16;
    const int8x16_t zp = vdupq_n_s8((int8_t)-p->input_offset);
    for (int32_t i = 0; i < size; i += 16) {
        vstrbq_s8(plane + i, zp);
    }
    int8_t *dst = plane + ((size_t)p->pad_h * wp + p->pad_w) * ic;
    for (int32_t y = 0; y < p->input_h; ++y, dst += (size_t)wp * ic, image += row) {
        ts_copy_s8(dst, image, row);
    }
    const int32_t step = p->stride_h * wp * ic, oc_row = p->output_w * c->oc;
    const int8_t *x = plane;
    for (int32_t oy = 0; oy < p->output_h; ++oy, x += step, out += oc_row) {
        ts_conv_pixels(c, x, p->output_w, p->offsets_mve, p->stride_w * ic, out);
    }
}

/** Receptive fields in registers (filter_mve), see the top of this file. */
static void ts_conv2d_mve_fields(const ts_conv2d_params_t *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    static const ts_conv_run_fn runs[2][4] = {
        {ts_conv_run1, ts_conv_run2, ts_conv_run3, ts_conv_run4},
        {ts_conv_run1_range, ts_conv_run2_range, ts_conv_run3_range, ts_conv_run4_range},
    };
    const int32_t ic = p->input_c, oc = p->output_c, ow = p->output_w, oh = p->output_h;
    const int32_t sw = p->stride_w, span = p->chunks_mve * 16;
    ts_conv_mve_t c;
    c.j.w = p->filter_mve;
    c.j.rq = p->requant_mve;
    c.j.quads = (oc + 3) / 4;
    c.j.out_step = oc - 4 * c.j.quads;
    for (int32_t i = 0; i < 4; ++i) {
        c.j.lo[i] = p->act_min;
        c.j.hi[i] = p->act_max;
    }
    const int32_t range = !(p->act_min == -128 && p->act_max == 127);
    c.run = runs[range][p->chunks_mve - 1];
    /* pairs when quads fill the pixels (a padded quad of the first pixel would overwrite the second's) */
    static const ts_conv_run_fn pairs[2][3] = {{ts_conv_pairs1, ts_conv_pairs2, ts_conv_pairs3},
                                               {ts_conv_pairs1_range, ts_conv_pairs2_range, ts_conv_pairs3_range}};
    c.pairs = p->chunks_mve > 3 || oc % 4 != 0 ? NULL : pairs[range][p->chunks_mve - 1];
    c.j.oc = oc;
    c.oc = oc;
    c.zp = p->output_offset;
    c.end = output + (size_t)p->batches * oh * ow * oc;
    c.last = scratch + TS_CONV_FIELD;
    const uint8_t *window = p->offsets_mve, *column = p->offsets_mve + span;
    int8_t *col = scratch;
    /* output columns whose window is inside the image horizontally: [ox_lo, ox_hi) */
    const int32_t span_h = (p->filter_h - 1) * p->dilation_h + 1, span_w = (p->filter_w - 1) * p->dilation_w + 1;
    int32_t ox_lo = (p->pad_w + sw - 1) / sw;
    int32_t ox_hi = p->input_w - span_w + p->pad_w >= 0 ? (p->input_w - span_w + p->pad_w) / sw + 1 : 0;
    ox_lo = ox_lo < ow ? ox_lo : ow;
    ox_hi = ox_hi < ow ? ox_hi : ow;
    ox_hi = p->gather_mve && ox_hi > ox_lo ? ox_hi : ox_lo;
    const int32_t contiguous = p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && sw == 1 &&
                               p->pad_h == 0 && p->pad_w == 0 && oh == p->input_h && ow == p->input_w;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ic;
        int8_t *out = output + (size_t)b * oh * ow * oc;
        if (p->padded_w_mve > 0) {
            ts_conv2d_mve_padded(p, &c, image, out, scratch + TS_CONV_PLANE_AT(oc));
            continue;
        }
        if (contiguous && p->gather_mve) { /* a 1x1 convolution: one run over the image */
            ts_conv_pixels(&c, image, oh * ow, window, ic, out);
            continue;
        }
        for (int32_t oy = 0; oy < oh; ++oy, out += (size_t)ow * oc) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int32_t inside = y0 >= 0 && y0 + span_h <= p->input_h;
            const int32_t lo = inside ? ox_lo : ow, hi = inside ? ox_hi : ow;
            for (int32_t ox = 0; ox < ow; ++ox) {
                if (ox == lo && hi > lo) {
                    const int8_t *x = image + ((size_t)y0 * p->input_w + lo * sw - p->pad_w) * ic;
                    ts_conv_pixels(&c, x, hi - lo, window, sw * ic, out + (size_t)lo * oc);
                    ox = hi - 1;
                    continue;
                }
                ts_im2col_zp_s8(p, image, y0, ox * sw - p->pad_w, col, span);
                ts_conv_pixels(&c, col, 1, column, 0, out + (size_t)ox * oc);
            }
        }
    }
}

/** Two pixels of a wide convolution (the asm reads the fields by the offsets asserted below). */
typedef struct {
    const int8_t *xa, *xb; /**< 0, 4: the pixels' first window rows (in the image or a column) */
    const int8_t *w;       /**< 8: filter_mve, per quad of rows and 16-byte chunk: four rows' chunks */
    const int32_t *rq;     /**< 12: requant_mve, advanced by the asm */
    int8_t *outa, *outb;   /**< 16, 20: the pixels' outputs, advanced by the asm */
    int32_t rows;          /**< 24: window rows read (1 for a column) */
    int32_t quads;         /**< 28: output_c / 4 */
    int32_t zp;            /**< 32: output offset */
    int32_t passes;        /**< 36: loop passes per row (chunks per row / chunks per pass) */
    int32_t lo[4], hi[4];  /**< 40, 56: the activation clamp */
    int32_t skip_a;        /**< 72: pixel a's bytes from a row's end to the next row's start */
    int32_t skip_b;        /**< 76: pixel b's */
    int32_t left;          /**< 80: quads left (the asm's counter) */
    int32_t pairs;         /**< 84: pairs of pixels (>= 1): the next pair's x 2 * x_step on, outputs 2 * oc */
    int32_t x_step2;       /**< 88: twice the bytes from a pixel's window to the next one's */
    int32_t oc;            /**< 92: output channels */
    const int32_t *rq0;    /**< 96: requant_mve */
} ts_conv_wide_t;

_Static_assert(offsetof(ts_conv_wide_t, w) == 8 && offsetof(ts_conv_wide_t, rq) == 12 &&
                   offsetof(ts_conv_wide_t, outa) == 16 && offsetof(ts_conv_wide_t, rows) == 24 &&
                   offsetof(ts_conv_wide_t, quads) == 28 && offsetof(ts_conv_wide_t, zp) == 32 &&
                   offsetof(ts_conv_wide_t, passes) == 36 && offsetof(ts_conv_wide_t, lo) == 40 &&
                   offsetof(ts_conv_wide_t, hi) == 56 && offsetof(ts_conv_wide_t, skip_a) == 72 &&
                   offsetof(ts_conv_wide_t, skip_b) == 76 && offsetof(ts_conv_wide_t, left) == 80 &&
                   offsetof(ts_conv_wide_t, pairs) == 84 && offsetof(ts_conv_wide_t, x_step2) == 88 &&
                   offsetof(ts_conv_wide_t, oc) == 92 && offsetof(ts_conv_wide_t, rq0) == 96,
               "ts_conv_wide's offsets");

/* one 16-byte chunk of both pixels against four rows (op: vmladav starts the sums, vmladava adds) */
#define TS_WIDE_OP(op)                                                                       \
    "vldrb.8 q0, [r1], #16\n\t"                                                             \
    "vldrb.8 q1, [r3], #16\n\t"                                                             \
    "vldrb.8 q2, [r5], #16\n\t" op " r0, q0, q2\n\t" op " r8, q1, q2\n\t"                   \
    "vldrb.8 q3, [r5], #16\n\t" op " r2, q0, q3\n\t" op " r10, q1, q3\n\t"                  \
    "vldrb.8 q2, [r5], #16\n\t" op " r4, q0, q2\n\t" op " r12, q1, q2\n\t"                  \
    "vldrb.8 q3, [r5], #16\n\t" op " r6, q0, q3\n\t" op " lr, q1, q3\n\t"
#define TS_WIDE_CHUNK TS_WIDE_OP("vmladava.s8")
#define TS_WIDE_FIRST TS_WIDE_OP("vmladav.s8")
#define TS_WIDE_CLAMP_FULL                                                                   \
    "vqshl.s32 q0, q0, #24\n\tvshr.s32 q0, q0, #24\n\t"                                     \
    "vqshl.s32 q1, q1, #24\n\tvshr.s32 q1, q1, #24\n\t"
#define TS_WIDE_CLAMP_RANGE                                                                  \
    "vldrw.32 q2, [r11, #40]\n\tvmax.s32 q0, q0, q2\n\tvmax.s32 q1, q1, q2\n\t"             \
    "vldrw.32 q2, [r11, #56]\n\tvmin.s32 q0, q0, q2\n\tvmin.s32 q1, q1, q2\n\t"

/*
 * All quads of rows for two pixels: the accumulators (pixel a r0, r2, r4, r6, pixel b r8, r10,
 * r12, lr - VMLADAVA takes even registers) start at the quad's init; per window row ROW (per
 * chunk two x loads, four weight loads, eight VMLADAVA: a loop of `passes` passes, or unrolled),
 * then both x pointers skip to the next row; then both pixels' sums requantized with one load
 * of each parameter vector. Every core register is in use (quads counted in the struct): a
 * naked function saving its own (q4-q7, callee-saved, are not touched).
 */
#define TS_CONV_WIDE(name, START, ROWS, ADD_INIT, QUADS, NEXT_QUAD, CLAMP)                                                      \
    __attribute__((naked, noinline)) static void name(ts_conv_wide_t *j)                    \
    {                                                                                        \
        (void)j;                                                                             \
        __asm__ volatile("push {r4-r11, lr}\n\t"                                             \
                         "mov r11, r0\n"                                                     \
                         "0:\n\t"                                                            \
                         "ldr r5, [r11, #8]\n\t"                                             \
                         "ldr r9, [r11, #96]\n\t"                                            \
                         "str r9, [r11, #12]\n\t" QUADS "1:\n\t" START                     \
                         "ldrd r1, r3, [r11]\n\t" ROWS                                      \
                         "vmov q0[2], q0[0], r0, r4\n\t"                                     \
                         "vmov q0[3], q0[1], r2, r6\n\t"                                     \
                         "vmov q1[2], q1[0], r8, r12\n\t"                                    \
                         "vmov q1[3], q1[1], r10, lr\n\t"                                    \
                         "ldr r0, [r11, #12]\n\t" ADD_INIT                                  \
                         "vldrw.32 q2, [r0], #16\n\t" /* multiplier */                       \
                         "vshr.s32 q3, q0, #31\n\t"                                          \
                         "vqrdmulh.s32 q0, q0, q2\n\t"                                       \
                         "vadd.i32 q0, q0, q3\n\t"                                           \
                         "vshr.s32 q3, q1, #31\n\t"                                          \
                         "vqrdmulh.s32 q1, q1, q2\n\t"                                       \
                         "vadd.i32 q1, q1, q3\n\t"                                           \
                         "vldrw.32 q2, [r0], #16\n\t" /* shift, negative */                  \
                         "vrshl.s32 q0, q0, q2\n\t"                                          \
                         "vrshl.s32 q1, q1, q2\n\t"                                          \
                         "str r0, [r11, #12]\n\t"                                            \
                         "ldr r0, [r11, #32]\n\t"                                            \
                         "vadd.i32 q0, q0, r0\n\t"                                           \
                         "vadd.i32 q1, q1, r0\n\t" CLAMP "ldrd r0, r2, [r11, #16]\n\t"       \
                         "vstrb.32 q0, [r0], #4\n\t"                                         \
                         "vstrb.32 q1, [r2], #4\n\t"                                         \
                         "strd r0, r2, [r11, #16]\n\t" NEXT_QUAD                            \
                         "ldrd r0, r2, [r11]\n\t" /* the next pair */                        \
                         "ldr r9, [r11, #88]\n\t"                                            \
                         "add r0, r0, r9\n\t"                                                \
                         "add r2, r2, r9\n\t"                                                \
                         "strd r0, r2, [r11]\n\t"                                            \
                         "ldrd r0, r2, [r11, #16]\n\t"                                       \
                         "ldr r9, [r11, #92]\n\t"                                            \
                         "add r0, r0, r9\n\t"                                                \
                         "add r2, r2, r9\n\t"                                                \
                         "strd r0, r2, [r11, #16]\n\t"                                       \
                         "ldr r9, [r11, #84]\n\t"                                            \
                         "subs r9, r9, #1\n\t"                                               \
                         "str r9, [r11, #84]\n\t"                                            \
                         "bne 0b\n\t"                                                        \
                         "pop {r4-r11, pc}\n\t");                                            \
    }

#define TS_WIDE_THREE TS_WIDE_CHUNK TS_WIDE_CHUNK TS_WIDE_CHUNK
#define TS_WIDE_SIX TS_WIDE_THREE TS_WIDE_THREE
/* the accumulators start at the quad's init (START), or the first chunk starts them and the
 * requantization adds the init (ADD_INIT) */
#define TS_WIDE_LOAD_INIT                                                                    \
    "ldr r9, [r11, #12]\n\tldrd r0, r2, [r9]\n\tldrd r4, r6, [r9, #8]\n\t"                  \
    "ldrd r8, r10, [r9]\n\tldrd r12, lr, [r9, #8]\n\t"
#define TS_WIDE_ADD_INIT "vldrw.32 q2, [r0], #16\n\tvadd.i32 q0, q0, q2\n\tvadd.i32 q1, q1, q2\n\t"
/* both x pointers to the next window row */
#define TS_WIDE_SKIP "ldr r9, [r11, #72]\n\tadd r1, r1, r9\n\tldr r9, [r11, #76]\n\tadd r3, r3, r9\n\t"
#define TS_WIDE_LOOP(PASS) "3:\n\t" PASS "subs r9, r9, #1\n\tbne 3b\n\t"
#define TS_WIDE_QUADS_MEM "ldr r7, [r11, #28]\n\tstr r7, [r11, #80]\n"
#define TS_WIDE_NEXT_MEM "ldr r7, [r11, #80]\n\tsubs r7, r7, #1\n\tstr r7, [r11, #80]\n\tbne 1b\n\t"
#define TS_WIDE_QUADS_REG "ldr r7, [r11, #28]\n"
#define TS_WIDE_NEXT_REG "subs r7, r7, #1\n\tbne 1b\n\t"
/* any rows (r7) of `passes` passes (r9) of PASS: quads counted in the struct */
#define TS_WIDE_ANY(name, PASS, CLAMP)                                                                     \
    TS_CONV_WIDE(name, TS_WIDE_LOAD_INIT,                                                                  \
                 "ldr r7, [r11, #24]\n2:\n\tldr r9, [r11, #36]\n\t" TS_WIDE_LOOP(PASS) TS_WIDE_SKIP         \
                 "subs r7, r7, #1\n\tbne 2b\n\t",                                                          \
                 "add r0, r0, #16\n\t", TS_WIDE_QUADS_MEM, TS_WIDE_NEXT_MEM, CLAMP)
/* one row: FIRST, then `passes` passes of PASS (>= 1) */
#define TS_WIDE_ONE_ROW(name, FIRST, PASS, CLAMP)                                                          \
    TS_CONV_WIDE(name, "", FIRST "ldr r9, [r11, #36]\n\t" TS_WIDE_LOOP(PASS), TS_WIDE_ADD_INIT,              \
                 TS_WIDE_QUADS_REG, TS_WIDE_NEXT_REG, CLAMP)
/* three rows of ROW unrolled, the first chunk FIRST */
#define TS_WIDE_3ROWS(name, REST, CLAMP)                                                                   \
    TS_CONV_WIDE(name, "", TS_WIDE_FIRST REST TS_WIDE_SKIP TS_WIDE_CHUNK REST TS_WIDE_SKIP TS_WIDE_CHUNK REST, \
                 TS_WIDE_ADD_INIT, TS_WIDE_QUADS_REG, TS_WIDE_NEXT_REG, CLAMP)
#define TS_WIDE_VARIANTS(V, name, ...)                                                                      \
    V(name, __VA_ARGS__, TS_WIDE_CLAMP_FULL)                                                                 \
    V(name##_range, __VA_ARGS__, TS_WIDE_CLAMP_RANGE)
/* the clamp from lo/hi serves [-128, 127] too: the saturating one only for the 3x3 variants (flash) */
TS_WIDE_ANY(ts_conv_wide, TS_WIDE_CHUNK, TS_WIDE_CLAMP_RANGE)
TS_WIDE_ANY(ts_conv_wide3, TS_WIDE_THREE, TS_WIDE_CLAMP_RANGE)
TS_WIDE_ONE_ROW(ts_conv_row1, TS_WIDE_FIRST, TS_WIDE_CHUNK, TS_WIDE_CLAMP_RANGE)
TS_WIDE_ONE_ROW(ts_conv_row2, TS_WIDE_FIRST TS_WIDE_CHUNK, TS_WIDE_CHUNK TS_WIDE_CHUNK, TS_WIDE_CLAMP_RANGE)
TS_WIDE_ONE_ROW(ts_conv_row3, TS_WIDE_FIRST TS_WIDE_CHUNK TS_WIDE_CHUNK, TS_WIDE_THREE, TS_WIDE_CLAMP_RANGE)
TS_WIDE_ONE_ROW(ts_conv_row4, TS_WIDE_FIRST TS_WIDE_THREE, TS_WIDE_CHUNK TS_WIDE_THREE, TS_WIDE_CLAMP_RANGE)
/* one row of eight chunks (k = 128, a common pointwise depth) unrolled */
TS_CONV_WIDE(ts_conv_row8, "", TS_WIDE_FIRST TS_WIDE_SIX TS_WIDE_CHUNK, TS_WIDE_ADD_INIT, TS_WIDE_QUADS_REG,
             TS_WIDE_NEXT_REG, TS_WIDE_CLAMP_RANGE)
TS_WIDE_VARIANTS(TS_WIDE_3ROWS, ts_conv_rows3x3, TS_WIDE_CHUNK TS_WIDE_CHUNK)
TS_WIDE_VARIANTS(TS_WIDE_3ROWS, ts_conv_rows3x6, TS_WIDE_CHUNK TS_WIDE_CHUNK TS_WIDE_CHUNK TS_WIDE_CHUNK TS_WIDE_CHUNK)

typedef void (*ts_conv_wide_fn)(ts_conv_wide_t *);

/** The variant for `rows` of `chunks` (three rows of 3 or 6 unrolled; one row of 8 unrolled, else
 * peeled and looped by 3, 4, 2 or 1 chunks; else looped by 3 or 1) and the loop passes it makes per row. */
static ts_conv_wide_fn ts_conv_wide_pick(int32_t rows, int32_t chunks, int32_t range, int32_t *passes)
{
    static const ts_conv_wide_fn rows3[2][2] = {{ts_conv_rows3x3, ts_conv_rows3x3_range},
                                                {ts_conv_rows3x6, ts_conv_rows3x6_range}};
    static const ts_conv_wide_fn one_row[5] = {NULL, ts_conv_row1, ts_conv_row2, ts_conv_row3, ts_conv_row4};
    if (rows == 3 && (chunks == 3 || chunks == 6)) {
        *passes = 0;
        return rows3[chunks / 6][range];
    }
    if (rows == 1 && chunks == 8) {
        *passes = 0;
        return ts_conv_row8;
    }
    if (rows == 1) { /* chunks > 4: at least one pass after the peeled one */
        const int32_t by = chunks % 3 == 0 ? 3 : chunks % 4 == 0 ? 4 : chunks % 2 == 0 ? 2 : 1;
        *passes = chunks / by - 1;
        return one_row[by];
    }
    const int32_t by = chunks % 3 == 0 ? 3 : 1;
    *passes = chunks / by;
    return by == 3 ? ts_conv_wide3 : ts_conv_wide;
}

/** The wide driver's walk over the output pixels, and what it knows of the layer. */
typedef struct {
    int32_t rows_fit;     /**< a window row is whole chunks (dilation_w 1): row by row */
    int32_t ox_lo, ox_hi; /**< output columns whose window is inside the image horizontally */
    int32_t skip;         /**< in place: bytes from a window row's end to the next row's start */
    int32_t oy, ox;       /**< the next pixel */
    int32_t row_in;       /**< its window rows are inside the image */
    ptrdiff_t at;         /**< its window's first tap from the image's start (in place only) */
} ts_conv_walk_t;

/** The walk to (oy, 0). */
static void ts_conv_walk_row(const ts_conv2d_params_t *p, ts_conv_walk_t *w, int32_t oy)
{
    const int32_t y0 = oy * p->stride_h - p->pad_h;
    w->oy = oy;
    w->ox = 0;
    w->row_in = y0 >= 0 && y0 + (p->filter_h - 1) * p->dilation_h < p->input_h;
    w->at = ((ptrdiff_t)y0 * p->input_w - p->pad_w) * p->input_c;
}

/** Where the wide kernel reads the walk's pixel, then the walk to the next: in place when its window
 * is inside the image and rows_fit, else a column in col (the zero point outside). */
TS_ALWAYS_INLINE const int8_t *ts_conv_walk_next(const ts_conv2d_params_t *p, ts_conv_walk_t *w,
                                                 const int8_t *image, int8_t *col, int32_t *skip)
{
    const int8_t *x = col;
    *skip = 0;
    if (w->row_in && w->ox >= w->ox_lo && w->ox < w->ox_hi) {
        *skip = w->skip;
        x = image + w->at;
    } else if (!w->rows_fit) {
        x = ts_im2col_s8(p, image, w->oy * p->output_w + w->ox, col);
    } else {
        ts_im2col_zp_s8(p, image, w->oy * p->stride_h - p->pad_h, w->ox * p->stride_w - p->pad_w, col,
                        p->chunks_mve * 16);
    }
    w->at += p->stride_w * p->input_c;
    if (++w->ox == p->output_w) {
        ts_conv_walk_row(p, w, w->oy + 1);
    }
    return x;
}

/**
 * Receptive fields wider than 64 bytes (chunks_mve > 4): two pixels per ts_conv_wide. When a window
 * row is whole chunks (dilation_w 1), the kernel goes row by row: windows inside the image in
 * place, the others from a zero-point column (its rows follow each other); else from columns.
 */
static void ts_conv2d_mve_wide(const ts_conv2d_params_t *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const int32_t ic = p->input_c, oc = p->output_c, k = p->chunks_mve * 16;
    const int32_t pixels = p->output_h * p->output_w, row = p->filter_w * ic, step = p->stride_w * ic;
    const int32_t range = !(p->act_min == -128 && p->act_max == 127);
    ts_conv_walk_t w;
    w.rows_fit = p->dilation_w == 1 && row % 16 == 0;
    w.skip = (p->dilation_h * p->input_w - p->filter_w) * ic;
    w.ox_lo = (p->pad_w + p->stride_w - 1) / p->stride_w;
    w.ox_hi = p->input_w - p->filter_w + p->pad_w >= 0 ? (p->input_w - p->filter_w + p->pad_w) / p->stride_w + 1 : 0;
    w.ox_hi = !w.rows_fit ? 0 : w.ox_hi < p->output_w ? w.ox_hi : p->output_w;
    ts_conv_wide_t j;
    j.rows = w.rows_fit ? p->filter_h : 1;
    const ts_conv_wide_fn wide = ts_conv_wide_pick(j.rows, w.rows_fit ? row / 16 : p->chunks_mve, range, &j.passes);
    j.w = p->filter_mve;
    j.zp = p->output_offset;
    j.quads = oc / 4;
    j.rq0 = p->requant_mve;
    j.oc = oc;
    j.x_step2 = 2 * step;
    for (int32_t i = 0; i < 4; ++i) {
        j.lo[i] = p->act_min;
        j.hi[i] = p->act_max;
    }
    int8_t *cola = scratch, *colb = scratch + k, *last = scratch + 2 * k;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ic;
        int8_t *out = output + (size_t)b * pixels * oc;
        ts_conv_walk_row(p, &w, 0);
        for (int32_t px = 0, n = 1; px < pixels; px += 2 * n, out += 2 * n * oc) {
            j.outa = out;
            n = 1;
            if (w.row_in && w.ox >= w.ox_lo && w.ox + 1 < w.ox_hi) { /* pairs in place up to ox_hi */
                n = (w.ox_hi - w.ox) / 2;
                j.pairs = n;
                j.xa = image + w.at;
                j.xb = j.xa + step;
                j.skip_a = j.skip_b = w.skip;
                j.outb = out + oc;
                w.ox += 2 * n;
                w.at += 2 * n * step;
                if (w.ox == p->output_w) {
                    ts_conv_walk_row(p, &w, w.oy + 1);
                }
                wide(&j);
                continue;
            }
            j.pairs = 1;
            j.xa = ts_conv_walk_next(p, &w, image, cola, &j.skip_a);
            j.xb = j.xa;
            j.skip_b = j.skip_a;
            j.outb = last; /* the last pixel of an odd count: b repeats a into scratch */
            if (px + 1 < pixels) {
                j.xb = ts_conv_walk_next(p, &w, image, colb, &j.skip_b);
                j.outb = out + oc;
            }
            wide(&j);
        }
    }
}

/* Scratch: the fields path's (TS_CONV_PLANE_AT), the wide path's two columns and last pixel, or the
 * column of other layers and the requantization table when the generator gave none. */
int32_t ts_conv2d_s8_scratch_size(const ts_conv2d_params_t *params)
{
    const ts_conv2d_params_t *p = params;
    const int32_t oc = p->output_c, k = p->filter_h * p->filter_w * p->input_c;
    if (p->filter_mve != NULL && p->chunks_mve <= 4) {
        const int32_t padded = p->padded_w_mve > 0 ? p->padded_h_mve * p->padded_w_mve * p->input_c : 0;
        return TS_CONV_PLANE_AT(oc) + (padded + 15) / 16 * 16;
    }
    if (p->filter_mve != NULL) {
        return 2 * p->chunks_mve * 16 + oc;
    }
    if (p->filter_c != p->input_c) {
        return 0;
    }
    return (k + 15) / 16 * 16 + (p->requant_mve != NULL ? 0 : (oc + 3) / 4 * 64);
}

int32_t ts_conv2d_s8(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, int8_t *output, void *scratch)
{
    if (params == NULL || input == NULL || output == NULL || params->filter_c <= 0 ||
        (filter == NULL && params->filter_mve == NULL)) {
        return TS_ERR_ARG;
    }
    const ts_conv2d_params_t *p = params;
    if (scratch == NULL && p->filter_mve == NULL && p->requant_mve == NULL) { /* the lowering as is */
        return ts_conv2d_s8_portable(params, input, filter, bias, output, NULL);
    }
    if (scratch == NULL) { /* the generator's tables replace the filter or bias: no portable fallback */
        return TS_ERR_ARG;
    }
    if (p->filter_mve != NULL) {
        if (p->chunks_mve <= 4) {
            ts_conv2d_mve_fields(p, input, output, scratch);
        } else {
            ts_conv2d_mve_wide(p, input, output, scratch);
        }
        return TS_OK;
    }
    if (p->filter_c != p->input_c) {
        return ts_conv2d_s8_portable(params, input, filter, bias, output, NULL);
    }
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    const int32_t oc = p->output_c;
    const int32_t pixels = p->output_h * p->output_w;
    const ts_mve_out_t o = {p->output_offset, p->act_min, p->act_max};
    int8_t *col = scratch;
    const int32_t *rq = p->requant_mve;
    if (rq == NULL) {
        int32_t *table = (int32_t *)(void *)(col + (k + 15) / 16 * 16);
        ts_mve_rq_table(filter, k, oc, bias, p->input_offset, p->multiplier, p->shift, 1, table);
        rq = table;
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * p->input_c;
        int8_t *out = output + (size_t)b * pixels * oc;
        for (int32_t px = 0; px < pixels; ++px, out += oc) {
            ts_mve_gemv_rq(filter, k, ts_im2col_s8(p, image, px, col), oc, rq, &o, out);
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_MVE */
