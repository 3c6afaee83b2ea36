/*
 * ts_fully_connected_s8_dsp.c - FULLY_CONNECTED on the DSP extension: each input row
 * becomes one int16 column (offset added) multiplied by the generator's int16 re-layout
 * of the weights (params->filter_dsp, ts_gemm_dsp.h), requantized from registers
 * (params->requant_dsp). With `--kernels size` the weights stay int8 (params->filter_dsp8,
 * ts_gemm8_dsp.h), two batches (or one twice) a pass. Without them (non-zero filter offset, requantizations outside
 * the fast form) the portable kernel runs.
 */
#include "ts_fully_connected_s8.h"

#if TS_OPT_DSP
#include "ts_gemm8_dsp.h"
#include "ts_gemm_dsp.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_fully_connected_s8_portable(const ts_fully_connected_params_t *params, const int8_t *input,
                                       const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

/* Scratch: with filter_dsp8, two batches' interleaved columns (16 bytes per group of four) and a
 * spare output row; else the int16 column, k rounded up to 8. */
int32_t ts_fully_connected_s8_scratch_size(const ts_fully_connected_params_t *params)
{
    const ts_fully_connected_params_t *p = params;
    if (p->filter_dsp8 != NULL) {
        return 16 * (p->accum_depth >> 2) + p->output_depth;
    }
    return p->filter_dsp == NULL || p->requant_dsp == NULL ? 0 : 2 * ((p->accum_depth + 7) & ~7);
}

int32_t ts_fully_connected_s8(const ts_fully_connected_params_t *params, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch)
{
    if (params == NULL || input == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_fully_connected_params_t *p = params;
    if ((p->filter_dsp == NULL || p->requant_dsp == NULL) && p->filter_dsp8 == NULL) {
        return ts_fully_connected_s8_portable(params, input, filter, bias, output, NULL);
    }
    if (scratch == NULL) { /* the generator's layout replaced the int8 filter: no portable fallback */
        return TS_ERR_ARG;
    }
    if (p->filter_dsp8 != NULL) { /* accum_depth a multiple of 4 (the generator checks) */
        const int32_t groups = p->accum_depth >> 2, rows = p->output_depth;
        uint32_t *cols = (uint32_t *)scratch;
        int8_t *spare = (int8_t *)(cols + 4 * groups);
        for (int32_t b = 0; b < p->batches; b += 2) {
            const int twin = b + 1 < p->batches;
            const int8_t *x = input + (size_t)b * p->accum_depth;
            ts_cols8_fill(x, twin ? x + p->accum_depth : x, groups, p->input_offset, cols);
            ts_gemm8_run(p->filter_dsp8, cols, groups, rows, p->requant_dsp, p->output_offset, p->act_min, p->act_max,
                         output + (size_t)b * rows, twin ? output + (size_t)(b + 1) * rows : spare);
        }
        return TS_OK;
    }
    const int32_t k = p->accum_depth;
    const int32_t k8 = (k + 7) & ~7;
    const ts_rq4_t *rq = (const ts_rq4_t *)(const void *)p->requant_dsp;
    int16_t *col = (int16_t *)scratch;
    memset(col, 0, (size_t)2 * k8); /* the k..k8 padding stays 0 */
    ts_gemv_plan_t g;
    ts_gemv_plan(&g, p->filter_dsp, k, p->output_depth, rq, p->act_min, p->act_max);
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * k;
        ts_col_fill4(x, k & ~3, p->input_offset, col);
        for (int32_t i = k & ~3; i < k; ++i) {
            col[ts_col_index(i)] = (int16_t)(x[i] + p->input_offset);
        }
        ts_gemv_run(&g, col, output + (size_t)b * p->output_depth);
    }
    return TS_OK;
}
#endif /* TS_OPT_DSP */
