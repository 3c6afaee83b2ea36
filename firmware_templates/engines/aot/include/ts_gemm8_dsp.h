/*
 * ts_gemm8_dsp.h - int8-weight matrix x two columns on the DSP extension (`--kernels size`).
 *
 * The generator keeps CONV_2D / FULLY_CONNECTED filters [rows, k] int8 (toolchain/codegen/
 * aot_opt.py dsp_filter8): rows in pairs, k padded to a multiple of 4, per group of four k row 0's
 * four bytes then row 1's, so one LDRD reads a pair's group; the requantization is the portable
 * bias, multiplier and shift re-laid per pair of rows (dsp_requant8: the same bytes). Weights are
 * widened in registers: SXTB16 of a word gives (w0, w2), SXTB16 ROR 8 (w1, w3), the order of the
 * int16 column (ts_gemm_dsp.h: (x0, x2) (x1, x3) per group, input offset added). Two columns (two
 * output pixels) share each widened weight: their groups interleaved (A's two words, B's two
 * words) are one LDM, and a pair of rows times the pair of columns is four accumulators, fourteen
 * instructions per sixteen MACs. For the int8 range every pair of rows runs in one assembly block
 * (ts_gemm8_ssat_asm) that requantizes from registers; other clamps run the same arithmetic in C.
 * The accumulators hold acc, doubled before the requantization (ts_rq_t expects 2 * acc).
 */
#ifndef TS_GEMM8_DSP_H
#define TS_GEMM8_DSP_H

#include "ts_opt.h"
#include "ts_simd.h"

#if defined(__GNUC__)
#define TS_GEMM8_FN __attribute__((weak, noinline))
#else
#define TS_GEMM8_FN static
#endif

/** Groups of four k the assembly block unrolls (entered at a computed group). */
#define TS_GEMM8_UNROLL 16

/* What ts_gemm8_ssat_asm reads: the interleaved columns and their end, the entry into the unrolled
 * groups (the first pass skips some), the requantization table (dsp_requant8), the two outputs'
 * pointers and out_a's end. Field order = the block's stack layout. */
typedef struct {
    const int16_t *cols;
    int32_t skip; /* replaced by the entry's address on the stack */
    const int16_t *cols_end;
    const int32_t *rq;
    int8_t *out_a, *out_b, *out_a_end;
    int32_t odd_offset; /* 2 * output_offset + 1: add = odd_offset << (right - 1) */
} ts_gemm8_frame_t;

/**
 * Interleave the columns of two pixels for ts_gemm8: per group of four k, A's two words then
 * B's (each (x0 + offset, x2 + offset) (x1 + offset, x3 + offset)).
 * @param[in]  a, b    groups * 4 int8 inputs each (b may equal a)
 * @param[out] cols    groups * 4 words, 4-byte aligned
 */
static inline void ts_cols8_fill(const int8_t *a, const int8_t *b, int32_t groups, int32_t offset, uint32_t *cols)
{
    const uint32_t off2 = ts_dup16(offset);
    for (int32_t g = 0; g < groups; ++g, cols += 4) {
        const uint32_t va = ts_read32(a + 4 * g), vb = ts_read32(b + 4 * g);
        cols[0] = ts_sxtab16(off2, va);
        cols[1] = ts_sxtab16_ror8(off2, va);
        cols[2] = ts_sxtab16(off2, vb);
        cols[3] = ts_sxtab16_ror8(off2, vb);
    }
}

/* one group of four k for a pair of rows and the pair of columns, exactly 56 bytes (fourteen
 * 32-bit instructions): r0 r1 row 0 (A, B), r2 r3 row 1 (A, B) */
