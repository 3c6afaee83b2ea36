/**
 * @file ts_leaky_relu_s8.h
 * @brief LEAKY_RELU x >= 0 ? x : alpha * x, element-wise, int8 in, int8 out.
 */
#ifndef TS_LEAKY_RELU_S8_H
#define TS_LEAKY_RELU_S8_H

#include "ts_kernels.h"

/** Parameters computed at generation time (TFLM CalculateOpDataLeakyRelu). */
typedef struct {
    int32_t size;                 /**< number of elements */
    int32_t input_offset;         /**< -input_zero_point */
    int32_t output_offset;        /**< +output_zero_point */
    int32_t multiplier_identity;  /**< Q31 of input_scale / output_scale */
    int32_t shift_identity;       /**< its shift */
    int32_t multiplier_alpha;     /**< Q31 of alpha * input_scale / output_scale, negative if alpha is */
    int32_t shift_alpha;          /**< its shift */
} ts_leaky_relu_params_t;

/**
 * @brief Leaky ReLU of every element, each branch requantized with its own multiplier.
 *
 * @param[in]  params  size and quantization parameters
 * @param[in]  input   `size` int8 values, any layout
 * @param[out] output  `size` int8 values; may alias `input`
 * @return TS_OK, or TS_ERR_ARG for NULL pointers or multiplier_alpha == INT32_MIN
 */
int32_t ts_leaky_relu_s8(const ts_leaky_relu_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_LEAKY_RELU_S8_H */
