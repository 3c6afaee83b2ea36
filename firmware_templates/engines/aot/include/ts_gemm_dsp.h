/*
 * ts_gemm_dsp.h - int16 matrix x vector on the DSP extension's dual 16-bit MAC (SMLAD).
 *
 * The generator widens CONV_2D / FULLY_CONNECTED filters [rows, k] to int16 once
 * (toolchain/codegen/aot_opt.py dsp_filter): rows padded to a multiple of 4, k to a
 * multiple of 8 (k8), and for each quad of rows and each group of four k, each row's
 * (w0, w2) (w1, w3); the requantization per quad of rows (dsp_requant_quads, ts_rq4_t). A
 * column (one output pixel's receptive field, input offset added) stores each group the same
 * way: (x0, x2) (x1, x3). For the int8 range everything runs in assembly: up to k = 256
 * (ts_pointwise_ssat_asm) the pairs of groups are fully unrolled and entered at a computed
 * pair, one LDM fetching two groups of the column and four LDMs the four rows' weights for
 * sixteen SMLADs (0.66 instructions per MAC), per quad the accumulators start from one LDM of
 * the biases (the previous quad's requantization preloads them) and are requantized from
 * registers (the quad's table in two LDMs, the four outputs packed by BFI into one word
 * store); a pointwise convolution runs all its pixels in that block (each pixel widened on the
 * way, sixteen channels a block: one LDM, eight SXTAB16, two STMs, the blocks unrolled). Larger k loop over eight groups
 * (ts_gemv_ssat_asm); other activation clamps run the C body (ts_gemv_body).
 */
#ifndef TS_GEMM_DSP_H
#define TS_GEMM_DSP_H

#include "ts_opt.h"
#include "ts_simd.h"

/**
 * The requantization of a quad of rows as the generator lays it out for the gemv
 * (aot_opt.py dsp_requant_quads): the four doubled biases, the four multipliers, then each
 * row's {add, right} (ts_rq_t's fields), so that one LDM starts the accumulators and one the
 * multipliers.
 */
typedef struct {
    int32_t bias2[4];
    int32_t multiplier[4];
    int32_t add_right[4][2];
} ts_rq4_t;

/** Row i of a quad as a ts_rq_t (bias left 0). */
TS_ALWAYS_INLINE ts_rq_t ts_rq4_row(const ts_rq4_t *q, int32_t i)
{
    const ts_rq_t t = {0, q->multiplier[i], q->add_right[i][0], q->add_right[i][1]};
    return t;
}

/* The gemv's out-of-line functions are defined in every kernel file that includes this header:
 * weak (one copy kept by the linker, the others collected) where the compiler allows it. */
#if defined(__GNUC__)
#define TS_GEMV_FN __attribute__((weak, noinline))
#else
#define TS_GEMV_FN static
#endif

/** Position of element `k` of a column in the (x0, x2, x1, x3) group order. */
static inline int32_t ts_col_index(int32_t k)
{
    return (k & ~3) | ((k & 1) << 1) | ((k >> 1) & 1);
}

/**
 * Widen `n` (a multiple of 4) int8 inputs plus `offset` into the column order.
 * @param[in]  x       n int8 inputs
 * @param[in]  offset  added to every input (-input zero point)
 * @param[out] col     n int16, 4-byte aligned
 */
static inline void ts_col_fill4(const int8_t *x, int32_t n, int32_t offset, int16_t *col)
{
    const uint32_t off2 = ts_dup16(offset);
    uint32_t *dst = (uint32_t *)(void *)col;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8, dst += 4) { /* two words a step */
        const uint32_t v = ts_read32(x + i), u = ts_read32(x + i + 4);
        dst[0] = ts_sxtab16(off2, v);
        dst[1] = ts_sxtab16_ror8(off2, v);
        dst[2] = ts_sxtab16(off2, u);
        dst[3] = ts_sxtab16_ror8(off2, u);
    }
    for (; i < n; i += 4, dst += 2) {
        const uint32_t v = ts_read32(x + i);
        dst[0] = ts_sxtab16(off2, v);
        dst[1] = ts_sxtab16_ror8(off2, v);
    }
}

