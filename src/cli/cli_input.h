/* Synthetic input for the timing commands (bench, profile). */
#ifndef QUANTA_CLI_INPUT_H
#define QUANTA_CLI_INPUT_H

#include <stdint.h>
#include "quanta/graph.h"
#include "quanta/status.h"

struct cli_input {
    int n;
    void **buffers;                 /* one per graph input, runner_run's layout */
};

/* max_batch samples for every graph input of g: floats uniform in [-1, 1)
 * (already normalized), ids uniform in [0, vocab) of the smallest
 * embedding reading them; xorshift64* with a fixed seed per input. path
 * names the model in messages. */
enum quanta_status cli_input_make(struct cli_input *in, const struct graph *g, const char *path,
                                  int64_t max_batch, struct quanta_error *err);
void cli_input_free(struct cli_input *in);

#endif
