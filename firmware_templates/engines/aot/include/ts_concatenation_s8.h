/* ts_concatenation_s8.h - CONCATENATION, int8, requantizing inputs whose scale differs. */
#ifndef TS_CONCATENATION_S8_H
#define TS_CONCATENATION_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t num_inputs;
    int32_t outer_size;              /**< product of the dimensions before the axis */
    int32_t output_zero_point;
    const int32_t *copy_size;        /**< [num_inputs] dims[axis] * inner size of each input */
    const int32_t *input_zero_point; /**< [num_inputs] */
    const int32_t *multiplier;       /**< [num_inputs] input scale / output scale ((1 << 30, 1): same) */
    const int32_t *shift;            /**< [num_inputs] */
} ts_concatenation_params_t;

/**
 * Concatenate along one axis; an input quantized like the output is copied as is.
 * @param[in]  params  sizes and quantization (generated)
 * @param[in]  inputs  num_inputs pointers to the inputs
 * @param[out] output  outer_size * sum(copy_size) elements; must not overlap the inputs
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_concatenation_s8(const ts_concatenation_params_t *params, const int8_t *const *inputs, int8_t *output);

#endif /* TS_CONCATENATION_S8_H */
