/* ts_requantize_s8.h - int8 -> int8 rescale and clamp: QUANTIZE (int8 input), RELU, RELU6. */
#ifndef TS_REQUANTIZE_S8_H
#define TS_REQUANTIZE_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t size;              /**< elements */
    int32_t input_zero_point;  /**< subtracted from the input */
    int32_t output_zero_point; /**< added to the output */
    int32_t multiplier, shift; /**< input scale / output scale; (1 << 30, 1) is exactly 1 */
    int32_t act_min, act_max;  /**< clamp range */
} ts_requantize_params_t;

/**
 * y = clamp(output_zero_point + MBQM(x - input_zero_point, multiplier, shift), act_min, act_max).
 * @param[in]  params  sizes and quantization (generated)
 * @param[in]  input   size elements
 * @param[out] output  size elements; may be the same buffer as input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_requantize_s8(const ts_requantize_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_REQUANTIZE_S8_H */
