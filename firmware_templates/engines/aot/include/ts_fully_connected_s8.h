/* ts_fully_connected_s8.h - FULLY_CONNECTED, int8, per-tensor or per-channel requantization. */
#ifndef TS_FULLY_CONNECTED_S8_H
#define TS_FULLY_CONNECTED_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t batches;          /**< input elements / accum_depth */
    int32_t accum_depth;      /**< input features */
    int32_t output_depth;     /**< output features */
    int32_t input_offset;     /**< -input zero point */
    int32_t filter_offset;    /**< -filter zero point (0 for int8 weights) */
    int32_t output_offset;    /**< +output zero point */
    int32_t act_min, act_max;
    int32_t per_channel;      /**< 0: multiplier[0]/shift[0] for all outputs */
    const int32_t *multiplier;
    const int32_t *shift;
    const int16_t *filter_dsp;               /**< NULL, or the filter re-laid for the DSP kernels (kernels/opt) */
    const int32_t *requant_dsp;              /**< with filter_dsp: per quad of rows {bias[4], multiplier[4], {add, right}[4]};
                                                  with filter_dsp8: per pair of rows {bias[2], multiplier[2], shift[2]} */
    const int8_t *filter_dsp8;               /**< NULL, or (--kernels size) the int8 filter in pairs of rows for the
                                                  DSP kernels (ts_gemm8_dsp.h; bias, multiplier and shift are then NULL) */
    const int32_t *requant_mve;              /**< NULL, or ts_mve_rq_table's table from the generator (Helium;
                                                  bias, multiplier and shift are then NULL) */
} ts_fully_connected_params_t;

/**
 * y = W x + b per batch, as TFLM's reference integer FullyConnected.
 * @param[in]  params  shapes and quantization (generated)
 * @param[in]  input   [batches, accum_depth]
 * @param[in]  filter  [output_depth, accum_depth]
 * @param[in]  bias    [output_depth] int32 or NULL
 * @param[out] output  [batches, output_depth]; must not overlap input
 * @param[out] scratch at least ts_fully_connected_s8_scratch_size(params) bytes, 16-byte aligned, or NULL:
 *                     then the kernel runs a path that needs none (the portable one)
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_fully_connected_s8(const ts_fully_connected_params_t *params, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

/**
 * Bytes of caller-owned scratch ts_fully_connected_s8 needs for `params` (0: none);
 * the variant compiled in (ts_opt.h) decides. The generator plans them into the arena (Lowering.scratch, toolchain/codegen).
 */
int32_t ts_fully_connected_s8_scratch_size(const ts_fully_connected_params_t *params);

#endif /* TS_FULLY_CONNECTED_S8_H */
