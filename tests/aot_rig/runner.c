/*
 * Host runner of a generated aot model (test rig).
 * stdin: samples back to back, each the raw bytes of every input in order.
 * stdout: for each sample, the raw bytes of every output in order.
 * Exit status: 0, or 2 when model_init/model_invoke fail or stdin ends mid-sample.
 */
#include <stdio.h>
#include <string.h>

#include "model.h"

int main(void)
{
    if (model_init() != 0) {
        fprintf(stderr, "model_init failed\n");
        return 2;
    }
    for (;;) {
        for (int i = 0; i < MODEL_NUM_INPUTS; ++i) {
            const model_tensor_t *t = model_input(i);
            const size_t got = fread(t->data, 1, t->bytes, stdin);
            if (got == 0 && i == 0 && feof(stdin)) {
                return 0;
            }
            if (got != t->bytes) {
                fprintf(stderr, "input %d: %zu of %zu bytes\n", i, got, t->bytes);
                return 2;
            }
        }
        const int status = model_invoke();
        if (status != 0) {
            fprintf(stderr, "model_invoke failed: %d\n", status);
            return 2;
        }
        for (int i = 0; i < MODEL_NUM_OUTPUTS; ++i) {
            const model_tensor_t *t = model_output(i);
            fwrite(t->data, 1, t->bytes, stdout);
        }
    }
}
