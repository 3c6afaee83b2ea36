/*
 * ts_fully_connected_s8_mve.c - FULLY_CONNECTED with Helium (MVE): four weight rows per
 * VMLADAVA pass over the raw int8 input, the input offset folded into the accumulators'
 * start (ts_mve.h; the generator's table requant_mve when present, else computed per call),
 * outputs requantized four lanes at a time. A non-zero filter offset uses the portable kernel.
 */
/* -O2 whatever the project level: the Helium asm has impossible register constraints at -O0 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "ts_fully_connected_s8.h"

#if TS_OPT_MVE
#include "ts_mve.h"

/* the portable kernel, renamed by ts_opt.h's selection */
int32_t ts_fully_connected_s8_portable(const ts_fully_connected_params_t *params, const int8_t *input,
                                       const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

/* Scratch: the requantization table when the generator gave none (requant_mve). */
int32_t ts_fully_connected_s8_scratch_size(const ts_fully_connected_params_t *params)
{
    const ts_fully_connected_params_t *p = params;
    return p->filter_offset != 0 || p->requant_mve != NULL ? 0 : (p->output_depth + 3) / 4 * 64;
}

int32_t ts_fully_connected_s8(const ts_fully_connected_params_t *params, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch)
{
    if (params == NULL || input == NULL || filter == NULL || output == NULL) {
        return TS_ERR_ARG;
    }
    const ts_fully_connected_params_t *p = params;
    if (p->filter_offset != 0 || (p->requant_mve == NULL && scratch == NULL)) {
        return ts_fully_connected_s8_portable(params, input, filter, bias, output, NULL);
    }
    const int32_t k = p->accum_depth, rows = p->output_depth;
    const ts_mve_out_t o = {p->output_offset, p->act_min, p->act_max};
    const int32_t *rq = p->requant_mve;
    if (rq == NULL) {
        int32_t *table = (int32_t *)scratch;
        ts_mve_rq_table(filter, k, rows, bias, p->input_offset, p->multiplier, p->shift, p->per_channel != 0, table);
        rq = table;
    }
    for (int32_t b = 0; b < p->batches; ++b) {
        ts_mve_gemv_rq(filter, k, input + (size_t)b * k, rows, rq, &o, output + (size_t)b * rows);
    }
    return TS_OK;
}
#endif /* TS_OPT_MVE */
