/**
 * @file ts_reduce_max_s8.h
 * @brief REDUCE_MAX over any set of axes (keep_dims either way), int8 in, int8 out.
 */
#ifndef TS_REDUCE_MAX_S8_H
#define TS_REDUCE_MAX_S8_H

#include "ts_kernels.h"

/**
 * The axis split (TS_AXIS_SPLIT_FIELDS): output element o is the largest of its input elements.
 * TFLM compares the raw int8 values (input and output share a scale), so no quantization here.
 */
typedef struct {
    TS_AXIS_SPLIT_FIELDS
} ts_reduce_max_params_t;

/**
 * @brief Maximum of an int8 tensor over the reduced axes.
 *
 * @param[in]  params  axis split and strides
 * @param[in]  input   int8 tensor, contiguous row-major
 * @param[out] output  product(kept_dims) int8 values; must not alias `input`
 * @return TS_OK, or TS_ERR_ARG for NULL pointers or more than TS_MAX_DIMS axes
 */
int32_t ts_reduce_max_s8(const ts_reduce_max_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_REDUCE_MAX_S8_H */
