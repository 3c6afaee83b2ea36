/*
 * ts_depthwise_conv2d_s8_mve.c - DEPTHWISE_CONV_2D with Helium (MVE).
 *
 * Plane path (depth multiplier 1, at most 16 taps, generation-time tables filter_mve and
 * requant_mve, see toolchain/codegen/aot_opt_mve_dw.py): the output is cut into bands of
 * rows; per band and channel, the channel's input rows are copied (gather at stride C,
 * scatter by a table of plane offsets) into a plane padded with the input zero point, so
 * that every window is the same sixteen byte offsets from its corner (taps past the last
 * have weight 0). Or, as the generator chose (plane_k), K channels share a plane, interleaved
 * (channel k of a pixel at byte k), filled row by row by sixteen-byte gathers and contiguous
 * stores; the next channel's taps are then the offsets plus 1. Per output
 * pixel one gather of the window (VLDRB.U8 [corner, offsets]) and one VMLADAV.S8 against the
 * channel's taps give sum(w * x); four pixels' sums share one vector for the init
 * (bias + input offset * sum(w): padding reads the zero point, whose term is 0),
 * requantization with the channel's multiplier and shift as scalars, clamp and a scatter
 * store. A table gives each group of four pixels' corners and output address (one LDM).
 * Where two horizontally adjacent windows fit in sixteen lanes (3x3, strides 1 and 2) and the
 * output width is even, or two vertically adjacent ones of a one-pixel-wide output (1-D
 * windows of up to 15 taps), one gather serves a pair of pixels, summed against each window's
 * weights placed in the union's lanes. The channel loop of a band is one asm block.
 *
 * Otherwise, sixteen channels per pass over each pixel (by_pixels): a table of byte offsets
 * from a base points each tap at its input pixel or at a row of input zero points outside the
 * image (windows inside the image share one table from their corner), the input offset folded
 * into the accumulators' start; the last channels eight at a time, tail-predicated and
 * gathered (VLDRB.S16 [base, offsets]: with a depth multiplier above 1 every channel this way,
 * output channel o reading input channel o / multiplier), on the generated filter_px and
 * requant_px (weights per channel group and tap; per eight channels the accumulators' start,
 * multipliers and shifts).
 */
/* -O2 whatever the project level: the Helium asm has impossible register constraints at -O0 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_depthwise_conv2d_s8.h"

#if TS_OPT_MVE
#include <stddef.h>
#include <string.h>
#include "ts_mve.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_depthwise_conv2d_s8_portable(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                                        const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

/* Requantize and store the channels of `pred` among eight (even/odd lanes re-interleaved by VMOVNB/VMOVNT). */
TS_ALWAYS_INLINE void store8(const ts_depthwise_conv2d_params_t *p, int32x4_t even, int32x4_t odd, const int32_t *g,
                             mve_pred16_t pred, int8_t *out)
{
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    even = ts_mve_requant_lr(even, vldrwq_s32(g + 8), vldrwq_s32(g + 16), vldrwq_s32(g + 24));
    odd = ts_mve_requant_lr(odd, vldrwq_s32(g + 12), vldrwq_s32(g + 20), vldrwq_s32(g + 28));
    even = vminq_s32(vmaxq_s32(vaddq_n_s32(even, p->output_offset), lo), hi);
    odd = vminq_s32(vmaxq_s32(vaddq_n_s32(odd, p->output_offset), lo), hi);
    vstrbq_p_s16(out, vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), even), odd), pred);
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
 * [channels / 8][init 8, multiplier 8, left shift 8, right shift 8], even channels first (filter_px, requant_px).
 */
static void pixel(const ts_depthwise_conv2d_params_t *p, const int8_t *base, const int32_t *tap, int32_t taps,
                  const int8_t *w, const int32_t *rq, const uint16_t *source, int8_t *out)
{
    const int32_t ch = p->output_c;
    int32_t c = 0;
    for (; p->depth_multiplier == 1 && c + 16 <= ch; c += 16, w += taps * 16, rq += 64) {
        taps16(tap, taps, base + c, w, rq, p, out + c);
    }
    for (; c < ch; c += 8, rq += 32) { /* the last channels (all with a multiplier), eight at a time, gathered */
        const mve_pred16_t pred = vctp16q((uint32_t)(ch - c));
        const uint16x8_t from = vldrhq_u16(source + c);
        int32x4_t even = vldrwq_s32(rq), odd = vldrwq_s32(rq + 4);
        for (int32_t t = 0; t < taps; ++t, w += 8) {
            const int16x8_t x = vldrbq_gather_offset_z_s16(base + tap[t], from, pred), k = vldrbq_s16(w);
            even = vaddq_s32(even, vmullbq_int_s16(x, k));
            odd = vaddq_s32(odd, vmulltq_int_s16(x, k));
        }
        store8(p, even, odd, rq, pred, out + c);
    }
}

