/* ts_pool2d_s8.h - AVERAGE_POOL_2D and MAX_POOL_2D, int8 (input and output share quantization). */
#ifndef TS_POOL2D_S8_H
#define TS_POOL2D_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t batches;
    int32_t input_h, input_w, channels;
    int32_t output_h, output_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;
} ts_pool2d_params_t;

/**
 * Average over each window's in-bounds elements, rounded half away from zero
 * ((sum +- count/2) / count), then clamped; as TFLM's reference AveragePool.
 * @param[in]  params  shapes and window (generated)
 * @param[in]  input   [batches, input_h, input_w, channels]
 * @param[out] output  [batches, output_h, output_w, channels]; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers or an empty window
 */
int32_t ts_avg_pool2d_s8(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output);

/**
 * Maximum over each window's in-bounds elements, then clamped (TFLM MaxPool).
 * @param[in]  params  shapes and window (generated)
 * @param[in]  input   [batches, input_h, input_w, channels]
 * @param[out] output  [batches, output_h, output_w, channels]; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_max_pool2d_s8(const ts_pool2d_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_POOL2D_S8_H */
