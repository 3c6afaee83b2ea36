/* ts_quantize_s8.h - QUANTIZE float32 -> int8. */
#ifndef TS_QUANTIZE_S8_H
#define TS_QUANTIZE_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t size;         /**< elements */
    float scale;          /**< output scale */
    int32_t zero_point;   /**< output zero point */
} ts_quantize_params_t;

/**
 * y = clamp(roundf(x / scale) + zero_point, -128, 127), as TFLM's AffineQuantize.
 * @param[in]  params  size and quantization (generated)
 * @param[in]  input   size floats
 * @param[out] output  size int8 values
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_quantize_s8(const ts_quantize_params_t *params, const float *input, int8_t *output);

#endif /* TS_QUANTIZE_S8_H */