/* Channels of the sixteen-channel path's layouts: ch rounded up to a multiple of 8. */
static int32_t pixel_channels(int32_t ch)
{
    return (ch + 7) / 8 * 8;
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

/* ---- The plane path: one channel at a time, four output pixels per vector ---- */

/* Stack budget of the plane path, under 3 KB (boards with little RAM get 4 KB stacks); larger
 * bands are a little faster (person_detect's depthwise layers -2% with 128 and 1024). Keep
 * toolchain/codegen/aot_opt_mve_dw.py's GROUPS and PLANE equal (its plane_k estimate). */
#ifndef TS_MVE_DW_GROUPS
#define TS_MVE_DW_GROUPS 48 /* groups of four output pixels per band (their table is in the scratch) */
#endif
#ifndef TS_MVE_DW_PLANE
#define TS_MVE_DW_PLANE 512 /* bytes of a band's plane (the input rows it reads, padded) */
#endif

/* A band's state as the channel loop (channels()) reads it: 16-byte aligned, this order. */
typedef struct {
    uint8_t tap[16];     /* +0  the taps' byte offsets in the plane from the window's corner, 0 past the last */
    int32_t out[4];      /* +16 the lanes' output byte offsets from a group's first pixel (band included) */
    int32_t lo[4];       /* +32 the clamp */
    int32_t hi[4];       /* +48 */
    union {
        uint16_t h[8];   /* +64 0, C, .., 7C: eight pixels of a channel (dst table) */
        uint8_t b[16];   /* by rows: x * C + k, K channels of 16 / K pixels */
    } stride;
    uint8_t perm_a[16];  /* +80 the lanes of a filter_mve row making the (first) window's weights */
    uint8_t perm_b[16];  /* +96 pairs: those of the second window's (a lane of zeros where none) */
    const int8_t *w;     /* +112 the channel's taps (filter_mve), zeros past the last */
    const int32_t *rq;   /* +116 the channel's requant_mve: init, multiplier, shift, output offset */
    const int8_t *src;   /* +120 the channel's byte of the band's first input pixel */
    const uint16_t *dst; /* +124 the input pixels' offsets in the plane */
    int32_t pixels;      /* +128 the number of input pixels */
    int8_t *plane;       /* +132 */
    int32_t step;        /* +136 8 * C (dst table), 16 / K * C (by rows) */
    const uint32_t *tab; /* +140 per group of four output pixels: their corners and first output address */
    int32_t groups;      /* +144 */
    int32_t channels;    /* +148 channels left */
    int32_t pairs;       /* +152 1: one gather per two horizontally adjacent pixels (TS_DW_PAIRS) */
    int32_t rows_in;     /* +156 the band's input rows copied by rows (contiguous stores), or 0: by dst */
    int8_t *row0;        /* +160 by rows: the first input row's place in the plane */
    int32_t width;       /* +164 by rows: an input row's bytes in the plane (W * K) */
    int32_t row_step;    /* +168 by rows: W * C */
    int32_t wp;          /* +172 by rows: the plane's row length in bytes */
    int32_t kmask;       /* +176 K - 1: K channels interleaved in the plane (by rows; K = 1 by dst) */
    int32_t kk;          /* +180 K */
} ts_dw_band_t;

/* the offsets the asm reads (C99: an array of negative size where one is off) */
typedef char ts_dw_band_offsets_checked[(offsetof(ts_dw_band_t, perm_a) == 80 && offsetof(ts_dw_band_t, w) == 112 &&
                                         offsetof(ts_dw_band_t, tab) == 140 && offsetof(ts_dw_band_t, kk) == 180)
                                            ? 1
                                            : -1];

/*
 * The pixel loop of one channel over `groups` groups of four output pixels (r12), tab in r10:
 * per group the four windows' corners in the plane and the first pixel's output address, one
 * LDM. Per pixel: gather the window's sixteen lanes (VLDRB.U8 [corner, taps]) and sum them
 * against the taps (VMLADAV.S8, even registers); the four sums go into q1 by two VMOVs (two
 * lanes each), then init (r5), requantization (multiplier r6, shift r8: REQ), output offset
 * (r9), clamp and a scatter store of the four bytes (VSTRB.32 [first, lanes]).
 */
#define TS_DW_PIXELS(REQ)                                                                                    \
    "dls lr, r12\n"                                                                                          \
    "1:\n\t"                                                                                                 \
    "ldmia r10!, {r0, r1, r2, r3, r4}\n\t"                                                                   \
    "vldrb.u8 q0, [r0, q3]\n\t"                                                                              \
    "vmladav.s8 r0, q0, q2\n\t"                                                                              \
    "vldrb.u8 q0, [r2, q3]\n\t"                                                                              \
    "vmladav.s8 r2, q0, q2\n\t"                                                                              \
    "vmov q1[2], q1[0], r0, r2\n\t"                                                                          \
    "vldrb.u8 q0, [r1, q3]\n\t"                                                                              \
    "vmladav.s8 r0, q0, q2\n\t"                                                                              \
    "vldrb.u8 q0, [r3, q3]\n\t"                                                                              \
    "vmladav.s8 r2, q0, q2\n\t"                                                                              \
    "vmov q1[3], q1[1], r0, r2\n\t"                                                                          \
    "vadd.i32 q1, q1, r5\n\t" REQ                                                                            \
    "le lr, 1b\n\t"

/*
 * TS_DW_PIXELS for pairs of horizontally adjacent pixels whose two windows fit in sixteen
 * lanes (3x3, strides 1 and 2): one gather of both windows, summed against the first window's
 * weights (q2) and the second's (q7), each placed in the union's lanes. tab has two corners
 * per group; the lanes are pixels 0, 2, 1, 3.
 */
#define TS_DW_PAIRS(REQ)                                                                                     \
    "dls lr, r12\n"                                                                                          \
    "1:\n\t"                                                                                                 \
    "ldmia r10!, {r1, r3, r4}\n\t"                                                                           \
    "vldrb.u8 q0, [r1, q3]\n\t"                                                                              \
    "vmladav.s8 r0, q0, q2\n\t"                                                                              \
    "vmladav.s8 r2, q0, q7\n\t"                                                                              \
    "vmov q1[2], q1[0], r0, r2\n\t"                                                                          \
    "vldrb.u8 q0, [r3, q3]\n\t"                                                                              \
    "vmladav.s8 r0, q0, q2\n\t"                                                                              \
    "vmladav.s8 r2, q0, q7\n\t"                                                                              \
    "vmov q1[3], q1[1], r0, r2\n\t"                                                                          \
    "vadd.i32 q1, q1, r5\n\t" REQ                                                                            \
    "le lr, 1b\n\t"

/*
 * The pixel loop LOOP with the requantization of the channel's shift (r8): shift >= 0, acc <<
 * shift then the doubling high multiply (label L); 0 > shift >= -22, the doubling high multiply
 * added by VQRDMLAH to (output offset << -shift) - [acc < 0] (the rounding fix of ts_mve.h,
 * [x < 0] replaced by [acc < 0]: they differ only where x rounds to 0, and so does
 * x - 1), then a rounding right shift (the sum cannot overflow: |zp << 22| <= 2^29, and
 * where VQRDMLAH saturates the clamp would); larger right shifts (label R): the doubling high
 * multiply, 1 subtracted from negative lanes, the rounding right shift, the output offset.
 * Then on to label 7.
 */
#define TS_DW_VARIANTS(LOOP, L, R)                                                                           \
    "cmp r8, #0\n\t"                                                                                          \
    "bge " L "f\n\t"                                                                                          \
    "cmn r8, #22\n\t"                                                                                         \
    "blt " R "f\n\t"                                                                                          \
    "rsbs r0, r8, #0\n\t"                                                                                     \
    "lsl r9, r9, r0\n\t" LOOP("vshr.s32 q0, q1, #31\n\t"                                                     \
                               "vadd.i32 q0, q0, r9\n\t"                                                     \
                               "vqrdmlah.s32 q0, q1, r6\n\t"                                                 \
                               "vrshl.s32 q0, r8\n\t" TS_DW_CLAMP("q0")) "b 7f\n" L ":\n\t"                    \
    LOOP(TS_DW_STORE("vshl.s32 q1, r8\n\t"                                                                    \
                     "vqrdmulh.s32 q1, q1, r6\n\t")) "b 7f\n" R ":\n\t"                                        \
    LOOP(TS_DW_STORE("vqrdmulh.s32 q1, q1, r6\n\t"                                                            \
                     "vshr.s32 q0, q1, #31\n\t"                                                               \
                     "vadd.i32 q1, q1, q0\n\t"                                                                \
                     "vrshl.s32 q1, r8\n\t")) "b 7f\n"

/* requantized q1 (REQ, in place) plus the output offset, clamped and stored */
#define TS_DW_STORE(REQ) REQ "vadd.i32 q1, q1, r9\n\t" TS_DW_CLAMP("q1")
#define TS_DW_CLAMP(Q) "vmax.s32 " Q ", " Q ", q5\n\tvmin.s32 " Q ", " Q ", q6\n\tvstrb.32 " Q ", [r4, q4]\n\t"

/* The plane of K channels by rows (r0: the first one's input byte, r4: 16 / K pixels' bytes):
 * sixteen bytes a gather (K channels of 16 / K pixels: offsets x * C + k), stored
 * contiguously at the row's place in the plane (channel k of pixel x at x * K + k),
 * tail-predicated; rows of at most sixteen bytes (W * K) without the inner loop. */
#define TS_DW_FILL_ROWS                                                                                      \
    "ldr r5, [%[v], #180]\n\t"                                                                               \
    "add r5, r0, r5\n\t"                                                                                     \
    "str r5, [%[v], #120]\n\t" /* the next plane's first channel */                                          \
    "ldr r2, [%[v], #156]\n\t" /* rows_in */                                                                 \
    "cbz r2, 4f\n\t"                                                                                           \
    "vldrb.u8 q2, [%[v], #64]\n\t"                                                                           \
    "ldrd r1, r3, [%[v], #160]\n\t" /* row0, width */                                                        \
    "ldrd r5, r6, [%[v], #168]\n\t" /* row_step, wp */                                                     \
    "cmp r3, #16\n\t"                                                                                         \
    "bgt 31f\n\t"                                                                                              \
    "vctp.8 r3\n" /* rows of one vector: one predicated gather and store a row */                            \
    "33:\n\t"                                                                                                \
    "vpstt\n\t"                                                                                               \
    "vldrbt.u8 q0, [r0, q2]\n\t"                                                                              \
    "vstrbt.8 q0, [r1]\n\t"                                                                                   \
    "add r0, r0, r5\n\t"                                                                                     \
    "add r1, r1, r6\n\t"                                                                                     \
    "subs r2, r2, #1\n\t"                                                                                    \
    "bne 33b\n\t"                                                                                             \
    "b 4f\n"                                                                                                  \
    "31:\n\t"                                                                                                \
    "mov r8, r0\n\t"                                                                                         \
    "mov r9, r1\n\t"                                                                                         \
    "dlstp.8 lr, r3\n"                                                                                       \
    "32:\n\t"                                                                                                \
    "vldrb.u8 q0, [r8, q2]\n\t"                                                                              \
    "add r8, r8, r4\n\t"                                                                                     \
    "vstrb.8 q0, [r9], #16\n\t"                                                                              \
    "letp lr, 32b\n\t"                                                                                       \
    "add r0, r0, r5\n\t"                                                                                     \
    "add r1, r1, r6\n\t"                                                                                     \
    "subs r2, r2, #1\n\t"                                                                                    \
    "bne 31b\n"

/* A channel's plane by the dst table (r0: its input byte, r1: dst, r4: 8 * C): eight pixels a
 * gather (offsets 0, C, .., 7C), scattered at their plane offsets, tail-predicated. */
#define TS_DW_FILL_TABLE                                                                                     \
    "adds r5, r0, #1\n\t"                                                                                    \
    "str r5, [%[v], #120]\n\t" /* the next channel */                                                        \
    "ldrd r2, r3, [%[v], #128]\n\t" /* pixels, plane */                                                      \
    "vldrh.u16 q2, [%[v], #64]\n\t"                                                                          \
    "wlstp.16 lr, r2, 4f\n"                                                                                  \
    "3:\n\t"                                                                                                 \
    "vldrb.u16 q0, [r0, q2]\n\t"                                                                             \
    "add r0, r0, r4\n\t"                                                                                     \
    "vldrh.u16 q1, [r1], #16\n\t"                                                                            \
    "vstrb.16 q0, [r3, q1]\n\t"                                                                              \
    "letp lr, 3b\n"

/* the next channel: the next plane (one channel a plane) */
#define TS_DW_NEXT_PLANE                                                                                     \
    "ldr r0, [%[v], #148]\n\t"                                                                               \
    "subs r0, r0, #1\n\t"                                                                                    \
    "str r0, [%[v], #148]\n\t"                                                                               \
    "bne 2b\n\t"

/* the next channel: the plane's next (its bytes one further: the tap offsets plus 1), or after
 * K channels the next plane (channels a multiple of K) */
#define TS_DW_NEXT_INTERLEAVED                                                                               \
    "vadd.i8 q3, q3, r0\n\t"                                                                                 \
    "ldr r0, [%[v], #148]\n\t"                                                                               \
    "subs r0, r0, #1\n\t"                                                                                    \
    "str r0, [%[v], #148]\n\t"                                                                               \
    "beq 9f\n\t"                                                                                             \
    "ldr r1, [%[v], #176]\n\t"                                                                               \
    "tst r0, r1\n\t"                                                                                         \
    "bne 4b\n\t"                                                                                             \
    "vldrb.8 q3, [%[v]]\n\t"                                                                                 \
    "b 2b\n"                                                                                                 \
    "9:\n\t"

/*
 * All channels of a band, one at a time: the channel's input pixels into the plane (FILL),
 * the channel's weights (WEIGHTS: with pairs, the two windows' lanes gathered from its
 * filter_mve row), then the pixel loop of the layout (LOOP) and the channel's shift
 * (TS_DW_VARIANTS). The band state `v` advances: next channel's taps, requantization, input
 * byte, output lanes.
 */
#define TS_DW_CHANNELS(FILL, WEIGHTS, LOOP, NEXT)                                                                      \
    __asm__ volatile("vldrb.8 q3, [%[v]]\n\t"                                                                 \
                     "vldrw.32 q4, [%[v], #16]\n\t"                                                           \
                     "vldrw.32 q5, [%[v], #32]\n\t"                                                           \
                     "vldrw.32 q6, [%[v], #48]\n"                                                              \
                     "2:\n\t"                                                                                 \
                     "ldrd r0, r1, [%[v], #120]\n\t" /* src, dst */                                           \
                     "ldr r4, [%[v], #136]\n\t" /* step */                                                    \
                     FILL "4:\n\t"                                                                            \
                     "ldrd r11, r12, [%[v], #112]\n\t" /* w, rq */                                            \
                     "ldmia r12!, {r5, r6, r8, r9}\n\t" WEIGHTS                                               \
                     "strd r11, r12, [%[v], #112]\n\t"                                                        \
                     "ldrd r10, r12, [%[v], #140]\n\t" /* tab, groups */                                      \
                     TS_DW_VARIANTS(LOOP, "5", "6") "7:\n\t"                                                  \
                     "movs r0, #1\n\t"                                                                        \
                     "vadd.i32 q4, q4, r0\n\t" NEXT                                                           \
                     :                                                                                        \
                     : [v] "r"(v)                                                                             \
                     : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "q0",  \
                       "q1", "q2", "q3", "q4", "q5", "q6", "q7", "cc", "memory")

/* the channel loops of each plane fill and layout: one window per gather (the channel's taps
 * as they are), or pairs (the two windows' weights gathered from the channel's filter_mve row) */
#define TS_DW_SINGLE "vldrb.8 q2, [r11], #16\n\t"
#define TS_DW_PAIRED                                                                                         \
    "vldrb.u8 q0, [%[v], #80]\n\t"                                                                           \
    "vldrb.u8 q2, [r11, q0]\n\t"                                                                             \
    "vldrb.u8 q0, [%[v], #96]\n\t"                                                                           \
    "vldrb.u8 q7, [r11, q0]\n\t"                                                                             \
    "adds r11, r11, #16\n\t"

static TS_NOINLINE void channels(ts_dw_band_t *v)
{
    TS_DW_CHANNELS(TS_DW_FILL_TABLE, TS_DW_SINGLE, TS_DW_PIXELS, TS_DW_NEXT_PLANE);
}

static TS_NOINLINE void channels_pairs(ts_dw_band_t *v)
{
    TS_DW_CHANNELS(TS_DW_FILL_TABLE, TS_DW_PAIRED, TS_DW_PAIRS, TS_DW_NEXT_PLANE);
}

static TS_NOINLINE void channels_rows(ts_dw_band_t *v)
{
    TS_DW_CHANNELS(TS_DW_FILL_ROWS, TS_DW_SINGLE, TS_DW_PIXELS, TS_DW_NEXT_INTERLEAVED);
}

static TS_NOINLINE void channels_rows_pairs(ts_dw_band_t *v)
{
    TS_DW_CHANNELS(TS_DW_FILL_ROWS, TS_DW_PAIRED, TS_DW_PAIRS, TS_DW_NEXT_INTERLEAVED);
}

/* Geometry of the plane path with k channels a plane: the plane's row length in pixels, output
 * rows per band, or 0 if it does not apply. */
static int32_t plane_rows(const ts_depthwise_conv2d_params_t *p, int32_t k, int32_t *wp)
{
    const int32_t ow = p->output_w, oh = p->output_h;
    const int32_t last_x = (ow - 1) * p->stride_w - p->pad_w + (p->filter_w - 1) * p->dilation_w;
    *wp = p->pad_w + (last_x + 1 > p->input_w ? last_x + 1 : p->input_w);
    const int32_t reach = (p->filter_h - 1) * p->dilation_h * *wp + (p->filter_w - 1) * p->dilation_w;
    const int32_t ext = (p->filter_h - 1) * p->dilation_h + 1; /* plane rows of one output row */
    if (p->filter_mve == NULL || p->requant_mve == NULL || p->depth_multiplier != 1 || p->input_c < 1 ||
        p->filter_h * p->filter_w > 16 || (reach + 1) * k - 1 > 255 || p->input_c > 8191 || oh * ow < 4 ||
        ow > 4 * TS_MVE_DW_GROUPS || ext * *wp * k > TS_MVE_DW_PLANE) {
        return 0;
    }
    int32_t rows = (TS_MVE_DW_PLANE / (*wp * k) - ext) / p->stride_h + 1;
    rows = rows < TS_MVE_DW_GROUPS * 4 / ow ? rows : TS_MVE_DW_GROUPS * 4 / ow;
    rows = rows < oh ? rows : oh;
    if (rows * ow < 4) {
        return 0;
    }
    const int32_t bands = (oh + rows - 1) / rows, even = (oh + bands - 1) / bands;
    return even * ow >= 4 ? even : rows;
}

/*
 * The table of a band of `rows` output rows (pixels in row-major order; a last partial group
 * of four repeats pixels of the one before): per group the windows' corners in the plane
 * (four, or with pairs those of pixels 0 and 2) and the first pixel's address in the band's
 * output as if it started at `out`.
 */
static void corners(const ts_depthwise_conv2d_params_t *p, int32_t rows, int32_t wp, int32_t k, uint32_t plane,
                    int8_t *out, int pairs, uint32_t *tab)
{
    const int32_t ow = p->output_w, n = rows * ow, ch = p->input_c, every = pairs ? 2 : 1, words = 4 / every + 1;
    const uint32_t down = (uint32_t)(p->stride_h * wp * k);
    uint32_t row = plane;
    for (int32_t g = 0, x = 0; g < n / 4; ++g, tab += words) { /* the full groups */
        for (int32_t l = 0; l < 4; l += every) { /* pairs: in a row (even width) or a column (width 1) */
            tab[l / every] = row + (uint32_t)(x * p->stride_w * k);
            for (x += every; x >= ow; x -= ow) {
                row += down;
            }
        }
        tab[words - 1] = (uint32_t)(uintptr_t)(out + (size_t)g * 4 * ch);
    }
    if (n % 4 != 0) { /* a last group of the last four pixels */
        for (int32_t l = 0; l < 4; l += every) {
            const int32_t i = n - 4 + l;
            tab[l / every] = plane + (uint32_t)(((i / ow) * p->stride_h * wp + (i % ow) * p->stride_w) * k);
        }
        tab[words - 1] = (uint32_t)(uintptr_t)(out + (size_t)(n - 4) * ch);
    }
}

/* The plane offsets of the input pixels read by the band of output rows from oy0 (dst, unless
 * NULL), the first input row read (*y_lo) and its place in the plane (*first); returns the
 * number of input rows. */
static int32_t band(const ts_depthwise_conv2d_params_t *p, int32_t oy0, int32_t rows, int32_t wp, uint16_t *dst,
                    int32_t *y_lo, int32_t *first)
{
    const int32_t top = oy0 * p->stride_h - p->pad_h;
    const int32_t bottom = top + (rows - 1) * p->stride_h + (p->filter_h - 1) * p->dilation_h;
    const int32_t lo = top > 0 ? top : 0, hi = bottom < p->input_h - 1 ? bottom : p->input_h - 1;
    const uint16x8_t ramp = vidupq_n_u16(0, 1);
    int32_t k = 0;
    for (int32_t y = lo; y <= hi && dst != NULL; ++y, k += p->input_w) { /* eight at a time: room past the end */
        const int32_t base = (y - top) * wp + p->pad_w;
        for (int32_t x = 0; x < p->input_w; x += 8) {
            vst1q_u16(dst + k + x, vaddq_n_u16(ramp, (uint16_t)(base + x)));
        }
    }
    *y_lo = lo;
    *first = (lo - top) * wp + p->pad_w;
    return hi >= lo ? hi - lo + 1 : 0;
}

/*
 * The window's lanes: tap offsets in the plane and the filter_mve lanes giving their weights.
 * Pairs of adjacent pixels when both windows fit in sixteen lanes (no dilation): horizontally
 * (an even output width: pairs stay in a row), lane fy * (fw + stride) + ux reads column ux of
 * row fy, the first window's weight at ux, the second's at ux - stride (lane `taps`, a zero,
 * where the window has none); or vertically in a column (output width 1, one-column windows),
 * lane u reads row u, the first window's weight at u, the second's at u - stride.
 */
static void layout(const ts_depthwise_conv2d_params_t *p, int32_t wp, int32_t k, ts_dw_band_t *v)
{
    const int32_t fh = p->filter_h, fw = p->filter_w, sw = p->stride_w, taps = fh * fw, span = fw + sw;
    const int plain = p->dilation_h == 1 && p->dilation_w == 1;
    const int column = plain && p->output_w == 1 && fw == 1 && fh + p->stride_h <= 16 &&
                       (fh + p->stride_h - 1) * wp * k <= 255;
    v->pairs = column || (plain && p->output_w % 2 == 0 && sw <= fw && fh * span <= 16 &&
                          ((fh - 1) * wp + span) * k - 1 <= 255);
    for (int32_t t = 0; t < 16; ++t) {
        v->perm_a[t] = v->perm_b[t] = (uint8_t)(v->pairs ? taps : t);
    }
    if (column) {
        for (int32_t u = 0; u < fh + p->stride_h; ++u) {
            v->tap[u] = (uint8_t)(u * wp * k);
            v->perm_a[u] = (uint8_t)(u < fh ? u : taps);
            v->perm_b[u] = (uint8_t)(u >= p->stride_h ? u - p->stride_h : taps);
        }
        return;
    }
    if (!v->pairs) {
        for (int32_t fy = 0, t = 0; fy < fh; ++fy) {
            for (int32_t fx = 0; fx < fw; ++fx, ++t) {
                v->tap[t] = (uint8_t)((fy * p->dilation_h * wp + fx * p->dilation_w) * k);
            }
        }
        return;
    }
    for (int32_t fy = 0; fy < fh; ++fy) {
        for (int32_t ux = 0; ux < span; ++ux) {
            const int32_t lane = fy * span + ux;
            v->tap[lane] = (uint8_t)((fy * wp + ux) * k);
            if (ux < fw) {
                v->perm_a[lane] = (uint8_t)(fy * fw + ux);
            }
            if (ux >= sw) {
                v->perm_b[lane] = (uint8_t)(fy * fw + ux - sw);
            }
        }
    }
}

/* The plane fill the generator chose (plane_k: toolchain/codegen/aot_opt_mve_dw.py estimates
 * the instructions of each): by rows with K channels a plane (a power of 2 dividing C, whose
 * sixteen-byte gather stays within 255 bytes), returned with its rows per band and plane row
 * length; 0 by the dst table (also where plane_k is 0 or not such a K); -1 where the plane
 * path does not apply. */
static int32_t fill_mode(const ts_depthwise_conv2d_params_t *p, int32_t *rows, int32_t *wp)
{
    const int32_t k = p->plane_k, ch = p->input_c;
    if (k > 0 && k <= 16 && 16 % k == 0 && ch % k == 0 && (16 / k - 1) * ch + k - 1 <= 255) {
        *rows = plane_rows(p, k, wp);
        if (*rows > 0) {
            return k;
        }
    }
    *rows = plane_rows(p, 1, wp);
    return *rows == 0 ? -1 : 0;
}

/* The plane path (see the top of the file); 0 if it does not apply. */
static int by_planes(const ts_depthwise_conv2d_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t wp, rows;
    const int32_t mode = fill_mode(p, &rows, &wp);
    if (mode < 0) {
        return 0;
    }
    const int by_rows = mode > 0;
    const int32_t ch = p->input_c, ow = p->output_w, k = by_rows ? mode : 1;
    const int32_t groups = (rows * ow + 3) / 4;
    const int32_t plane_bytes = ((rows - 1) * p->stride_h + (p->filter_h - 1) * p->dilation_h + 1) * wp * k;
    int8_t *plane = (int8_t *)scratch;
    uint16_t *dst = (uint16_t *)(void *)(plane + TS_MVE_DW_PLANE);
    uint32_t *tab = (uint32_t *)(void *)(dst + TS_MVE_DW_PLANE + 8);
    ts_dw_band_t v __attribute__((aligned(16)));
    memset(&v, 0, sizeof v);
    layout(p, wp, k, &v);
    for (int32_t l = 0; l < 4; ++l) {
        v.lo[l] = p->act_min;
        v.hi[l] = p->act_max;
    }
    const int32_t w = p->input_w;
    for (int32_t i = 0; i < 16; ++i) {
        if (by_rows) {
            v.stride.b[i] = (uint8_t)(i / k * ch + i % k);
        } else if (i < 8) {
            v.stride.h[i] = (uint16_t)(i * ch);
        }
    }
    v.plane = plane;
    v.step = by_rows ? 16 / k * ch : 8 * ch;
    v.width = w * k;
    v.row_step = w * ch;
    v.wp = wp * k;
    v.kmask = k - 1;
    v.kk = k;
    v.tab = tab;
    v.groups = groups;
    corners(p, rows, wp, k, (uint32_t)(uintptr_t)plane, output, v.pairs, tab);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ch;
        for (int32_t oy0 = 0; oy0 < p->output_h; oy0 += rows) {
            oy0 = oy0 + rows <= p->output_h ? oy0 : p->output_h - rows;
            int32_t y_lo, first;
            const int32_t n = band(p, oy0, rows, wp, by_rows ? NULL : dst, &y_lo, &first);
            v.pixels = by_rows ? 0 : n * w;
            v.rows_in = by_rows ? n : 0;
            v.row0 = plane + first * k;
            const int32_t shift = (b * p->output_h + oy0) * ow * ch; /* of the band's output from tab's */
            for (int32_t l = 0; l < 4; ++l) { /* pairs: lanes are pixels 0, 2, 1, 3 */
                v.out[l] = (v.pairs ? l % 2 * 2 + l / 2 : l) * ch + shift;
            }
            v.w = p->filter_mve;
            v.rq = p->requant_mve;
            v.src = image + (size_t)y_lo * p->input_w * ch;
            v.dst = dst;
            v.channels = ch;
            memset(plane, -p->input_offset, (size_t)plane_bytes);
            if (by_rows) {
                (v.pairs ? channels_rows_pairs : channels_rows)(&v);
            } else {
                (v.pairs ? channels_pairs : channels)(&v);
            }
        }
    }
    return 1;
}