#define TS_G8                                      \
    "ldmia.w r12!, {r4, r5, r6, r8}\n\t"           \
    "ldrd r9, r10, [r11], #8\n\t"                  \
    "sxtb16 lr, r9\n\t"                            \
    "sxtb16 r9, r9, ror #8\n\t"                    \
    "smlad r0, lr, r4, r0\n\t"                     \
    "smlad r0, r9, r5, r0\n\t"                     \
    "smlad r1, lr, r6, r1\n\t"                     \
    "smlad r1, r9, r8, r1\n\t"                     \
    "sxtb16 lr, r10\n\t"                           \
    "sxtb16 r10, r10, ror #8\n\t"                  \
    "smlad r2, lr, r4, r2\n\t"                     \
    "smlad r2, r10, r5, r2\n\t"                    \
    "smlad r3, lr, r6, r3\n\t"                     \
    "smlad r3, r10, r8, r3\n\t"
/* output o = ts_rq_value(2 * a) with multiplier m, add d, right r, SSAT */
#define TS_G8_RQ(o, a, m, d, r)                      \
    "lsl " a ", " a ", #1\n\t"                       \
    "smmlar " o ", " a ", " m ", " d "\n\t"          \
    "add " o ", " o ", " a ", asr #31\n\t"           \
    "asr " o ", " o ", " r "\n\t"                    \
    "ssat " o ", #8, " o "\n\t"

/*
 * Pairs of rows of the int8 filter (w, read on) times two interleaved columns, requantized to the
 * int8 range, in one assembly block: per pair the accumulators start at the rows' biases, the
 * groups run unrolled TS_GEMM8_UNROLL times from a computed entry until the columns' end, then
 * each row's {add, right} is derived from its shift (add = (2 * output_offset + 1) << (right - 1),
 * right - 1 = ~shift) and the four outputs stored as two halfwords. Registers: r0-r3
 * accumulators, r4-r6 r8 columns, r9 r10 weights, lr widened weights, r11 weights' pointer, r12
 * columns' pointer; r7 (the Thumb frame pointer) is left alone.
 */
