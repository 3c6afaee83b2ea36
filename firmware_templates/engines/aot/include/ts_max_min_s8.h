/* ts_max_min_s8.h - MAXIMUM and MINIMUM, int8, with broadcasting. */
#ifndef TS_MAX_MIN_S8_H
#define TS_MAX_MIN_S8_H

#include "ts_kernels.h"

typedef struct {
    ts_broadcast_t shape;
    int32_t minimum; /**< 0: MAXIMUM, 1: MINIMUM */
} ts_max_min_params_t;

/**
 * Element-wise larger (or smaller) of the stored int8 values: TFLM compares them without
 * requantizing, so the generator admits only operands quantized like the output.
 * @param[in]  params  broadcast shape and which of the two ops (generated)
 * @param[in]  input1  operand 1 (strides in params->shape.stride1)
 * @param[in]  input2  operand 2 (strides in params->shape.stride2)
 * @param[out] output  params->shape.size elements; may be input1 when shapes match
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_max_min_s8(const ts_max_min_params_t *params, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* TS_MAX_MIN_S8_H */
