/* ts_dequantize_s8.h - DEQUANTIZE int8 -> float32. */
#ifndef TS_DEQUANTIZE_S8_H
#define TS_DEQUANTIZE_S8_H

#include "ts_kernels.h"

typedef struct {
    int32_t size;         /**< elements */
    float scale;          /**< input scale */
    int32_t zero_point;   /**< input zero point */
} ts_dequantize_params_t;

/**
 * y = scale * (x - zero_point) in float32 (equal to TFLM's double product rounded once).
 * @param[in]  params  size and quantization (generated)
 * @param[in]  input   size int8 values
 * @param[out] output  size floats; must not overlap input
 * @return TS_OK, or TS_ERR_ARG for NULL pointers
 */
int32_t ts_dequantize_s8(const ts_dequantize_params_t *params, const int8_t *input, float *output);

#endif /* TS_DEQUANTIZE_S8_H */
