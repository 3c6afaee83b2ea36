/* ts_transpose_conv2d_s8.c - portable TRANSPOSE_CONV. */
#include "ts_transpose_conv2d_s8.h"

int32_t ts_transpose_conv2d_s8(const ts_transpose_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (params == NULL || input == NULL || filter == NULL || output == NULL || params->stride_h < 1 ||
        params->stride_w < 1 || params->pad_h < 0 || params->pad_w < 0) {
        return TS_ERR_ARG;
    }
    const ts_transpose_conv2d_params_t *p = params;
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            /* input row in_y reaches output row in_y * stride_h - pad_h + fy: the taps fy of this
               row are those with (oy + pad_h - fy) a multiple of the stride */
            const int32_t ry = oy + p->pad_h;
            for (int32_t ox = 0; ox < p->output_w; ++ox) {
                const int32_t rx = ox + p->pad_w;
                for (int32_t oc = 0; oc < p->output_c; ++oc) {
                    const int8_t *f = filter + (size_t)oc * p->filter_h * p->filter_w * p->input_c;
                    int32_t acc = 0;
                    for (int32_t fy = ry % p->stride_h; fy < p->filter_h && fy <= ry; fy += p->stride_h) {
                        const int32_t in_y = (ry - fy) / p->stride_h;
                        if (in_y >= p->input_h) {
                            continue;
                        }
                        for (int32_t fx = rx % p->stride_w; fx < p->filter_w && fx <= rx; fx += p->stride_w) {
                            const int32_t in_x = (rx - fx) / p->stride_w;
                            if (in_x >= p->input_w) {
                                continue;
                            }
                            const int8_t *x = input + (((size_t)b * p->input_h + in_y) * p->input_w + in_x) * p->input_c;
                            acc += ts_dot_s8(f + ((size_t)fy * p->filter_w + fx) * p->input_c, x, p->input_c,
                                             p->input_offset);
                        }
                    }
                    output[(((size_t)b * p->output_h + oy) * p->output_w + ox) * p->output_c + oc] = ts_requant_acc(
                        acc, bias, oc, p->multiplier[oc], p->shift[oc], p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
    return TS_OK;
}
