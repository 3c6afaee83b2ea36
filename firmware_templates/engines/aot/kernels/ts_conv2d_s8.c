/* ts_conv2d_s8.c - portable CONV_2D (the oracle for optimized variants). */
#include "ts_conv2d_s8.h"

#if TS_OPT_CONV2D /* an optimized variant (kernels/opt) defines ts_conv2d_s8 and falls back to this one */
#define ts_conv2d_s8 ts_conv2d_s8_portable
#else
int32_t ts_conv2d_s8_scratch_size(const ts_conv2d_params_t *params)
{
    (void)params;
    return 0;
}
#endif

int32_t ts_conv2d_s8(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, int8_t *output, void *scratch)
{
    (void)scratch; /* none needed */
    if (params == NULL || input == NULL || filter == NULL || output == NULL || params->filter_c <= 0) {
        return TS_ERR_ARG;
    }
    const ts_conv2d_params_t *p = params;
    const int32_t group_out = p->output_c / (p->input_c / p->filter_c);
    for (int32_t b = 0; b < p->batches; ++b) {
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->output_w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                for (int32_t oc = 0; oc < p->output_c; ++oc) {
                    const int32_t ic0 = (oc / group_out) * p->filter_c;
                    const int8_t *f = filter + (size_t)oc * p->filter_h * p->filter_w * p->filter_c;
                    int32_t acc = 0;
                    for (int32_t fy = 0; fy < p->filter_h; ++fy) {
                        const int32_t in_y = in_y0 + fy * p->dilation_h;
                        if (in_y < 0 || in_y >= p->input_h) {
                            continue;
                        }
                        for (int32_t fx = 0; fx < p->filter_w; ++fx) {
                            const int32_t in_x = in_x0 + fx * p->dilation_w;
                            if (in_x < 0 || in_x >= p->input_w) {
                                continue;
                            }
                            const int8_t *x = input + (((size_t)b * p->input_h + in_y) * p->input_w + in_x) * p->input_c + ic0;
                            acc += ts_dot_s8(f + ((size_t)fy * p->filter_w + fx) * p->filter_c, x, p->filter_c,
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
