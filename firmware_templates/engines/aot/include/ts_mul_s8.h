/* ts_mul_s8.h - MUL, int8, with broadcasting. */
#ifndef TS_MUL_S8_H
#define TS_MUL_S8_H

#include "ts_kernels.h"

typedef struct {
    ts_broadcast_t shape;
    int32_t input1_offset, input2_offset;   /**< -zero points */
    int32_t output_offset;                  /**< +output zero point */
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} ts_mul_params_t;

/**
 * Element-wise product: (x1 + offset1) * (x2 + offset2) requantized to the output.
 * @param[in]  params  broadcast shape and quantization (generated)
 * @param[in]  input1  operand 1
 * @param[in]  input2  operand 2
 * @param[out] output  params->shape.size elements; may be input1 when shapes match
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_mul_s8(const ts_mul_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* TS_MUL_S8_H */
