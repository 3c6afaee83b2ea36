/**
 * @file ts_fx_act_s8.h
 * @brief LOGISTIC and TANH, element-wise, int8 in, int8 out.
 *
 * Both take the input to Q4.27 the same way (TFLM's LOGISTIC and TANH Prepare
 * compute the same four numbers) and differ only in the function applied.
 */
#ifndef TS_FX_ACT_S8_H
#define TS_FX_ACT_S8_H

#include "ts_kernels.h"

/** Parameters computed at generation time. */
typedef struct {
    int32_t size;                /**< number of elements */
    int32_t input_offset;        /**< -input_zero_point */
    int32_t input_range_radius;  /**< |input + input_offset| at or beyond this saturates */
    int32_t input_multiplier;    /**< Q31 multiplier of input_scale * 2^27 (input to Q4.27) */
    int32_t input_left_shift;    /**< its shift */
} ts_fx_act_params_t;

/**
 * @brief `value` in Q4.27, or the saturation side.
 * @return -1 (at or below -radius), +1 (at or above +radius), else 0 with *x_q4 set
 */
static inline int ts_fx_act_input(const ts_fx_act_params_t *params, int8_t value, int32_t *x_q4)
{
    const int32_t x = value + params->input_offset;
    if (x <= -params->input_range_radius) {
        return -1;
    }
    if (x >= params->input_range_radius) {
        return 1;
    }
    *x_q4 = ts_mbqm(x, params->input_multiplier, params->input_left_shift);
    return 0;
}

/*
 * Past 256 elements each function is tabulated first over every int8 value
 * (256 bytes of stack), then each element is a lookup. `output` may alias
 * `input`. Both return TS_OK, or TS_ERR_ARG for NULL pointers.
 */

/** @brief Logistic (sigmoid); the output has scale 1/256 and zero point -128. */
int32_t ts_logistic_s8(const ts_fx_act_params_t *params, const int8_t *input, int8_t *output);

/** @brief Hyperbolic tangent; the output has scale 1/128 and zero point 0. */
int32_t ts_tanh_s8(const ts_fx_act_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_FX_ACT_S8_H */
