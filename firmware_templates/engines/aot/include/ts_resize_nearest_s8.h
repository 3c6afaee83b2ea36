/**
 * @file ts_resize_nearest_s8.h
 * @brief RESIZE_NEAREST_NEIGHBOR, int8 NHWC (a pure copy: TFLM keeps the input's raw values).
 */
#ifndef TS_RESIZE_NEAREST_S8_H
#define TS_RESIZE_NEAREST_S8_H

#include "ts_kernels.h"

/**
 * The source row of each output row and the source column of each output column are
 * computed at generation time with TFLM's float arithmetic (align_corners and
 * half_pixel_centers included), so the kernel has no floating point.
 */
typedef struct {
    int32_t batches;
    int32_t input_h;
    int32_t input_w;
    int32_t channels;
    int32_t output_h;
    int32_t output_w;
    const int32_t *source_row;    /**< output_h input rows, each in [0, input_h) */
    const int32_t *source_col;    /**< output_w input columns, each in [0, input_w) */
} ts_resize_nearest_params_t;

/**
 * @brief output[b, y, x, :] = input[b, source_row[y], source_col[x], :].
 *
 * @param[in]  params  shapes and source index tables (generated)
 * @param[in]  input   [batches, input_h, input_w, channels]
 * @param[out] output  [batches, output_h, output_w, channels]; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_resize_nearest_s8(const ts_resize_nearest_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_RESIZE_NEAREST_S8_H */