/**
 * out[r] = requantized (row r . col) for r < rows: the four accumulators of a quad of
 * rows start at their bias and are requantized straight from registers. Only the groups
 * of four that hold the k inputs are multiplied: a k8 group of zero weights is skipped.
 * @param[in]  w        the re-laid filter (dsp_filter, laid out for k8 = k rounded up to 8), 4-byte aligned
 * @param[in]  col      the k inputs rounded up to 4 (zeros after k), int16 in column order, 4-byte aligned
 * @param[in]  k        the depth (>= 1)
 * @param[in]  rows     output rows
 * @param[in]  rq       [rows rounded up to 4, by quads] requantization (ts_rq4_t)
 * @param[out] out      [rows] int8
 * @param[in]  odd      whether k, rounded up to 4, is an odd number of groups of four
 */
TS_ALWAYS_INLINE void ts_gemv_body(const int16_t *w, const int16_t *col, int32_t k, int32_t rows,
                                   const ts_rq4_t *rq, int32_t act_min, int32_t act_max, int8_t *out, int odd)
{
    const int32_t pairs = (k + 3) >> 3; /* groups: 2 * pairs + odd (a constant: then 16 zero weights end each quad) */
    for (int32_t r = 0; r < rows; r += 4, ++rq) {
        /* Every register of the loop is pinned: LDM needs ascending registers (fixed ones,
         * clobbered), which leaves the compiler too few to allocate the rest at every -O level.
         * r7 (the Thumb frame pointer) is left alone. */
        register const int16_t *wp __asm__("r11") = w;
        register int32_t a0 __asm__("r0") = rq->bias2[0];
        register int32_t a1 __asm__("r1") = rq->bias2[1];
        register int32_t a2 __asm__("r2") = rq->bias2[2];
        register int32_t a3 __asm__("r3") = rq->bias2[3];
        register const int16_t *c __asm__("r12") = col;
        register int32_t n __asm__("lr") = pairs;
        /* per group of four k: one LDRD of the column, two LDMs of two rows' weights each */
#define TS_GEMV_GROUP                                       \
    "ldrd r9, r10, [%[c]], #8\n\t"                          \
    "ldm %[w]!, {r4, r5, r6, r8}\n\t"                       \
    "smlad %[a0], r4, r9, %[a0]\n\t"                        \
    "smlad %[a0], r5, r10, %[a0]\n\t"                       \
    "smlad %[a1], r6, r9, %[a1]\n\t"                        \
    "smlad %[a1], r8, r10, %[a1]\n\t"                       \
    "ldm %[w]!, {r4, r5, r6, r8}\n\t"                       \
    "smlad %[a2], r4, r9, %[a2]\n\t"                        \
    "smlad %[a2], r5, r10, %[a2]\n\t"                       \
    "smlad %[a3], r6, r9, %[a3]\n\t"                        \
    "smlad %[a3], r8, r10, %[a3]\n\t"
#define TS_GEMV_OPERANDS                                                                                 \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(wp), [c] "+r"(c), [n] "+r"(n) \
    :                                                                                                    \
    : "r4", "r5", "r6", "r8", "r9", "r10", "cc", "memory"
        if (odd) {
            __asm__ volatile(TS_GEMV_GROUP TS_GEMV_OPERANDS);
        }
        if (!odd || n != 0) {
            __asm__ volatile("1:\n\t" TS_GEMV_GROUP TS_GEMV_GROUP
                             "subs %[n], %[n], #1\n\t"
                             "bne 1b\n\t" TS_GEMV_OPERANDS);
        }
#undef TS_GEMV_OPERANDS
#undef TS_GEMV_GROUP
        w = wp + 16 * odd;
        const int32_t acc[4] = {a0, a1, a2, a3};
        for (int32_t i = 0; i < 4 && r + i < rows; ++i) {
            const ts_rq_t q = ts_rq4_row(rq, i);
            out[r + i] = ts_rq_apply(acc[i], &q, act_min, act_max);
        }
    }
}

