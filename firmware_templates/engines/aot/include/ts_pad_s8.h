/* ts_pad_s8.h - PAD / PADV2, int8, up to TS_MAX_DIMS dimensions. */
#ifndef TS_PAD_S8_H
#define TS_PAD_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t input_dims[TS_MAX_DIMS];    /**< right-aligned, leading 1s */
    int32_t output_dims[TS_MAX_DIMS];
    int32_t before[TS_MAX_DIMS];        /**< padding before each dimension */
    int32_t pad_value;                  /**< output zero point, or PADV2's constant */
} ts_pad_params_t;

/**
 * Copy input into the output at offset `before`, filling the rest with pad_value.
 * @param[in]  params  shapes and padding (generated)
 * @param[in]  input   input_dims elements
 * @param[out] output  output_dims elements; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_pad_s8(const ts_pad_params_t *params, const int8_t *input, int8_t *output);

#endif /* TS_PAD_S8_H */
