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
 * Same shapes (in place too), and an operand broadcast as a scalar or along the last
 * dimension only run here; other broadcasts, left shifts other than 20 and
 * requantizations outside the forms above use the portable kernel.
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

/* out[i] = a[i] + b[i * b_step] for i < n (b_step 1, or 0: a scalar); b_step, half1, half2
 * and full are constants where this is inlined (one loop per combination). */
TS_ALWAYS_INLINE void ts_add_run(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                                 const ts_add_dsp_t *k, int half1, int half2, int full)
{
    const ts_add_dsp_t kk = *k; /* a local copy: the byte stores cannot alias it (no reloads) */
    const int8_t *end = a + n;
    while (a < end) {
        *out++ = ts_add1(*a++, *b, &kk, half1, half2, full);
        b += b_step;
    }
}

/* ts_add_run with the clamp's form as a constant. */
TS_ALWAYS_INLINE void ts_add_run_full(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                                      const ts_add_dsp_t *k, int half1, int half2)
{
    if (k->lo == -128 && k->hi == 127) {
        ts_add_run(a, b, b_step, out, n, k, half1, half2, 1);
    } else {
        ts_add_run(a, b, b_step, out, n, k, half1, half2, 0);
    }
}

/* ts_add_run with the operands' forms as constants. */
TS_ALWAYS_INLINE void ts_add_run_halves(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                                        const ts_add_dsp_t *k)
{
    if (k->in[0].half && k->in[1].half) {
        ts_add_run_full(a, b, b_step, out, n, k, 1, 1);
    } else if (k->in[1].half) {
        ts_add_run_full(a, b, b_step, out, n, k, 0, 1);
    } else if (k->in[0].half) {
        ts_add_run_full(a, b, b_step, out, n, k, 1, 0);
    } else {
        ts_add_run_full(a, b, b_step, out, n, k, 0, 0);
    }
}

/* `rows` rows of n elements of a (and out) against one row of b (b_step 1) or the scalar b[0] (0). */
static void ts_add_rows(const int8_t *a, const int8_t *b, int32_t b_step, int8_t *out, int32_t rows, int32_t n,
                        const ts_add_dsp_t *k)
{
    for (int32_t r = 0; r < rows; ++r, a += n, out += n) {
        if (b_step) {
            ts_add_run_halves(a, b, 1, out, n, k);
        } else {
            ts_add_run_halves(a, b, 0, out, n, k);
        }
    }
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

/* Operand strides st as a run step: 1 for a row along the last dimension only, 0 for a scalar, else -1. */
static int32_t ts_add_row_step(const int32_t *st)
{
    for (int32_t d = 0; d < TS_MAX_DIMS - 1; ++d) {
        if (st[d] != 0) {
            return -1;
        }
    }
    return st[TS_MAX_DIMS - 1] == 0 || st[TS_MAX_DIMS - 1] == 1 ? st[TS_MAX_DIMS - 1] : -1;
}

/* Whether operand strides st are the output's own (no broadcasting of that operand). */
static int ts_add_full(const ts_broadcast_t *s, const int32_t *st)
{
    int32_t acc = 1;
    for (int32_t d = TS_MAX_DIMS - 1; d >= 0; --d) {
        if (s->dims[d] != 1 && st[d] != acc) {
            return 0;
        }
        acc *= s->dims[d];
    }
    return 1;
}

int32_t ts_add_s8(const ts_add_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_add_params_t *p = params;
    const ts_broadcast_t *s = &p->shape;
    ts_add_dsp_t k;
    const int32_t right = -p->output_shift;
    const int64_t add = right >= 1 && right <= 31
                            ? ((int64_t)1 << (right - 1)) + (int64_t)p->output_offset * ((int64_t)1 << right)
                            : (int64_t)1 << 40;
    int ok = p->left_shift == 20 && add < (1 << 30) && add > -(1 << 30) &&
             ts_add_in(p->input1_offset, p->input1_multiplier, p->input1_shift, &k.in[0]) &&
             ts_add_in(p->input2_offset, p->input2_multiplier, p->input2_shift, &k.in[1]);
    k.out.bias2 = 0;
    k.out.multiplier = p->output_multiplier;
    k.out.add = (int32_t)add;
    k.out.right = right;
    k.lo = p->act_min;
    k.hi = p->act_max;
    if (ok && !s->broadcast) {
        ts_add_rows(input1, input2, 1, output, 1, s->size, &k);
        return TS_OK;
    }
    const int32_t last = s->dims[TS_MAX_DIMS - 1];
    for (int32_t swap = 0; ok && last > 0 && swap < 2; ++swap) { /* swap: operand 1 is the broadcast one */
        const int32_t step = ts_add_row_step(swap ? s->stride1 : s->stride2);
        if (step >= 0 && ts_add_full(s, swap ? s->stride2 : s->stride1)) {
            if (swap) {
                const ts_add_in_t first = k.in[0];
                k.in[0] = k.in[1];
                k.in[1] = first;
            }
            const int32_t n = step ? last : s->size;
            ts_add_rows(swap ? input2 : input1, swap ? input1 : input2, step, output, s->size / n, n, &k);
            return TS_OK;
        }
    }
    return ts_add_s8_portable(params, input1, input2, output);
}
#endif /* TS_OPT_DSP */
