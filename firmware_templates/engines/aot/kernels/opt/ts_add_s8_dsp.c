/*
 * ts_add_s8_dsp.c - ADD on the DSP extension (Cortex-M4/M7/M33), one element per step
 * in 32-bit registers.
 *
 * TFLite's int8 ADD scales each operand as x = (v + offset) << 20 and applies three
 * MultiplyByQuantizedMultiplier steps (two operands, then their sum). Every one of them
 * sees |x| < 2^29 (|v + offset| <= 255, and the rescaled operands are at most x / 2), so
 * each is ts_opt.h's one-SMMLAR form: from 2x (for the operands one ADD with a shifted
 * register: offset * 2^21 + v << 21), SMMLAR adds the rounding term, the sign bit of x
 * corrects it, and one arithmetic shift ends it; the output's rounding term also carries
 * the output zero point (ts_rq_t). The operand with the larger scale has multiplier 2^30
 * and shift 0 (scale ratio 1/2): its rescale is exactly x / 2 (x is even), which goes
 * straight into the doubled sum (offset * 2^20 + v << 20).
 *
 * Same shapes run as one row (in place too); broadcasts row by row over the shape's last
 * merged dimension (ts_rows_t, ts_opt.h), each row operand 1 against operand 2 or one
 * repeated element of it, the operands' roles swapped when operand 1 is the repeated one.
 * SUB, left shifts other than 20 and requantizations outside the forms above use the
 * portable kernel.
 */
#include "ts_add_s8.h"