/* The sixteen-channel path (any window, any channel count), on the generated filter_px and
 * requant_px (toolchain/codegen/aot_opt_mve_dw.py's depthwise_pixel_tables). */
static int32_t by_pixels(const ts_depthwise_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, int8_t *output, void *scratch)
{
    const ts_depthwise_conv2d_params_t *p = params;
    const int32_t ch = p->input_c;
    const int32_t taps = p->filter_h * p->filter_w;
    if (p->filter_px == NULL || p->requant_px == NULL || scratch == NULL) {
        return ts_depthwise_conv2d_s8_portable(params, input, filter, bias, output, NULL);
    }
    const int32_t oc = p->output_c, ch8 = pixel_channels(oc); /* ch8 >= ch: the pad row's input channels */
    int32_t *offset = (int32_t *)scratch; /* [taps] tap offsets from the window's corner */
    int32_t *border = offset + taps;      /* [taps] tap offsets from the image of a window partly outside it */
    int8_t *pad = (int8_t *)(border + taps); /* [ch8] input zero points: w * (zp + offset) = 0 */
    uint16_t *source = (uint16_t *)(void *)(pad + ch8); /* [ch8] each output channel's input channel */
    for (int32_t fy = 0, t = 0; fy < p->filter_h; ++fy) {
        for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t) {
            offset[t] = (fy * p->dilation_h * p->input_w + fx * p->dilation_w) * ch;
        }
    }
    memset(pad, -p->input_offset, (size_t)ch);
    for (int32_t c = p->depth_multiplier == 1 ? oc / 16 * 16 : 0; c < ch8; ++c) { /* the gathered channels */
        source[c] = (uint16_t)(c < oc ? c / p->depth_multiplier : 0);
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ch;
        int8_t *out = output + (size_t)b * p->output_h * p->output_w * oc;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->output_w; ++ox, out += oc) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int inside = y0 >= 0 && y0 + (p->filter_h - 1) * p->dilation_h < p->input_h && x0 >= 0 &&
                                   x0 + (p->filter_w - 1) * p->dilation_w < p->input_w;
                if (inside) { /* the whole window: the offsets prepared once */
                    pixel(p, image + ((size_t)y0 * p->input_w + x0) * ch, offset, taps, p->filter_px,
                          p->requant_px, source, out);
                } else {
                    window(p, image, y0, x0, pad, border);
                    pixel(p, image, border, taps, p->filter_px, p->requant_px, source, out);
                }
            }
        }
    }
    return TS_OK;
}
/* Scratch: the plane path's plane, offset table and corner table, or the sixteen-channel path's
 * tap offsets, zero points and channel sources. */
int32_t ts_depthwise_conv2d_s8_scratch_size(const ts_depthwise_conv2d_params_t *params)
{
    const ts_depthwise_conv2d_params_t *p = params;
    int32_t rows, wp;
    if (fill_mode(p, &rows, &wp) >= 0) {
        return TS_MVE_DW_PLANE + 2 * (TS_MVE_DW_PLANE + 8) + 4 * 5 * TS_MVE_DW_GROUPS;
    }
    const int32_t ch8 = pixel_channels(p->output_c);
    return p->filter_px != NULL ? 8 * p->filter_h * p->filter_w + 3 * ch8 : 0;
}

int32_t ts_depthwise_conv2d_s8(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch)
{
    if (params == NULL || input == NULL || filter == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    if (scratch != NULL && by_planes(params, input, output, scratch)) {
        return TS_OK;
    }
    return by_pixels(params, input, filter, bias, output, scratch);
}
#endif /* TS_OPT_MVE */
