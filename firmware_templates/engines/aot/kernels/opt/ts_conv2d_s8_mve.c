/*
 * ts_conv2d_s8_mve.c - CONV_2D with Helium (MVE): per output pixel, its receptive field
 * as int8 (ts_im2col.h; a 1x1 convolution reads the input pixel in place), four filter
 * rows per VMLADAVA pass, requantized four lanes at a time in the same asm (ts_mve.h).
 * Grouped convolutions use the portable kernel.
 */
/* -O2 whatever the project level: the Helium asm has impossible register constraints at -O0 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_conv2d_s8.h"

#if TS_OPT_MVE
#include "ts_im2col.h"
#include "ts_mve.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_conv2d_s8_portable(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                              const int32_t *bias, int8_t *output);

int32_t ts_conv2d_s8(const ts_conv2d_params_t *params, const int8_t *input, const int8_t *filter,
                     const int32_t *bias, int8_t *output)
{
    if (params == NULL || input == NULL || filter == NULL || output == NULL || params->filter_c <= 0) {
        return TS_ERR_ARG;
    }
    const ts_conv2d_params_t *p = params;
    if (p->filter_c != p->input_c) {
        return ts_conv2d_s8_portable(params, input, filter, bias, output);
    }
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    const int32_t oc = p->output_c;
    const int32_t pixels = p->output_h * p->output_w;
    const ts_mve_out_t o = {p->output_offset, p->act_min, p->act_max};
    int8_t col[k];
    int32_t rq[(oc + 3) / 4 * 16];
    ts_mve_rq_table(filter, k, oc, bias, p->input_offset, p->multiplier, p->shift, 1, rq);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * p->input_h * p->input_w * p->input_c;
        int8_t *out = output + (size_t)b * pixels * oc;
        for (int32_t px = 0; px < pixels; ++px, out += oc) {
            ts_mve_gemv_rq(filter, k, ts_im2col_s8(p, image, px, col), oc, rq, &o, out);
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_MVE */
