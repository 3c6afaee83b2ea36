/* ts_conv2d_s8.h - CONV_2D, int8 activations and filters, per-channel requantization. */
#ifndef TS_CONV2D_S8_H
#define TS_CONV2D_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t batches;
    int32_t input_h, input_w, input_c;       /**< input [N, H, W, C] */
    int32_t filter_h, filter_w, filter_c;    /**< filter [output_c, H, W, filter_c]; groups = input_c / filter_c */
    int32_t output_h, output_w, output_c;    /**< output [N, H, W, C] */
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;                    /**< leading padding (TFLM ComputePaddingHeightWidth) */
    int32_t input_offset;                    /**< -input zero point */
    int32_t output_offset;                   /**< +output zero point */
    int32_t act_min, act_max;                /**< fused activation clamp, within [-128, 127] */
    const int32_t *multiplier;               /**< [output_c] Q31 requantization multipliers */
    const int32_t *shift;                    /**< [output_c] power-of-two exponents */
    const int16_t *filter_dsp;               /**< NULL, or the filter re-laid for the DSP kernels (kernels/opt) */
    const int32_t *requant_dsp;              /**< with filter_dsp: [rows/4*4][4] {bias, multiplier, add, right} */
} ts_conv2d_params_t;

/**
 * 2-D convolution as TFLM's reference ConvPerChannel (grouped when filter_c < input_c).
 * @param[in]  params  shapes, window and quantization (generated)
 * @param[in]  input   [batches, input_h, input_w, input_c]
 * @param[in]  filter  [output_c, filter_h, filter_w, filter_c]
 * @param[in]  bias    [output_c] int32 or NULL
 * @param[out] output  [batches, output_h, output_w, output_c]; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_conv2d_s8(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, int8_t *output);

#endif /* TS_CONV2D_S8_H */
