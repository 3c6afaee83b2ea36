/*
 * ts_depthwise_conv2d_s8_dsp.c - DEPTHWISE_CONV_2D on the DSP extension: four channels
 * per word, inputs widened with the offset by SXTAB16, one 16x16 MAC per channel and
 * tap (SMLABB/SMLATT), taps clipped to the image once per pixel. Depth multipliers
 * other than 1, dilation, or channel counts not a multiple of 4 use the portable kernel.
 */
#include "ts_depthwise_conv2d_s8.h"

#if TS_OPT_DSP
#include "ts_opt.h"
#include "ts_simd.h"

int32_t ts_depthwise_conv2d_s8_portable(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output);

int32_t ts_depthwise_conv2d_s8(const ts_depthwise_conv2d_params_t *params, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (params == NULL || input == NULL || filter == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_depthwise_conv2d_params_t *p = params;
    const int32_t ch = p->input_c;
    if (p->depth_multiplier != 1 || p->dilation_h != 1 || p->dilation_w != 1 || (ch & 3) != 0 ||
        !ts_acc_bounded(bias, p->output_c, p->filter_h * p->filter_w)) {
        return ts_depthwise_conv2d_s8_portable(params, input, filter, bias, output);
    }
    const uint32_t off2 = ts_dup16(p->input_offset);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * ch;
        for (int32_t oy = 0; oy < p->output_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = ts_max_i32(0, -y0), fy1 = ts_min_i32(p->filter_h, p->input_h - y0);
            for (int32_t ox = 0; ox < p->output_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ts_max_i32(0, -x0), fx1 = ts_min_i32(p->filter_w, p->input_w - x0);
                int8_t *out = output + (((size_t)b * p->output_h + oy) * p->output_w + ox) * ch;
                for (int32_t c = 0; c < ch; c += 4) {
                    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                    if (bias != NULL) {
                        a0 = bias[c];
                        a1 = bias[c + 1];
                        a2 = bias[c + 2];
                        a3 = bias[c + 3];
                    }
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x = image + ((size_t)(y0 + fy) * p->input_w + x0) * ch + c;
                        const int8_t *w = filter + (size_t)fy * p->filter_w * ch + c;
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const uint32_t xv = ts_read32(x + fx * ch), wv = ts_read32(w + fx * ch);
                            const uint32_t x02 = ts_sxtab16(off2, xv), x13 = ts_sxtab16_ror8(off2, xv);
                            const uint32_t w02 = ts_sxtb16(wv), w13 = ts_sxtb16_ror8(wv);
                            a0 = ts_smlabb(x02, w02, a0);
                            a2 = ts_smlatt(x02, w02, a2);
                            a1 = ts_smlabb(x13, w13, a1);
                            a3 = ts_smlatt(x13, w13, a3);
                        }
                    }
                    const int32_t acc[4] = {a0, a1, a2, a3};
                    for (int32_t i = 0; i < 4; ++i) {
                        out[c + i] = ts_requant_s8(acc[i], p->multiplier[c + i], p->shift[c + i], p->output_offset,
                                                   p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