TS_GEMM8_FN void ts_gemm8_ssat_asm(const int8_t *w, const ts_gemm8_frame_t *frame)
{
    register const int8_t *r11 __asm__("r11") = w;
    register const ts_gemm8_frame_t *r0 __asm__("r0") = frame;
    __asm__ volatile("ldm r0, {r1, r2, r3, r4, r5, r6, r8, r9}\n\t"
                     "adr r12, 5f\n\t"
                     "movs r0, #56\n\t"
                     "mla r2, r2, r0, r12\n\t"
                     "orr r2, r2, #1\n\t"
                     "push {r1, r2, r3, r4, r5, r6, r8, r9}\n\t"
                     /* [sp]: cols, +4 entry, +8 cols_end, +12 rq, +16 out_a, +20 out_b, +24 out_a_end,
                      * +28 odd_offset */
                     "6:\n\t"
                     "ldr r4, [sp, #12]\n\t"
                     "ldm r4!, {r0, r2}\n\t"
                     "str r4, [sp, #12]\n\t"
                     "mov r1, r0\n\t"
                     "mov r3, r2\n\t"
                     "ldrd r12, lr, [sp]\n\t"
                     "bx lr\n\t"
                     ".balign 4\n\t"
                     "5:\n\t" TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8 TS_G8
                     TS_G8 TS_G8 TS_G8
                     "ldr lr, [sp, #8]\n\t"
                     "cmp r12, lr\n\t"
                     "bne 5b\n\t"
                     /* the pair's requantization: r4 r5 multipliers, r9 r10 adds, r6 r8 rights */
                     "ldr r12, [sp, #12]\n\t"
                     "ldm r12!, {r4, r5, r6, r8}\n\t"
                     "str r12, [sp, #12]\n\t"
                     "ldr lr, [sp, #28]\n\t"
                     "mvn r6, r6\n\t"
                     "mvn r8, r8\n\t"
                     "lsl r9, lr, r6\n\t"
                     "lsl r10, lr, r8\n\t"
                     "add r6, r6, #1\n\t"
                     "add r8, r8, #1\n\t"
                     TS_G8_RQ("r12", "r0", "r4", "r9", "r6") TS_G8_RQ("lr", "r1", "r4", "r9", "r6")
                     TS_G8_RQ("r0", "r2", "r5", "r10", "r8") TS_G8_RQ("r1", "r3", "r5", "r10", "r8")
                     "ldrd r2, r3, [sp, #16]\n\t"
                     "bfi r12, r0, #8, #8\n\t"
                     "strh r12, [r2], #2\n\t"
                     "bfi lr, r1, #8, #8\n\t"
                     "strh lr, [r3], #2\n\t"
                     "strd r2, r3, [sp, #16]\n\t"
                     "ldr r4, [sp, #24]\n\t"
                     "cmp r2, r4\n\t"
                     "bne 6b\n\t"
                     "add sp, sp, #32\n\t"
                     : "+r"(r11), "+r"(r0)
                     :
                     : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r12", "lr", "cc", "memory");
}
#undef TS_G8_RQ
#undef TS_G8

/* ts_gemm8_ssat_asm's arithmetic in C for any activation clamp */
static inline void ts_gemm8_clamp(const int8_t *w, const ts_gemm8_frame_t *f, int32_t groups, int32_t act_min,
                                  int32_t act_max)
{
    const int32_t offset = (f->odd_offset - 1) / 2;
    const int32_t *rq = f->rq;
    for (int32_t r = 0; f->out_a + r != f->out_a_end; r += 2, w += 8 * groups, rq += 6) {
        int32_t acc[4] = {rq[0], rq[0], rq[1], rq[1]};
        const uint32_t *c = (const uint32_t *)(const void *)f->cols;
        for (int32_t g = 0; g < groups; ++g, c += 4) {
            for (int32_t i = 0; i < 2; ++i) {
                const uint32_t v = ts_read32(w + 8 * g + 4 * i), lo = ts_sxtb16(v), hi = ts_sxtb16_ror8(v);
                acc[2 * i] = ts_smlad(hi, c[1], ts_smlad(lo, c[0], acc[2 * i]));
                acc[2 * i + 1] = ts_smlad(hi, c[3], ts_smlad(lo, c[2], acc[2 * i + 1]));
            }
        }
        for (int32_t i = 0; i < 4; ++i) {
            const int32_t right = -rq[4 + i / 2];
            const ts_rq_t q = {0, rq[2 + i / 2], (1 << (right - 1)) + offset * (1 << right), right};
            (i & 1 ? f->out_b : f->out_a)[r + i / 2] = ts_rq_apply(2 * acc[i], &q, act_min, act_max);
        }
    }
}

/**
 * out_a[r], out_b[r] = requantized (row r . column A / B) for all rows (an even number).
 * @param[in] w      the int8 filter as dsp_filter8 lays it out, 4-byte aligned
 * @param[in] cols   the two columns as ts_cols8_fill interleaves them (groups of four k)
 * @param[in] rq     per pair of rows {bias[2], multiplier[2], shift[2]} (dsp_requant8, shift < 0)
 */
static inline void ts_gemm8_run(const int8_t *w, const uint32_t *cols, int32_t groups, int32_t rows,
                                const int32_t *rq, int32_t output_offset, int32_t act_min, int32_t act_max,
                                int8_t *out_a, int8_t *out_b)
{
    const int32_t passes = (groups + TS_GEMM8_UNROLL - 1) / TS_GEMM8_UNROLL;
    const ts_gemm8_frame_t f = {(const int16_t *)(const void *)cols, passes * TS_GEMM8_UNROLL - groups,
                                (const int16_t *)(const void *)(cols + 4 * groups), rq, out_a, out_b, out_a + rows,
                                2 * output_offset + 1};
    if (act_min == -128 && act_max == 127) {
        ts_gemm8_ssat_asm(w, &f);
    } else {
        ts_gemm8_clamp(w, &f, groups, act_min, act_max);
    }
}

#endif /* TS_GEMM8_DSP_H */
