/**
 * @file ts_fixedpoint.h
 * @brief Q-format fixed-point helpers shared by the aot nonlinear kernels.
 *
 * Integer arithmetic that reproduces, bit for bit, what TFLM's reference int8
 * kernels compute through gemmlowp's fixed-point library (exp, 1/(1+x),
 * logistic, tanh), built on the primitives of ts_kernels.h. A value in format
 * Qm (m integer bits) is an int32 raw r meaning r / 2^(31 - m).
 *
 * Relies on two's complement int32 and arithmetic right shift of negative
 * values (gcc and arm-none-eabi-gcc guarantee both).
 */
#ifndef TS_FIXEDPOINT_H
#define TS_FIXEDPOINT_H

#include "ts_kernels.h"

/** x * 2^exponent saturated to int32, 0 < exponent < 31 (gemmlowp SaturatingRoundingMultiplyByPOT). */
static inline int32_t ts_fx_saturating_shift_left(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/** exp(a) for a in [-1/4, 0), a and result in Q0. */
static inline int32_t ts_fx_exp_quarter(int32_t a)
{
    const int32_t exp_minus_1_8 = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28);          /* Taylor series around -1/8 */
    const int32_t x2 = ts_srdhm(x, x);
    const int32_t x3 = ts_srdhm(x2, x);
    const int32_t x4 = ts_srdhm(x2, x2);
    const int32_t x4_over_4 = ts_rounding_divide_by_pot(x4, 2);
    const int32_t poly = ts_rounding_divide_by_pot(ts_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_1_8 + ts_srdhm(exp_minus_1_8, x + poly);
}

/** exp(a) for a <= 0; a in Q(integer_bits) with 0 < integer_bits <= 5, result in Q0. */
static inline int32_t ts_fx_exp_on_negative_values(int32_t a, int integer_bits)
{
    /* exp(-2^k) in Q0, k = -2 .. 4 */
    static const int32_t k_exp_pot[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535, 720401, 242};
    const int frac_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = ts_fx_exp_quarter(ts_fx_saturating_shift_left(mod_quarter_minus_quarter, integer_bits));
    const int32_t remainder = mod_quarter_minus_quarter - a;
    for (int k = -2; k <= 4 && k < integer_bits; ++k) {
        if (remainder & ((int32_t)1 << (frac_bits + k))) {
            result = ts_srdhm(result, k_exp_pot[k + 2]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/** 1 / (1 + a) in Q2 for a in [0, 1) given in Q0 (Newton-Raphson, 3 steps). */
static inline int32_t ts_fx_reciprocal_q2(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = 1515870810 + ts_srdhm(half_denominator, -1010580540); /* 48/17 - 32/17 d */
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus_dx = one_q2 - ts_srdhm(half_denominator, x);
        x = x + ts_fx_saturating_shift_left(ts_srdhm(x, one_minus_dx), 2);
    }
    return x;
}

/** 1 / (1 + a) in Q0 for a in [0, 1) in Q0. */
static inline int32_t ts_fx_one_over_one_plus_x(int32_t a)
{
    /* the Q2 raw read as Q1 is x / 2, then rescaled to Q0 */
    return ts_fx_saturating_shift_left(ts_fx_reciprocal_q2(a), 1);
}

/** (1 - a) / (1 + a) in Q0 for a in [0, 1) in Q0. */
static inline int32_t ts_fx_one_minus_x_over_one_plus_x(int32_t a)
{
    return ts_fx_saturating_shift_left(ts_fx_reciprocal_q2(a) - ((int32_t)1 << 29), 2);
}

/** logistic(a) in Q0 for a in Q(integer_bits), integer_bits <= 5. */
static inline int32_t ts_fx_logistic(int32_t a, int integer_bits)
{
    if (a == 0) {
        return (int32_t)1 << 30;
    }
    const int32_t positive = ts_fx_one_over_one_plus_x(
        ts_fx_exp_on_negative_values(a > 0 ? -a : a, integer_bits));
    return a > 0 ? positive : INT32_MAX - positive;
}

/** tanh(a) in Q0 for a in Q(integer_bits), integer_bits <= 4. */
static inline int32_t ts_fx_tanh(int32_t a, int integer_bits)
{
    if (a == 0) {
        return 0;
    }
    /* the raw of -|a| read with one more integer bit is -2|a| */
    const int32_t t = ts_fx_one_minus_x_over_one_plus_x(
        ts_fx_exp_on_negative_values(a < 0 ? a : -a, integer_bits + 1));
    return a < 0 ? -t : t;
}

/** An element-wise int8 function: `params` is the kernel's parameter struct. */
typedef int8_t (*ts_fx_s8_fn)(const void *params, int8_t x);

/**
 * output[i] = f(params, input[i]). Past 256 elements, f is first tabulated over
 * every int8 value (256 bytes of stack), so each element costs a lookup.
 * `output` may alias `input`.
 */
static inline void ts_fx_map_s8(const void *params, ts_fx_s8_fn f, int32_t size, const int8_t *input, int8_t *output)
{
    if (size <= 256) {
        for (int32_t i = 0; i < size; ++i) {
            output[i] = f(params, input[i]);
        }
        return;
    }
    int8_t table[256];
    for (int32_t v = 0; v < 256; ++v) {
        table[v] = f(params, (int8_t)(v - 128));
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = table[input[i] + 128];
    }
}

#endif /* TS_FIXEDPOINT_H */
