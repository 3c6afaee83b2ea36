/* SOFTMAX int8: gemmlowp fixed-point exp and reciprocal, as TFLM reference_ops::Softmax. */
#include "ts_softmax_s8.h"

#include "ts_fixedpoint.h"

enum {
    DIFF_INTEGER_BITS = 5,   /* scaled differences are Q5.26 */
    SUM_INTEGER_BITS = 12,   /* the sum of exps is Q12.19 */
};

/** exp(beta * scale * diff) in Q0 for diff <= 0, or 0 below diff_min. */
static int32_t exp_of_diff(const ts_softmax_params_t *params, int32_t diff)
{
    if (diff < params->diff_min) {
        return 0;
    }
    const int32_t scaled = ts_mbqm(diff, params->input_multiplier, params->input_left_shift);
    return ts_fx_exp_on_negative_values(scaled, DIFF_INTEGER_BITS);
}

int32_t ts_softmax_s8(const ts_softmax_params_t *params, const int8_t *input, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL || params->depth <= 0) {
        return TS_ERR_ARG;
    }
    const int32_t depth = params->depth;
    for (int32_t row = 0; row < params->outer_size; ++row) {
        const int8_t *in = input + row * depth;
        int8_t *out = output + row * depth;
        int32_t max_in_row = INT8_MIN;
        for (int32_t c = 0; c < depth; ++c) {
            max_in_row = ts_max_i32(max_in_row, in[c]);
        }
        int32_t sum_of_exps = 0;
        for (int32_t c = 0; c < depth; ++c) {
            sum_of_exps += ts_rounding_divide_by_pot(exp_of_diff(params, in[c] - max_in_row), SUM_INTEGER_BITS);
        }
        /* 1 / sum as a Q0 fraction of 2^num_bits_over_unit (the row maximum makes sum >= 2^19) */
        const int headroom_plus_one = __builtin_clz((uint32_t)sum_of_exps);
        const int num_bits_over_unit = SUM_INTEGER_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        const int32_t shifted_scale = ts_fx_one_over_one_plus_x(shifted_sum_minus_one);
        const int exponent = num_bits_over_unit + 31 - 8;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t exp_in_0 = exp_of_diff(params, in[c] - max_in_row);
            const int32_t unsat = ts_rounding_divide_by_pot(ts_srdhm(shifted_scale, exp_in_0), exponent);
            out[c] = ts_clamp_s8(unsat + INT8_MIN, INT8_MIN, INT8_MAX);
        }
    }
    return TS_OK;
}