#if TS_OPT_DSP

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_add_s8_portable(const ts_add_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/* One operand's rescale: offset2 = offset * 2^21 (2x), or offset * 2^20 when half. */
typedef struct {
    int32_t offset2, multiplier, round, right;
    int half; /* multiplier 2^30, shift 0: x / 2 exactly */
} ts_add_in_t;

typedef struct {
    ts_add_in_t in[2];
    ts_rq_t out; /* output rescale (bias2 unused), output offset folded into add */
    int32_t lo, hi;
} ts_add_dsp_t;

/* ts_requant of x = (v + offset) << 20 from 2x, for an operand that is not half. */
TS_ALWAYS_INLINE int32_t ts_add_rescale(int32_t v, const ts_add_in_t *in)
{
    const int32_t x2 = in->offset2 + (int32_t)((uint32_t)v << 21);
    return (ts_smmlar(x2, in->multiplier, in->round) + (x2 >> 31)) >> in->right;
}

/* One output element from one element of each operand (half1/half2, full: constants where inlined). */
TS_ALWAYS_INLINE int8_t ts_add1(int32_t v1, int32_t v2, const ts_add_dsp_t *k, int half1, int half2, int full)
{
    int32_t sum2; /* twice the sum of the rescaled operands */
    if (half1 && half2) {
        sum2 = k->in[0].offset2 + k->in[1].offset2 + (int32_t)((uint32_t)(v1 + v2) << 20);
    } else if (half2) {
        sum2 = k->in[1].offset2 + (int32_t)((uint32_t)v2 << 20) + 2 * ts_add_rescale(v1, &k->in[0]);
    } else if (half1) {
        sum2 = k->in[0].offset2 + (int32_t)((uint32_t)v1 << 20) + 2 * ts_add_rescale(v2, &k->in[1]);
    } else {
        sum2 = 2 * (ts_add_rescale(v1, &k->in[0]) + ts_add_rescale(v2, &k->in[1]));
    }
    const int32_t y = ts_rq_value(sum2, &k->out);
    if (full) {
        return (int8_t)ts_ssat8(y);
    }
    return (int8_t)(y < k->lo ? k->lo : y > k->hi ? k->hi : y);
}

/*
 * `rows` rows of n elements: out[i] = a[i] + b[i * b_step] (b_step 1, or 0: a repeated
 * element), a and b moving to each next row by ts_rows_next(r). b_step, half1, half2 and
 * full are constants where this is inlined (one loop per combination).
 */
TS_ALWAYS_INLINE void ts_add_run(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                                 int32_t rows, ts_rows_t *r, const ts_add_dsp_t *restrict k, int half1, int half2,
                                 int full)
{ /* restrict: the byte stores do not touch *k, which stays in registers */
    int32_t oa = 0, ob = 0;
    for (; rows > 0; --rows) {
        const int8_t *x = a + oa, *y = b + ob;
        const int8_t *end = x + n;
        while (x < end) {
            *out++ = ts_add1(*x++, *y, k, half1, half2, full);
            y += b_step;
        }
        if (rows > 1) {
            ts_rows_next(r, &oa, &ob);
        }
    }
}

/* ts_add_run with the operands' forms, the clamp's and b_step as constants. */
static void ts_add_rows(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t n, int32_t rows,
                        ts_rows_t *r, const ts_add_dsp_t *k)
{
    const int half1 = k->in[0].half, half2 = k->in[1].half, full = k->lo == -128 && k->hi == 127;
#define TS_ADD_RUN(h1, h2)                                                  \
    do {                                                                    \
        if (b_step && full) {                                               \
            ts_add_run(a, b, 1, out, n, rows, r, k, h1, h2, 1);             \
        } else if (b_step) {                                                \
            ts_add_run(a, b, 1, out, n, rows, r, k, h1, h2, 0);             \
        } else if (full) {                                                  \
            ts_add_run(a, b, 0, out, n, rows, r, k, h1, h2, 1);             \
        } else {                                                            \
            ts_add_run(a, b, 0, out, n, rows, r, k, h1, h2, 0);             \
        }                                                                   \
    } while (0)
    if (half1 && half2) {
        TS_ADD_RUN(1, 1);
    } else if (half2) {
        TS_ADD_RUN(0, 1);
    } else if (half1) {
        TS_ADD_RUN(1, 0);
    } else {
        TS_ADD_RUN(0, 0);
    }
#undef TS_ADD_RUN
}

/* An operand's rescale in the fast forms, or 0 (left shift, or shift 0 with another multiplier). */
static int ts_add_in(int32_t offset, int32_t multiplier, int32_t shift, ts_add_in_t *in)
{
    in->half = multiplier == (1 << 30) && shift == 0;
    in->offset2 = offset * (in->half ? 1 << 20 : 1 << 21);
    in->multiplier = multiplier;
    in->right = -shift;
    in->round = in->right >= 1 ? 1 << (in->right - 1) : 0;
    return in->half || (shift <= -1 && shift >= -31);
}

/* The element-wise sum over the broadcast shape as rows (ts_rows_plan; same shapes are one
 * run, in place too: each step reads its elements before writing them): 0, or -1 for a shape
 * without that form. */
static int32_t ts_add_walk(const ts_broadcast_t *s, const int8_t *in1, const int8_t *in2, int8_t *out, ts_add_dsp_t *k)
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
    ts_add_dsp_t k;
    const int32_t right = -p->output_shift;
    const int64_t add = right >= 1 && right <= 31
                            ? ((int64_t)1 << (right - 1)) + (int64_t)p->output_offset * ((int64_t)1 << right)
                            : (int64_t)1 << 40;
    int ok = !p->subtract && p->left_shift == 20 && add < (1 << 30) && add > -(1 << 30) &&
             ts_add_in(p->input1_offset, p->input1_multiplier, p->input1_shift, &k.in[0]) &&
             ts_add_in(p->input2_offset, p->input2_multiplier, p->input2_shift, &k.in[1]);
    k.out.bias2 = 0;
    k.out.multiplier = p->output_multiplier;
    k.out.add = (int32_t)add;
    k.out.right = right;
    k.lo = p->act_min;
    k.hi = p->act_max;
    if (ok && ts_add_walk(&p->shape, input1, input2, output, &k) == 0) {
        return TS_OK;
    }
    return ts_add_s8_portable(params, input1, input2, output);
}
#endif /* TS_OPT_DSP */
