/*
 * ts_add_s8_mve.c - ADD with Helium (MVE), four int32 lanes per step.
 *
 * TFLite's int8 ADD, lane for lane: x = (v + offset) << left_shift (one VMLAS: v * 2^ls +
 * offset * 2^ls), rescaled by MultiplyByQuantizedMultiplier, the two summed and rescaled
 * the same way, offset, clamped and stored narrowing to int8.
 *
 * MultiplyByQuantizedMultiplier(x, m > 0, shift <= -1): VQRDMULH is TFLM's
 * SaturatingRoundingDoublingHighMul Y exactly, and its RoundingDivideByPOT (half away from
 * zero) is VRSHL (half up) of Y - [Y < 0]. [Y < 0] may be [x < 0]: they differ only when
 * -2^30 <= x * m < 0, where Y = 0 and both round to 0. So one VQRDMLAH adds the high
 * product to (x >> 31) and one VRSHL ends it.
 * The operand with the larger scale has multiplier 2^30 and shift 0 (scale ratio 1/2):
 * its rescale is exactly x / 2 (x is even), so it costs its VMLAS alone (by 2^(ls-1)).
 *
 * Same shapes run as one row (in place too: each step reads its lanes before writing them);
 * broadcasts row by row over the shape's last merged dimension (ts_rows_t, ts_opt.h), each
 * row operand 1 against operand 2 or one repeated element of it (its rescale then
 * loop-invariant), the operands' roles swapped when operand 1 is the repeated one. SUB and
 * shifts outside the forms above use the portable kernel.
 */
/* -O2 whatever the project level (the Helium kernels are written for it) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_add_s8.h"

#if TS_OPT_MVE
#include "ts_mve.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_add_s8_portable(const ts_add_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/* One operand's rescale: x = v * scale + offset (scale 2^ls, or 2^(ls-1) when half). */
typedef struct {
    int32_t scale, offset, multiplier, right; /* right = shift <= -1, unused when half */
    int half;                                  /* multiplier 2^30, shift 0: x / 2 exactly */
} ts_add_in_t;

typedef struct {
    ts_add_in_t in[2];
    int32_t multiplier, right, output_offset; /* output rescale, right = shift <= -1 */
    int32x4_t lo, hi;
} ts_add_mve_t;

/* TFLM MultiplyByQuantizedMultiplier(x, multiplier > 0, right <= -1) of the lanes: VQRDMLAH
 * adds the high product to the -1 of negative lanes, VRSHL rounds it (see the top). */
TS_ALWAYS_INLINE int32x4_t ts_add_requant(int32x4_t x, int32_t multiplier, int32_t right)
{
    return vrshlq_n_s32(vqrdmlahq_n_s32(vshrq_n_s32(x, 31), x, multiplier), right);
}

/* One operand's four lanes rescaled to the common scale. */
TS_ALWAYS_INLINE int32x4_t ts_add_rescale(int32x4_t v, const ts_add_in_t *in, int half)
{
    const int32x4_t x = vmlasq_n_s32(v, vdupq_n_s32(in->scale), in->offset);
    if (half) {
        return x;
    }
    return ts_add_requant(x, in->multiplier, in->right);
}

/* Four output lanes from four lanes of each operand. */
TS_ALWAYS_INLINE int32x4_t ts_add4(int32x4_t v1, int32x4_t v2, const ts_add_mve_t *k, int half1, int half2)
{
    const int32x4_t sum = vaddq_s32(ts_add_rescale(v1, &k->in[0], half1), ts_add_rescale(v2, &k->in[1], half2));
    const int32x4_t y = vaddq_n_s32(ts_add_requant(sum, k->multiplier, k->right), k->output_offset);
    return vminq_s32(vmaxq_s32(y, k->lo), k->hi);
}

/*
 * `rows` rows of n elements: out[i] = a[i] + b[i * b_step] (b_step 1, or 0: b[0] for every
 * lane, its rescale loop-invariant), a and b moving to each next row by ts_rows_next(r).
 * b_step, half1 and half2 are constants where this is inlined (one loop per combination).
 */
