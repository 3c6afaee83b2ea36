/**
 * @file ts_strided_slice_s8.h
 * @brief STRIDED_SLICE, int8, constant begin/end/strides (a pure copy of the selected elements).
 */
#ifndef TS_STRIDED_SLICE_S8_H
#define TS_STRIDED_SLICE_S8_H

#include "ts_kernels.h"

/**
 * The generator resolves TFLM's begin/end masks, negative indices, clamping and
 * shrink_axis_mask into one start offset and, per output axis, a count and an input
 * step in elements (stride times the input stride of the axis; negative for negative
 * strides). Output element i (row-major over counts) is input[start + sum_k i_k * steps[k]].
 */
typedef struct {
    int32_t start;                    /**< input offset of the first selected element */
    int32_t ndims;                    /**< 1..TS_MAX_DIMS */
    int32_t counts[TS_MAX_DIMS];      /**< elements selected along each axis, >= 1 */
    int32_t steps[TS_MAX_DIMS];       /**< input offset between neighbours along each axis */
} ts_strided_slice_params_t;

/**
 * @brief Copy the selected elements of `input` to `output`, row-major.
 *
 * @param[in]  params  start, counts and steps (generated)
 * @param[in]  input   the whole input tensor
 * @param[out] output  product(counts) int8 values; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers or a bad ndims
 */
int32_t ts_strided_slice_s8(const ts_strided_slice_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_STRIDED_SLICE_S8_H */
