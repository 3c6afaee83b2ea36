/* ts_depthwise_conv2d_s8.h - DEPTHWISE_CONV_2D, int8, per-channel requantization. */
#ifndef TS_DEPTHWISE_CONV2D_S8_H
#define TS_DEPTHWISE_CONV2D_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t batches;
    int32_t input_h, input_w, input_c;       /**< input [N, H, W, C] */
    int32_t filter_h, filter_w;              /**< filter [1, H, W, output_c] */
    int32_t output_h, output_w, output_c;    /**< output_c = input_c * depth_multiplier */
    int32_t depth_multiplier;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;
    int32_t input_offset;                    /**< -input zero point */
    int32_t output_offset;                   /**< +output zero point */
    int32_t act_min, act_max;
    const int32_t *multiplier;               /**< [output_c] */
    const int32_t *shift;                    /**< [output_c] */
    const int16_t *filter_dsp;               /**< NULL, or the filter re-laid for the DSP kernels (kernels/opt) */
    const int32_t *requant_dsp;              /**< with filter_dsp: [output_c][4] {bias, multiplier, add, right} */
    int32_t planes_dsp;                      /**< with filter_dsp: 1 = a 3x3 filter laid out for the channel
                                                  planes (per channel, per window row (w0, w1, w2, 0)); 0 = per
                                                  channel quad, taps in pairs (3x3) or one by one (aot_opt.py) */
    int32_t int8_dsp;                        /**< 1 (--kernels size, with planes_dsp, no filter_dsp): the channel planes
                                                  read the int8 filter and the bias, multiplier and shift arrays */
    const int8_t *filter_mve;                /**< NULL, or [output_c][16] taps per channel for the Helium kernel */
    const int32_t *requant_mve;              /**< with filter_mve: [output_c][4] {bias + input_offset * sum(w), multiplier, shift, output_offset} */
    int32_t plane_k;                         /**< Helium plane fill: K channels a plane by rows, -1 by table */
    const int8_t *filter_px;                 /**< NULL, or the filter in channel groups for the Helium pixel path */
    const int32_t *requant_px;               /**< with filter_px: per 8 channels {init, multiplier, left, right shift} */
} ts_depthwise_conv2d_params_t;

/**
 * Depthwise convolution as TFLM's reference DepthwiseConvPerChannel: output channel
 * c * depth_multiplier + m filters input channel c.
 * @param[in]  params  shapes, window and quantization (generated)
 * @param[in]  input   [batches, input_h, input_w, input_c]
 * @param[in]  filter  [1, filter_h, filter_w, output_c]
 * @param[in]  bias    [output_c] int32 or NULL
 * @param[out] output  [batches, output_h, output_w, output_c]; must not overlap input
 * @param[out] scratch at least ts_depthwise_conv2d_s8_scratch_size(params) bytes, 16-byte aligned, or NULL:
 *                     then the kernel runs a path that needs none (the portable one)
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_depthwise_conv2d_s8(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

/**
 * Bytes of caller-owned scratch ts_depthwise_conv2d_s8 needs for `params` (0: none);
 * the variant compiled in (ts_opt.h) decides. The generator plans them into the arena (Lowering.scratch, toolchain/codegen).
 */
int32_t ts_depthwise_conv2d_s8_scratch_size(const ts_depthwise_conv2d_params_t *params);

#endif /* TS_DEPTHWISE_CONV2D_S8_H */
