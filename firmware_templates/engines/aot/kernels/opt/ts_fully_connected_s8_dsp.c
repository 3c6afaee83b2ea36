/*
 * ts_fully_connected_s8_dsp.c - FULLY_CONNECTED on the DSP extension: each input row
 * becomes one int16 column (offset added) multiplied by the generator's int16 re-layout
 * of the weights (params->filter_dsp, ts_gemm_dsp.h). Without it (non-zero filter
 * offset, unbounded accumulators) the portable kernel runs.
 */
#include "ts_fully_connected_s8.h"

#if TS_OPT_DSP
#include "ts_gemm_dsp.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_fully_connected_s8_portable(const ts_fully_connected_params_t *params, const int8_t *input,
                                       const int8_t *filter, const int32_t *bias, int8_t *output);

int32_t ts_fully_connected_s8(const ts_fully_connected_params_t *params, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_fully_connected_params_t *p = params;
    if (p->filter_dsp == NULL) {
        return ts_fully_connected_s8_portable(params, input, filter, bias, output);
    }
    const int32_t k = p->accum_depth;
    const int32_t k8 = (k + 7) & ~7;
    const int32_t rows = p->output_depth;
    const int32_t out_offset = p->output_offset, lo = p->act_min, hi = p->act_max;
    int32_t col_words[k8 / 2]; /* the int16 column, word aligned */
    int32_t acc[(rows + 3) & ~3];
    ts_rq_t rq[rows];
    const int fast_rq = ts_rq_prepare(p->multiplier, p->shift, p->per_channel != 0, rows, rq);
    int16_t *col = (int16_t *)(void *)col_words;
    memset(col_words, 0, sizeof col_words); /* the k..k8 padding stays 0 */
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * k;
        int8_t *out = output + (size_t)b * rows;
        ts_col_fill4(x, k & ~3, p->input_offset, col);
        for (int32_t i = k & ~3; i < k; ++i) {
            col[ts_col_index(i)] = (int16_t)(x[i] + p->input_offset);
        }
        ts_gemv_dsp(p->filter_dsp, col, k8, (rows + 3) & ~3, acc);
        if (fast_rq) {
            ts_requant_row(acc, bias, rq, rows, out_offset, lo, hi, out);
            continue;
        }
        for (int32_t o = 0; o < rows; ++o) {
            const int32_t c = p->per_channel ? o : 0;
            out[o] = ts_requant_s8(acc[o] + (bias ? bias[o] : 0), p->multiplier[c], p->shift[c], out_offset, lo, hi);
        }
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
