/**
 * @file ts_hard_swish_s8.h
 * @brief HARD_SWISH x * relu6(x + 3) / 6, element-wise, int8 in, int8 out.
 */
#ifndef TS_HARD_SWISH_S8_H
#define TS_HARD_SWISH_S8_H

#include "ts_kernels.h"

/** Parameters computed at generation time (TFLM HardSwishPrepare); multipliers are Q15. */
typedef struct {
    int32_t size;                     /**< number of elements */
    int32_t input_offset;             /**< -input_zero_point */
    int32_t output_offset;            /**< +output_zero_point */
    int16_t output_multiplier;        /**< Q15 of (input_scale / 128) / output_scale */
    int16_t reluish_multiplier;       /**< Q15 of (input_scale / 128) / (3 / 32768) */
    int32_t output_multiplier_exponent;  /**< its exponent, in [-15, 0] */
    int32_t reluish_multiplier_exponent; /**< its exponent (either sign) */
} ts_hard_swish_params_t;

/**
 * @brief Hard swish of every element, with TFLM's 16-bit fixed-point arithmetic.
 *
 * @param[in]  params  size and fixed-point parameters
 * @param[in]  input   `size` int8 values, any layout
 * @param[out] output  `size` int8 values; may alias `input`
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_hard_swish_s8(const ts_hard_swish_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_HARD_SWISH_S8_H */
