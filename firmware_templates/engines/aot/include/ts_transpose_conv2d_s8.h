/* ts_transpose_conv2d_s8.h - TRANSPOSE_CONV, int8 activations and filters, per-channel requantization. */
#ifndef TS_TRANSPOSE_CONV2D_S8_H
#define TS_TRANSPOSE_CONV2D_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t batches;
    int32_t input_h, input_w, input_c;       /**< input [N, H, W, C] */
    int32_t filter_h, filter_w;              /**< filter [output_c, H, W, input_c] */
    int32_t output_h, output_w, output_c;    /**< output [N, H, W, C] */
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;                    /**< leading padding, computed from the output size as TFLM does */
    int32_t input_offset;                    /**< -input zero point */
    int32_t output_offset;                   /**< +output zero point */
    int32_t act_min, act_max;                /**< output clamp, within [-128, 127] */
    const int32_t *multiplier;               /**< [output_c] Q31 requantization multipliers */
    const int32_t *shift;                    /**< [output_c] power-of-two exponents */
} ts_transpose_conv2d_params_t;

/**
 * Transposed 2-D convolution with the result of TFLM's reference integer TransposeConv.
 * TFLM scatters every input x filter product into an int32 buffer the size of the output;
 * this kernel gathers, per output value, the same products (integer sums do not depend on
 * the order), so it needs no scratch.
 * @param[in]  params  shapes, window and quantization (generated)
 * @param[in]  input   [batches, input_h, input_w, input_c]
 * @param[in]  filter  [output_c, filter_h, filter_w, input_c]
 * @param[in]  bias    [output_c] int32 or NULL
 * @param[out] output  [batches, output_h, output_w, output_c]; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers or a stride below 1
 */
int32_t ts_transpose_conv2d_s8(const ts_transpose_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output);

#endif /* TS_TRANSPOSE_CONV2D_S8_H */
