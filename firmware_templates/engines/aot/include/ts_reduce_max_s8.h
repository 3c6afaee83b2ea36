/**
 * @file ts_reduce_max_s8.h
 * @brief REDUCE_MAX over any set of axes (keep_dims either way), int8 in, int8 out.
 */
#ifndef TS_REDUCE_MAX_S8_H
#define TS_REDUCE_MAX_S8_H

#include "ts_kernels.h"

/**
 * The axis split of ts_mean_params_t (same generator, toolchain aot_ops_nonlinear.split_axes):
 * output element o, in row-major order over the kept axes, is the largest input element at
 * base(o) + sum_k r_k * reduced_strides[k] over every index r of the reduced axes.
 * TFLM compares the raw int8 values (input and output share a scale), so no quantization here.
 */
typedef struct {
    int32_t kept_ndims;                        /**< 0 when everything is reduced */
    int32_t kept_dims[TS_MAX_DIMS];
    int32_t kept_strides[TS_MAX_DIMS];         /**< input strides, in elements */
    int32_t reduced_ndims;                     /**< 0 when nothing is reduced */
    int32_t reduced_dims[TS_MAX_DIMS];
    int32_t reduced_strides[TS_MAX_DIMS];      /**< input strides, in elements */
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
