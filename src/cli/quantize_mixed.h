/* quanta quantize --max-drop / --min-agreement: the held-out data and the
 * gates from the command line, wired to the library's search
 * (quant/mixed_precision.h) and scoring (report/holdout.h). */
#ifndef QUANTA_CLI_QUANTIZE_MIXED_H
#define QUANTA_CLI_QUANTIZE_MIXED_H

#include <cJSON.h>
#include "quant/mixed_precision.h"
#include "report/eval.h"

struct quantize_mixed_cli {
    const char *holdout, *labels;   /* --holdout, --labels (NULL: beside it) */
    int64_t samples;                /* --holdout-samples, 0: all */
    struct report_eval_options gates;   /* --max-drop, --min-agreement */
    int threads;
};

/* Whether a gate was given (the search runs). */
bool quantize_mixed_wanted(const struct quantize_mixed_cli *mc);

/* Runs the search on req (its score and ctx are filled here) against the
 * float model fg on the held-out data, prints the layer table on out
 * (NULL: not printed) and leaves the chosen graph in *q and the record in
 * *record (the metadata key quanta.quantize.mixed_precision). */
enum quanta_status quantize_mixed_run(const struct quantize_mixed_cli *mc, const struct graph *fg,
                                      enum quanta_layout layout, struct mixed_request *req,
                                      struct graph *q, cJSON **record, FILE *out,
                                      struct quanta_error *err);

#endif
