/**
 * @file ts_logistic_s8.h
 * @brief LOGISTIC, element-wise, int8 in, int8 out.
 */
#ifndef TS_LOGISTIC_S8_H
#define TS_LOGISTIC_S8_H

#include "ts_kernels.h"

/** Parameters computed at generation time (TFLM LOGISTIC Prepare). */
typedef struct {
    int32_t size;                /**< number of elements */
    int32_t input_offset;        /**< -input_zero_point */
    int32_t input_range_radius;  /**< |input + input_offset| at or beyond this saturates */
    int32_t input_multiplier;    /**< Q31 multiplier of input_scale * 2^27 (input to Q4.27) */
    int32_t input_left_shift;    /**< its shift */
} ts_logistic_params_t;

/**
 * @brief Logistic (sigmoid) of every element.
 *
 * The output is quantized with scale 1/256 and zero point -128.
 *
 * Past 256 elements the function is tabulated first over every int8 value (256
 * bytes of stack), then each element is a lookup.
 *
 * @param[in]  params  size and fixed-point parameters
 * @param[in]  input   `size` int8 values, any layout
 * @param[out] output  `size` int8 values; may alias `input`
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_logistic_s8(const ts_logistic_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_LOGISTIC_S8_H */