TS_ALWAYS_INLINE void ts_add_run(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                                 int32_t rows, ts_rows_t *r, const ts_add_mve_t *kp, int half1, int half2)
{
    const ts_add_mve_t kk = *kp; /* a local copy: the stores cannot alias it (no reloads) */
    const ts_add_mve_t *k = &kk;
    int32_t oa = 0, ob = 0;
    for (; rows > 0; --rows) {
        const int8_t *x = a + oa, *y = b + ob;
        const int32x4_t y0 = vdupq_n_s32(y[0]);
        for (int32_t i = n >> 2; i > 0; --i, x += 4, out += 4) {
            const int32x4_t vy = b_step ? vldrbq_s32(y) : y0;
            vstrbq_s32(out, ts_add4(vldrbq_s32(x), vy, k, half1, half2));
            y += 4 * b_step;
        }
        if (n & 3) {
            const mve_pred16_t p = vctp32q((uint32_t)(n & 3));
            const int32x4_t vy = b_step ? vldrbq_z_s32(y, p) : y0;
            vstrbq_p_s32(out, ts_add4(vldrbq_z_s32(x, p), vy, k, half1, half2), p);
            out += n & 3;
        }
        if (rows > 1) {
            ts_rows_next(r, &oa, &ob);
        }
    }
}

/* ts_add_run for the operands' forms (half1, half2) and b_step as constants. */
static void ts_add_rows(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t n, int32_t rows,
                        ts_rows_t *r, const ts_add_mve_t *k)
{
    const int half1 = k->in[0].half, half2 = k->in[1].half;
#define TS_ADD_RUN(h1, h2)                                              \
    do {                                                                \
        if (b_step) {                                                   \
            ts_add_run(a, b, 1, out, n, rows, r, k, h1, h2);            \
        } else {                                                        \
            ts_add_run(a, b, 0, out, n, rows, r, k, h1, h2);            \
        }                                                               \
    } while (0)
    if (half1 && !half2) {
        TS_ADD_RUN(1, 0);
    } else if (half2 && !half1) {
        TS_ADD_RUN(0, 1);
    } else if (half1) {
        TS_ADD_RUN(1, 1);
    } else {
        TS_ADD_RUN(0, 0);
    }
#undef TS_ADD_RUN
}

/* An operand's rescale in the fast forms, or 0 (left shift, or shift 0 with another multiplier). */
static int ts_add_in(int32_t left_shift, int32_t offset, int32_t multiplier, int32_t shift, ts_add_in_t *in)
{
    in->half = multiplier == (1 << 30) && shift == 0;
    in->scale = in->half ? 1 << (left_shift - 1) : 1 << left_shift;
    in->offset = offset * in->scale;
    in->multiplier = multiplier;
    in->right = shift;
    return left_shift >= 1 && left_shift <= 22 && (in->half || (shift <= -1 && shift >= -31));
}

/* The element-wise sum over the broadcast shape as rows (ts_rows_plan; same shapes are one
 * run, in place too: each step reads its elements before writing them): 0, or -1 for a shape
 * without that form. */
static int32_t ts_add_walk(const ts_broadcast_t *s, const int8_t *in1, const int8_t *in2, int8_t *out, ts_add_mve_t *k)
{
    ts_rows_t r;
    int32_t n, step;
    int swapped;
    if (ts_rows_plan(s, &r, &n, &step, &swapped) != 0) {
        return -1;
    }
    if (swapped) { /* operand 1 repeated: the roles swap */
        const ts_add_in_t first = k->in[0];
        k->in[0] = k->in[1];
        k->in[1] = first;
        ts_add_rows(in2, in1, step, out, n, s->size / n, &r, k);
    } else {
        ts_add_rows(in1, in2, step, out, n, s->size / n, &r, k);
    }
    return 0;
}

int32_t ts_add_s8(const ts_add_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_add_params_t *p = params;
    ts_add_mve_t k;
    int ok = !p->subtract &&
             ts_add_in(p->left_shift, p->input1_offset, p->input1_multiplier, p->input1_shift, &k.in[0]) &&
             ts_add_in(p->left_shift, p->input2_offset, p->input2_multiplier, p->input2_shift, &k.in[1]) &&
             p->output_shift <= -1 && p->output_shift >= -31;
    k.multiplier = p->output_multiplier;
    k.right = p->output_shift;
    k.output_offset = p->output_offset;
    k.lo = vdupq_n_s32(p->act_min);
    k.hi = vdupq_n_s32(p->act_max);
    if (ok && ts_add_walk(&p->shape, input1, input2, output, &k) == 0) {
        return TS_OK;
    }
    return ts_add_s8_portable(params, input1, input2, output);
}
#endif /* TS_OPT_MVE */
