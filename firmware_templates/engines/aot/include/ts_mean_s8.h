/**
 * @file ts_mean_s8.h
 * @brief MEAN over any set of axes (keep_dims either way), int8 in, int8 out.
 */
#ifndef TS_MEAN_S8_H
#define TS_MEAN_S8_H

#include "ts_kernels.h"

/**
 * Parameters computed at generation time (TFLM PrepareMeanOrSumHelper, with the
 * 1/count factor folded into the multiplier as TFLM's QuantizedMeanOrSum does).
 *
 * The generator splits the input's axes into kept and reduced ones (merging
 * neighbours of the same kind and dropping size-1 axes). Output element o, in
 * row-major order over the kept axes, is the mean of the input elements at
 * base(o) + sum_k r_k * reduced_strides[k] for every index r of the reduced axes.
 * keep_dims only changes the declared output shape, never the data.
 */
typedef struct {
    int32_t kept_ndims;                        /**< 0 when everything is reduced */
    int32_t kept_dims[TS_MAX_DIMS];
    int32_t kept_strides[TS_MAX_DIMS];         /**< input strides, in elements */
    int32_t reduced_ndims;                     /**< 0 when nothing is reduced */
    int32_t reduced_dims[TS_MAX_DIMS];
    int32_t reduced_strides[TS_MAX_DIMS];      /**< input strides, in elements */
    int32_t input_offset;                      /**< -input_zero_point */
    int32_t output_offset;                     /**< +output_zero_point */
    int32_t multiplier;                        /**< Q31 of input_scale / output_scale / count */
    int32_t shift;                             /**< its shift */
} ts_mean_params_t;

/**
 * @brief Mean of an int8 tensor over the reduced axes.
 *
 * @param[in]  params  axis split, strides and quantization parameters
 * @param[in]  input   int8 tensor, contiguous row-major (NHWC for images)
 * @param[out] output  product(kept_dims) int8 values; must not alias `input`
 * @return TS_OK, or TS_ERR_ARG for NULL pointers or more than TS_MAX_DIMS axes
 */
int32_t ts_mean_s8(const ts_mean_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_MEAN_S8_H */
