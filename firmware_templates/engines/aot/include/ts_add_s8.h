/* ts_add_s8.h - ADD and SUB, int8, with broadcasting. */
#ifndef TS_ADD_S8_H
#define TS_ADD_S8_H

#include "ts_kernels.h"

typedef struct {
    ts_broadcast_t shape;
    int32_t input1_offset, input2_offset;   /**< -zero points */
    int32_t output_offset;                  /**< +output zero point */
    int32_t left_shift;                     /**< 20 for int8 */
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
    int32_t subtract;                       /**< 1: SUB, input1 - input2 (the portable kernel only) */
} ts_add_params_t;

/**
 * Element-wise sum (or difference) with TFLite's twice-the-max-scale scheme: both
 * operands are shifted left by left_shift, rescaled to a common scale, added (or
 * subtracted) and rescaled. SUB subtracts the rescaled operand 2 as TFLM does: a
 * negated input2_multiplier would round ties of the rescale the other way.
 * @param[in]  params  broadcast shape and quantization (generated)
 * @param[in]  input1  operand 1 (strides in params->shape.stride1)
 * @param[in]  input2  operand 2 (strides in params->shape.stride2)
 * @param[out] output  params->shape.size elements; may be input1 when shapes match
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_add_s8(const ts_add_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* TS_ADD_S8_H */