/* ts_gemv_body for an even or odd number of groups of four in k, with any activation clamp */
#define TS_GEMV_CLAMP(name, odd)                                                                          \
    TS_GEMV_FN void name(const int16_t *w, const int16_t *col, int32_t k, int32_t rows,                  \
                                 const ts_rq4_t *rq, int32_t act_min, int32_t act_max, int8_t *out)       \
    {                                                                                                     \
        ts_gemv_body(w, col, k, rows, rq, act_min, act_max, out, odd);                                    \
    }
TS_GEMV_CLAMP(ts_gemv_clamp, 0)
TS_GEMV_CLAMP(ts_gemv_clamp_odd, 1)
#undef TS_GEMV_CLAMP

/* What the all-assembly gemv (ts_gemv_ssat_asm) keeps on the stack: the column, the passes of its
 * unrolled loop of eight groups of four k, the requantization and output of the next quad of
 * rows, the quads left, and the groups the first pass skips. */
typedef struct {
    const int16_t *col;
    int32_t passes;
    const ts_rq4_t *rq;
    int8_t *out;
    int32_t quads;
    int32_t skip;
} ts_gemv_frame_t;

/* one group of four k in exactly 44 bytes (eleven 32-bit instructions: the loop is entered
 * at a computed group) */
#define TS_GEMV_G                                  \
    "ldrd r9, r10, [r12], #8\n\t"                  \
    "ldmia.w r11!, {r4, r5, r6, r8}\n\t"           \
    "smlad r0, r4, r9, r0\n\t"                     \
    "smlad r0, r5, r10, r0\n\t"                    \
    "smlad r1, r6, r9, r1\n\t"                     \
    "smlad r1, r8, r10, r1\n\t"                    \
    "ldmia.w r11!, {r4, r5, r6, r8}\n\t"           \
    "smlad r2, r4, r9, r2\n\t"                     \
    "smlad r2, r5, r10, r2\n\t"                    \
    "smlad r3, r6, r9, r3\n\t"                     \
    "smlad r3, r8, r10, r3\n\t"
/* output i of the quad: ts_rq_value of accumulator a (multiplier m, {add, right} read on from
 * r12), SSAT, store at lr + i */
#define TS_GEMV_RQ(i, a, m)                                \
    "ldrd r9, r10, [r12], #8\n\t"                          \
    "smmlar r9, " a ", " m ", r9\n\t"                      \
    "add r9, r9, " a ", asr #31\n\t"                       \
    "asr r9, r9, r10\n\t"                                  \
    "ssat r9, #8, r9\n\t"                                  \
    "strb r9, [lr, #" #i "]\n\t"
/* the quad's requantization (ts_rq4_t at the frame's rq), the table and output stepped on */
#define TS_GEMV_RQ4                                                                               \
    "ldrd r12, lr, [sp, #8]\n\t"                                                                  \
    "add r12, r12, #16\n\t"                                                                       \
    "ldm r12!, {r4, r5, r6, r8}\n\t"                                                              \
    TS_GEMV_RQ(0, "r0", "r4") TS_GEMV_RQ(1, "r1", "r5") TS_GEMV_RQ(2, "r2", "r6") TS_GEMV_RQ(3, "r3", "r8") \
    "add lr, lr, #4\n\t"                                                                          \
    "strd r12, lr, [sp, #8]\n\t"
/* the quad's accumulators start at their biases */
#define TS_GEMV_INIT4 "ldr r4, [sp, #8]\n\t" "ldm r4, {r0, r1, r2, r3}\n\t"

