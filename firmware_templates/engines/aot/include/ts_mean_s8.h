/**
 * @file ts_mean_s8.h
 * @brief MEAN over any set of axes (keep_dims either way), int8 in, int8 out.
 */
#ifndef TS_MEAN_S8_H
#define TS_MEAN_S8_H

#include "ts_kernels.h"

/**
 * Parameters computed at generation time (TFLM PrepareMeanOrSumHelper, with the
 * 1/count factor folded into the multiplier as TFLM's QuantizedMeanOrSum does), after
 * the axis split (TS_AXIS_SPLIT_FIELDS): output element o is the mean of its input elements.
 */
typedef struct {
    TS_AXIS_SPLIT_FIELDS
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

/**
 * Whether the optimized kernels (kernels/opt/ts_mean_s8_*.c) serve `p`: one group of reduced
 * axes, and kept axes ending in a contiguous one (the channels of an NHWC image reduced over
 * height and width, as GlobalAveragePooling2D converts). toolchain/codegen/aot_opt.py
 * kernel_choice states the same condition.
 */
static inline int ts_mean_channels_inner(const ts_mean_params_t *p)
{
    return p->reduced_ndims == 1 && p->kept_ndims >= 1 && p->kept_ndims <= TS_MAX_DIMS &&
           p->kept_strides[p->kept_ndims - 1] == 1;
}

/** Input offset of the outer kept index `outer` (all kept axes but the last). */
static inline int32_t ts_mean_outer_offset(const ts_mean_params_t *p, const int32_t *outer)
{
    int32_t offset = 0;
    for (int32_t k = 0; k < p->kept_ndims - 1; ++k) {
        offset += outer[k] * p->kept_strides[k];
    }
    return offset;
}

/** Advance the outer kept index row-major; 0 once it wraps to all zeros. */
static inline int ts_mean_next_outer(const ts_mean_params_t *p, int32_t *outer)
{
    for (int32_t k = p->kept_ndims - 2; k >= 0; --k) {
        if (++outer[k] < p->kept_dims[k]) {
            return 1;
        }
        outer[k] = 0;
    }
    return 0;
}

/** One outer index of the channels-innermost form: the means of its channels (input at `in`). */
typedef void (*ts_mean_row_fn)(const ts_mean_params_t *p, const int8_t *in, int8_t *out);

/** The portable kernel (kernels/ts_mean_s8.c, renamed by ts_opt.h's selection), the optimized ones' fallback. */
int32_t ts_mean_s8_portable(const ts_mean_params_t *params, const int8_t *input, int8_t *output);

/**
 * The optimized kernels' ts_mean_s8: `row` for each outer index of the channels-innermost
 * form (ts_mean_channels_inner), the portable kernel for any other.
 */
static inline int32_t ts_mean_s8_by_rows(const ts_mean_params_t *params, const int8_t *input, int8_t *output,
                                         ts_mean_row_fn row)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    if (!ts_mean_channels_inner(params)) {
        return ts_mean_s8_portable(params, input, output);
    }
    int32_t outer[TS_MAX_DIMS] = {0};
    do {
        row(params, input + ts_mean_outer_offset(params, outer), output);
        output += params->kept_dims[params->kept_ndims - 1];
    } while (ts_mean_next_outer(params, outer));
    return TS_OK;
}

#endif /* TS_MEAN_S8_H */
