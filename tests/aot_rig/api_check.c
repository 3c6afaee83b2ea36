/*
 * Exercises the generated model API (docs/contracts.md) beyond inference:
 * prints one line per layer "i name bytes same_as_output", then the hook calls,
 * and checks the out-of-range guards. Exit status 0 when every check holds.
 */
#include <stdio.h>
#include <string.h>

#include "model.h"

static int calls[MODEL_NUM_LAYERS][2];
static int order_ok = 1;
static int last = -1;

static void on_layer(int layer, int end, void *user)
{
    (void)user;
    /* begin i, end i, begin i+1, ... */
    const int expect = end ? layer : layer - 1;
    order_ok &= (last == expect) && (layer >= 0) && (layer < MODEL_NUM_LAYERS);
    last = layer;
    calls[layer][end] += 1;
}

int main(void)
{
    int ok = model_init() == 0;
    ok &= model_input(-1) == NULL && model_input(MODEL_NUM_INPUTS) == NULL;
    ok &= model_output(MODEL_NUM_OUTPUTS) == NULL && model_layer_name(MODEL_NUM_LAYERS) == NULL;
    ok &= model_layer_output(-1) == NULL;
    model_set_layer_hook(on_layer, NULL);
    ok &= model_invoke() == 0;
    model_set_layer_hook(NULL, NULL);
    ok &= model_invoke() == 0; /* no hook: no calls */
    const model_tensor_t *out = model_output(0);
    for (int i = 0; i < MODEL_NUM_LAYERS; ++i) {
        const model_tensor_t *t = model_layer_output(i);
        printf("%d|%s|%zu|%d|%d|%d\n", i, model_layer_name(i), t->bytes, t->data == out->data,
               calls[i][0], calls[i][1]);
    }
    printf("order %d ok %d\n", order_ok, ok);
    return ok && order_ok ? 0 : 1;
}