/*
 * Quads of rows of the re-laid filter (w, read on: quads are consecutive) times one column,
 * requantized to the int8 range, all in one assembly block: per quad the four accumulators
 * start at their bias, the groups of four k run in an eight times unrolled loop entered at a
 * computed group (no per-pair loop test), and the outputs are requantized from registers.
 * `pad` skips a quad's trailing k8 group of zero weights (k rounded up to 4 is an odd number
 * of groups). Registers: r0-r3 accumulators, r4-r6 r8 weights, r9 r10 column, r11 weights'
 * pointer, r12 column pointer, lr the pass count; the frame is pushed (r7, the Thumb frame
 * pointer, left alone).
 */
#define TS_GEMV_ASM_FN(name, pad)                                                                        \
    TS_GEMV_FN void name(const int16_t *w, const ts_gemv_frame_t *frame)                                  \
    {                                                                                                     \
        register const int16_t *r11 __asm__("r11") = w;                                                   \
        register const ts_gemv_frame_t *r0 __asm__("r0") = frame;                                         \
        __asm__ volatile("ldm r0, {r0, r1, r2, r3, r4, r5}\n\t"                                           \
                         "adr r6, 5f\n\t"                                                                 \
                         "movs r8, #44\n\t"                                                               \
                         "mla r6, r5, r8, r6\n\t"                                                         \
                         "orr r6, r6, #1\n\t"                                                             \
                         "push {r0, r1, r2, r3, r4, r6}\n\t"                                              \
                         "6:\n\t"                                                                         \
                         TS_GEMV_INIT4                                                                    \
                         "ldrd r12, lr, [sp]\n\t"                                                         \
                         "ldr r4, [sp, #20]\n\t"                                                          \
                         "bx r4\n\t"                                                                      \
                         ".balign 4\n\t"                                                                  \
                         "5:\n\t" TS_GEMV_G TS_GEMV_G TS_GEMV_G TS_GEMV_G TS_GEMV_G TS_GEMV_G TS_GEMV_G   \
                         TS_GEMV_G                                                                        \
                         "subs lr, lr, #1\n\t"                                                            \
                         "bne 5b\n\t" pad                                                                 \
                         TS_GEMV_RQ4                                                                      \
                         "ldr r4, [sp, #16]\n\t"                                                          \
                         "subs r4, r4, #1\n\t"                                                            \
                         "str r4, [sp, #16]\n\t"                                                          \
                         "bne 6b\n\t"                                                                     \
                         "add sp, sp, #24\n\t"                                                            \
                         : "+r"(r11), "+r"(r0)                                                            \
                         :                                                                                \
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r12", "lr", "cc",     \
                           "memory");                                                                     \
    }
/* two groups of four k in exactly 84 bytes (twenty-one 32-bit instructions): one LDM of the
 * column's four words, four LDMs of weights, sixteen SMLADs */
#define TS_GEMV_G2                                 \
    "ldmia.w r12!, {r7, r9, r10, lr}\n\t"          \
    "ldmia.w r11!, {r4, r5, r6, r8}\n\t"           \
    "smlad r0, r4, r7, r0\n\t"                     \
    "smlad r0, r5, r9, r0\n\t"                     \
    "smlad r1, r6, r7, r1\n\t"                     \
    "smlad r1, r8, r9, r1\n\t"                     \
    "ldmia.w r11!, {r4, r5, r6, r8}\n\t"           \
    "smlad r2, r4, r7, r2\n\t"                     \
    "smlad r2, r5, r9, r2\n\t"                     \
    "smlad r3, r6, r7, r3\n\t"                     \
    "smlad r3, r8, r9, r3\n\t"                     \
    "ldmia.w r11!, {r4, r5, r6, r8}\n\t"           \
    "smlad r0, r4, r10, r0\n\t"                    \
    "smlad r0, r5, lr, r0\n\t"                     \
    "smlad r1, r6, r10, r1\n\t"                    \
    "smlad r1, r8, lr, r1\n\t"                     \
    "ldmia.w r11!, {r4, r5, r6, r8}\n\t"           \
    "smlad r2, r4, r10, r2\n\t"                    \
    "smlad r2, r5, lr, r2\n\t"                     \
    "smlad r3, r6, r10, r3\n\t"                    \
    "smlad r3, r8, lr, r3\n\t"
#define TS_GEMV_G8 TS_GEMV_G2 TS_GEMV_G2 TS_GEMV_G2 TS_GEMV_G2

/* output a' = ts_rq_value of accumulator a (multiplier m, {add, right} in a' and r), SSAT */
#define TS_PW_RQ(o, a, m, r)                                                 \
    "smmlar " o ", " a ", " m ", " o "\n\t"                                \
    "add " o ", " o ", " a ", asr #31\n\t"                                 \
    "asr " o ", " o ", " r "\n\t"                                          \
    "ssat " o ", #8, " o "\n\t"
/* the quad's requantization for ts_pointwise_ssat_asm: its table (at the multipliers, from the
 * frame) read by two LDMs into the registers the MACs free (r4-r10, lr: four multipliers and two
 * {add, right}, then r0 r1 r4 r5: two more), the four outputs packed by BFI and stored as one
 * word, and the next quad's biases loaded into r0-r3 (after the last quad: the table's padding
 * of four words, dsp_requant_quads), the table and output pointers stored back by one STRD;
 * leaves the output pointer in lr and the pixel's end in r4 */
#define TS_PW_RQ4                                                                             \
    "ldr r12, [sp, #8]\n\t"                                                                  \
    "ldm r12!, {r4, r5, r6, r7, r8, r9, r10, lr}\n\t"                                        \
    TS_PW_RQ("r8", "r0", "r4", "r9") TS_PW_RQ("r10", "r1", "r5", "lr")                       \
    "ldm r12!, {r0, r1, r4, r5}\n\t"                                                         \
    TS_PW_RQ("r0", "r2", "r6", "r1") TS_PW_RQ("r4", "r3", "r7", "r5")                        \
    "bfi r8, r10, #8, #8\n\t"                                                                \
    "bfi r8, r0, #16, #8\n\t"                                                                \
    "bfi r8, r4, #24, #8\n\t"                                                                \
    "ldrd lr, r4, [sp, #12]\n\t"                                                             \
    "str r8, [lr], #4\n\t"                                                                   \
    "ldm r12!, {r0, r1, r2, r3}\n\t"                                                         \
    "strd r12, lr, [sp, #8]\n\t"

/* sixteen int8 inputs (r11, read on) plus the offset (r7, twice) widened into the column (r12,
 * written on) in exactly 44 bytes (eleven 32-bit instructions: the blocks are entered at a
 * computed one) */
#define TS_PW_W16                                  \
    "ldmia.w r11!, {r0, r1, r2, r3}\n\t"           \
    "sxtab16 r4, r7, r0\n\t"                       \
    "sxtab16 r5, r7, r0, ror #8\n\t"               \
    "sxtab16 r6, r7, r1\n\t"                       \
    "sxtab16 r8, r7, r1, ror #8\n\t"               \
    "sxtab16 r9, r7, r2\n\t"                       \
    "sxtab16 r10, r7, r2, ror #8\n\t"              \
    "sxtab16 r2, r7, r3\n\t"                       \
    "sxtab16 r3, r7, r3, ror #8\n\t"               \
    "stmia.w r12!, {r4, r5, r6, r8, r9, r10}\n\t"  \
    "stmia.w r12!, {r2, r3}\n\t"

/* What ts_pointwise_ssat_asm keeps on the stack: ts_gemv_frame_t's words, then the next pixel's
 * input, the filter and first quad's requantization to start each pixel from, its quads, the
 * pixels left, the column's groups of eight int8 (or < 0), the input offset (twice, 16-bit),
 * and for one-channel 3x3 windows the image row's bytes and the step between windows. */
typedef struct {
    ts_gemv_frame_t gemv;
    const int8_t *src;
    const int16_t *w;
    const ts_rq4_t *rq;
    int32_t quads, pixels, eights; /* eights < 0: one-channel 3x3 windows (below) */
    uint32_t off2;
    int32_t row, step, spare[2];   /* for those: the image row's bytes, the window's step */
} ts_pointwise_frame_t;

/*
 * Quads of rows times a column for k up to 256 (32 pairs of groups of four, the k8 padding
 * included), requantized to the int8 range, for a run of pixels, all in one assembly block:
 * each pixel's int8 input is widened into the column (an even number of eights: unrolled blocks
 * of sixteen channels, TS_PW_W16, entered at a computed block; odd: LDRD, four SXTAB16 with the
 * offset, STM per eight channels; none with `eights` 0: the column is given; with `eights` < 0 a
 * one-channel 3x3 window, its three row words packed into the column's three groups by
 * BFI/PKHBT, the window stepping on by `step` bytes), then per quad the
 * accumulators start at their biases, the pairs of groups run fully unrolled from a computed
 * entry (skip = 32 - pairs: no loop counter, which frees a register for a four-word LDM of the
 * column) and the outputs are requantized from registers (TS_PW_RQ4: 30 instructions a quad
 * with the entry and loop test, 38 before the packed store and the preloaded biases); the
 * outputs follow on. r7 (the Thumb
 * frame pointer) is saved and restored inside the block, out of the compiler's sight.
 */
TS_GEMV_FN void ts_pointwise_ssat_asm(const ts_pointwise_frame_t *frame)
{
    register const ts_pointwise_frame_t *r0 __asm__("r0") = frame;
    __asm__ volatile("push {r7}\n\t"
                     "mov r12, r0\n\t"
                     "add r0, r12, #40\n\t"
                     "ldm r0, {r0, r1, r2, r3, r4, r5}\n\t"
                     "adr r6, 3f\n\t"
                     "movs r8, #22\n\t"
                     "mls r5, r1, r8, r6\n\t" /* the widening's entry for `eights` / 2 blocks */
                     "orr r5, r5, #1\n\t"
                     "push {r0, r1, r2, r3, r4, r5}\n\t"
                     "add r0, r12, #16\n\t"
                     "ldm r0, {r0, r1, r2, r3, r4, r5}\n\t"
                     "adr r6, 5f\n\t"
                     "movs r8, #84\n\t"
                     "mla r6, r1, r8, r6\n\t"
                     "orr r6, r6, #1\n\t"
                     "push {r0, r1, r2, r3, r4, r5}\n\t"
                     "ldm r12, {r0, r1, r2, r3}\n\t"
                     "mov r1, r6\n\t"
                     "push {r0, r1, r2, r3}\n\t"
                     "8:\n\t"
                     "ldr r11, [sp, #24]\n\t"
                     "ldr r12, [sp]\n\t"
                     "ldr r7, [sp, #48]\n\t"
                     "ldr lr, [sp, #44]\n\t"
                     "cmp lr, #0\n\t"
                     "beq 7f\n\t"
                     "blt 4f\n\t"
                     "tst lr, #1\n\t"
                     "bne 9f\n\t"
                     "ldr r4, [sp, #60]\n\t"
                     "bx r4\n\t"
                     /* an odd number of eights: eight channels a step */
                     "9:\n\t"
                     "ldrd r4, r5, [r11], #8\n\t"
                     "sxtab16 r6, r7, r4\n\t"
                     "sxtab16 r8, r7, r4, ror #8\n\t"
                     "sxtab16 r9, r7, r5\n\t"
                     "sxtab16 r10, r7, r5, ror #8\n\t"
                     "stmia r12!, {r6, r8, r9, r10}\n\t"
                     "subs lr, lr, #1\n\t"
                     "bne 9b\n\t"
                     "b 7f\n\t"
                     /* a one-channel 3x3 window from its three row words: x00 x01 x02 x10 |
                      * x11 x12 x20 x21 | x22 and a byte whose weight is 0, widened */
                     "4:\n\t"
                     "ldr r8, [sp, #52]\n\t"
                     "ldr r4, [r11]\n\t"
                     "ldr r5, [r11, r8]\n\t"
                     "ldr r6, [r11, r8, lsl #1]\n\t"
                     "bfi r4, r5, #24, #8\n\t"
                     "lsr r5, r5, #8\n\t"
                     "pkhbt r5, r5, r6, lsl #16\n\t"
                     "lsr r6, r6, #16\n\t"
                     "sxtab16 r0, r7, r4\n\t"
                     "sxtab16 r1, r7, r4, ror #8\n\t"
                     "sxtab16 r2, r7, r5\n\t"
                     "sxtab16 r3, r7, r5, ror #8\n\t"
                     "sxtab16 r9, r7, r6\n\t"
                     "sxtab16 r10, r7, r6, ror #8\n\t"
                     "stm r12, {r0, r1, r2, r3, r9, r10}\n\t"
                     "ldr r4, [sp, #56]\n\t"
                     "add r11, r11, r4\n\t"
                     "b 7f\n\t"
                     /* an even number of eights: sixteen channels a block, unrolled, entered at
                      * the pixel's first block */
                     ".balign 4\n\t"
                     TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16
                     TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16 TS_PW_W16
                     "3:\n\t"
                     /* the pixel's first quad: biases in r0-r3, the table read on from its
                      * multipliers, the pixel's outputs end at out + 4 * quads */
                     "7:\n\t"
                     "str r11, [sp, #24]\n\t"
                     "ldr r11, [sp, #28]\n\t"
                     "ldrd r12, r5, [sp, #32]\n\t"
                     "ldm r12!, {r0, r1, r2, r3}\n\t"
                     "str r12, [sp, #8]\n\t"
                     "ldr r4, [sp, #12]\n\t"
                     "add r4, r4, r5, lsl #2\n\t"
                     "str r4, [sp, #16]\n\t"
                     "6:\n\t"
                     "ldrd r12, r4, [sp]\n\t"
                     "bx r4\n\t"
                     ".balign 4\n\t"
                     "5:\n\t" TS_GEMV_G8 TS_GEMV_G8 TS_GEMV_G8 TS_GEMV_G8 TS_GEMV_G8 TS_GEMV_G8 TS_GEMV_G8
                     TS_GEMV_G8
                     TS_PW_RQ4
                     "cmp lr, r4\n\t"
                     "bne 6b\n\t"
                     "ldr r4, [sp, #40]\n\t"
                     "subs r4, r4, #1\n\t"
                     "str r4, [sp, #40]\n\t"
                     "bne 8b\n\t"
                     "add sp, sp, #64\n\t"
                     "pop {r7}\n\t"
                     : "+r"(r0)
                     :
                     : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
}
#undef TS_GEMV_G8
#undef TS_GEMV_G2
#undef TS_PW_RQ4
#undef TS_PW_RQ
#undef TS_PW_W16

TS_GEMV_ASM_FN(ts_gemv_ssat_asm, "")
TS_GEMV_ASM_FN(ts_gemv_ssat_asm_pad, "add r11, r11, #32\n\t")
#undef TS_GEMV_ASM_FN
#undef TS_GEMV_INIT4
#undef TS_GEMV_RQ4
#undef TS_GEMV_RQ
#undef TS_GEMV_G

/* A gemv's choices made once per layer (ts_gemv_plan) for the calls of each column (ts_gemv_run). */
typedef struct {
    const int16_t *w;
    int32_t k, rows, act_min, act_max;
    const ts_rq4_t *rq;
    void (*fn)(const int16_t *, const ts_gemv_frame_t *); /* the eight-group loop for the int8 range */
    int unrollable;                                         /* ts_pointwise_ssat_asm applies (k <= 256) */
    int unrolled;                                           /* and runs each column */
    ts_gemv_frame_t frame;                                  /* fn's frame: col and out set per call */
    ts_pointwise_frame_t pw;                                /* the unrolled one's */
} ts_gemv_plan_t;

static inline void ts_gemv_plan(ts_gemv_plan_t *g, const int16_t *w, int32_t k, int32_t rows, const ts_rq4_t *rq,
                                int32_t act_min, int32_t act_max)
{
    const int32_t groups = (k + 3) >> 2, passes = (groups + 7) >> 3, pairs = (k + 7) >> 3; /* k8 / 8 */
    g->w = w, g->k = k, g->rows = rows, g->rq = rq, g->act_min = act_min, g->act_max = act_max;
    g->fn = NULL;
    g->unrolled = 0;
    g->unrollable = 0;
    g->frame = (ts_gemv_frame_t){NULL, passes, rq, NULL, rows >> 2, 8 * passes - groups};
    g->unrollable = act_min == -128 && act_max == 127 && pairs <= 32;
    if (act_min == -128 && act_max == 127) {
        g->fn = (groups & 1) ? ts_gemv_ssat_asm_pad : ts_gemv_ssat_asm;
        /* the unrolled pairs save instructions per quad, the loop's entry is leaner (about 24) */
        const int32_t saved = 11 * groups + 2 * passes + (groups & 1) - 21 * pairs;
        g->unrolled = g->unrollable && ((rows + 3) >> 2) * saved > 24;
    }
    const ts_gemv_frame_t one = {NULL, 0, rq, NULL, rows >> 2, 32 - pairs};
    g->pw = (ts_pointwise_frame_t){one, NULL, w, rq, rows >> 2, 1, 0, 0, 0, 0, {0, 0}};
}

/* quads of rows from row quad q times the column into out, in assembly */
static inline void ts_gemv_quads(ts_gemv_plan_t *g, const int16_t *col, int32_t q, int32_t quads, int8_t *out)
{
    const int16_t *w = g->w + (size_t)q * 4 * (((g->k + 7) >> 3) << 3);
    if (g->unrolled) {
        g->pw.gemv.col = col;
        g->pw.gemv.out = out;
        g->pw.w = w;
        g->pw.rq = g->rq + q;
        g->pw.quads = quads;
        ts_pointwise_ssat_asm(&g->pw);
        return;
    }
    g->frame.col = col;
    g->frame.rq = g->rq + q;
    g->frame.out = out;
    g->frame.quads = quads;
    g->fn(w, &g->frame);
}

/** out[r] = requantized (row r . col) for r < rows, as planned (ts_gemv_body: the same arithmetic;
 * in assembly for the int8 range, a last quad of fewer than four rows into a scratch). */
static inline void ts_gemv_run(ts_gemv_plan_t *g, const int16_t *col, int8_t *out)
{
    if (g->fn == NULL) {
        (((g->k + 3) >> 2) & 1 ? ts_gemv_clamp_odd : ts_gemv_clamp)(g->w, col, g->k, g->rows, g->rq, g->act_min,
                                                                    g->act_max, out);
        return;
    }
    const int32_t quads = g->rows >> 2, rest = g->rows & 3;
    if (quads > 0) {
        ts_gemv_quads(g, col, 0, quads, out);
    }
    if (rest > 0) {
        int8_t last[4];
        ts_gemv_quads(g, col, quads, 1, last);
        for (int32_t i = 0; i < rest; ++i) {
            out[4 * quads + i] = last[i];
        }
    }
}

/** One gemv (ts_gemv_plan + ts_gemv_run). */
static inline void ts_gemv_dsp(const int16_t *w, const int16_t *col, int32_t k, int32_t rows, const ts_rq4_t *rq,
                               int32_t act_min, int32_t act_max, int8_t *out)
{
    ts_gemv_plan_t g;
    ts_gemv_plan(&g, w, k, rows, rq, act_min, act_max);
    ts_gemv_run(&g, col, out);
}

#endif /* TS_GEMM_DSP_H */
