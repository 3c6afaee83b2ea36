/* The engine interface: one inference engine (tflm or aot) behind the app.
 * Implemented by firmware_templates/engines/tflm and engines/aot_adapter. */
#ifndef TINYSHIP_ENGINE_H
#define TINYSHIP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One input or output tensor; data points into the engine's arena. */
typedef struct {
    void *data;
    size_t bytes;
    int32_t ndims;
    int32_t dims[6];
    const char *dtype;     /* "int8", "uint8", "int16", "int32", "float32" */
    float scale;           /* per-tensor quantization, 0 for float tensors */
    int32_t zero_point;
} ts_tensor_t;

/** Called with the output bytes of @p layer right after it ran. */
typedef void (*engine_dump_fn)(int layer, const uint8_t *data, size_t bytes);

/** Prepare the model; 0 on success, else engine_error() says why. */
int engine_init(void);
const char *engine_error(void);
int engine_num_inputs(void);
int engine_num_outputs(void);
const ts_tensor_t *engine_input(int i);
const ts_tensor_t *engine_output(int i);
/** Run one inference on the bytes in the input tensors; 0 on success. */
int engine_invoke(void);
int engine_num_layers(void);
const char *engine_layer_name(int i);
/** Cycles (plat_cycles units) layer @p i took in the last inference. */
uint64_t engine_layer_cycles(int i);
size_t engine_arena_size(void);
size_t engine_arena_used(void);
/** Run one inference calling @p fn after layer @p layer: 0 ok, -1 not supported by this engine,
 *  -2 no such layer, -3 the inference failed. */
int engine_dump(int layer, engine_dump_fn fn);

#ifdef __cplusplus
}
#endif

#endif
