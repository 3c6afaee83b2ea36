/**
 * @file ts_tanh_s8.h
 * @brief TANH, element-wise, int8 in, int8 out.
 */
#ifndef TS_TANH_S8_H
#define TS_TANH_S8_H

#include "ts_kernels.h"

/** Parameters computed at generation time (TFLM TANH Prepare). */
typedef struct {
    int32_t size;                /**< number of elements */
    int32_t input_offset;        /**< -input_zero_point */
    int32_t input_range_radius;  /**< |input + input_offset| at or beyond this saturates */
    int32_t input_multiplier;    /**< Q31 multiplier of input_scale * 2^27 (input to Q4.27) */
    int32_t input_left_shift;    /**< its shift */
} ts_tanh_params_t;

/**
 * @brief Hyperbolic tangent of every element.
 *
 * The output is quantized with scale 1/128 and zero point 0.
 *
 * Past 256 elements the function is tabulated first over every int8 value (256
 * bytes of stack), then each element is a lookup.
 *
 * @param[in]  params  size and fixed-point parameters
 * @param[in]  input   `size` int8 values, any layout
 * @param[out] output  `size` int8 values; may alias `input`
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_tanh_s8(const ts_tanh_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_TANH_S8_H */
