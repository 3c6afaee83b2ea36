/* The engine interface (app/engine.h) on the generated aot model (model.h, docs/contracts.md). */
#include <string.h>

#include "engine.h"
#include "model.h"
#include "platform.h"

static ts_tensor_t inputs[MODEL_NUM_INPUTS], outputs[MODEL_NUM_OUTPUTS];
static uint64_t layer_cycles[MODEL_NUM_LAYERS], layer_start;
static int dump_layer = -1;
static engine_dump_fn dump_fn;

static void view(ts_tensor_t *dst, const model_tensor_t *src)
{
    dst->data = src->data;
    dst->bytes = src->bytes;
    dst->ndims = src->ndims;
    memcpy(dst->dims, src->dims, sizeof dst->dims);
    dst->dtype = src->dtype;
    dst->scale = src->scale;
    dst->zero_point = src->zero_point;
}

/* Times every layer; for `dump`, hands the layer's output over right after it ran. */
static void on_layer(int layer, int end, void *user)
{
    (void)user;
    if (!end) {
        layer_start = plat_cycles();
        return;
    }
    layer_cycles[layer] = plat_cycles() - layer_start;
    if (layer == dump_layer) {
        const model_tensor_t *t = model_layer_output(layer);
        dump_fn(layer, (const uint8_t *)t->data, t->bytes);
    }
}

int engine_init(void)
{
    if (model_init() != 0) {
        return -1;
    }
    for (int i = 0; i < MODEL_NUM_INPUTS; i++) {
        view(&inputs[i], model_input(i));
    }
    for (int i = 0; i < MODEL_NUM_OUTPUTS; i++) {
        view(&outputs[i], model_output(i));
    }
    model_set_layer_hook(on_layer, NULL);
    return 0;
}

const char *engine_error(void) { return "model_init failed"; }
int engine_num_inputs(void) { return MODEL_NUM_INPUTS; }
int engine_num_outputs(void) { return MODEL_NUM_OUTPUTS; }
const ts_tensor_t *engine_input(int i) { return &inputs[i]; }
const ts_tensor_t *engine_output(int i) { return &outputs[i]; }
int engine_invoke(void) { return model_invoke(); }
int engine_num_layers(void) { return MODEL_NUM_LAYERS; }
const char *engine_layer_name(int i) { return model_layer_name(i); }
uint64_t engine_layer_cycles(int i) { return layer_cycles[i]; }
size_t engine_arena_size(void) { return MODEL_ARENA_SIZE; }
size_t engine_arena_used(void) { return MODEL_ARENA_USED; }

int engine_dump(int layer, engine_dump_fn fn)
{
    if (layer < 0 || layer >= MODEL_NUM_LAYERS) {
        return -2;
    }
    dump_layer = layer;
    dump_fn = fn;
    int rc = model_invoke();
    dump_layer = -1;
    return rc ? -3 : 0;
}
