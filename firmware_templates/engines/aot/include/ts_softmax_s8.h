/**
 * @file ts_softmax_s8.h
 * @brief SOFTMAX over the innermost dimension, int8 in, int8 out.
 */
#ifndef TS_SOFTMAX_S8_H
#define TS_SOFTMAX_S8_H

#include "ts_kernels.h"

/** Parameters computed at generation time (TFLM CalculateSoftmaxParams). */
typedef struct {
    int32_t outer_size;        /**< product of all dimensions but the last (rows) */
    int32_t depth;             /**< size of the last dimension (>= 1) */
    int32_t input_multiplier;  /**< Q31 multiplier of beta * input_scale * 2^26 */
    int32_t input_left_shift;  /**< its left shift (>= 0) */
    int32_t diff_min;          /**< differences from the row maximum below this give 0 */
} ts_softmax_params_t;

/**
 * @brief Softmax of each row of an int8 tensor.
 *
 * The output is quantized with scale 1/256 and zero point -128, as TFLite
 * requires for int8 softmax.
 *
 * @param[in]  params  shapes and fixed-point parameters
 * @param[in]  input   [outer_size, depth] int8, contiguous
 * @param[out] output  [outer_size, depth] int8; may alias `input` (each row is
 *                     read whole before any of it is written)
 * @return TS_OK, or TS_ERR_ARG for NULL pointers or a non-positive depth
 */
int32_t ts_softmax_s8(const ts_softmax_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_SOFTMAX_S8_H */
