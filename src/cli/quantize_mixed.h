/* quanta quantize --max-drop / --min-agreement: the held-out data and the
 * gates from the command line, wired to the library's search
 * (quant/mixed_precision.h) and scoring (report/holdout.h). */
#ifndef QUANTA_CLI_QUANTIZE_MIXED_H
#define QUANTA_CLI_QUANTIZE_MIXED_H

#include <getopt.h>
#include <stdio.h>
#include <cJSON.h>
#include "quant/mixed_precision.h"
#include "quant/quantize_file.h"
#include "report/eval.h"

/* The options' lines of quanta quantize --help. */
#define QUANTIZE_MIXED_HELP \
    "  --max-drop PTS          keep the fewest layers in float for the top-1\n" \
    "                          accuracy on --holdout to drop by at most PTS\n" \
    "                          points against the float model (as quanta eval\n" \
    "                          --max-drop; needs labels); each layer's\n" \
    "                          sensitivity is measured, then a binary search\n" \
    "                          over that order (cost linear in the layers)\n" \
    "  --min-agreement PCT     the same budget as eval's --min-agreement: top-1\n" \
    "                          agreement with float of at least PCT percent\n" \
    "  --holdout FILE          held-out samples the budget is measured on\n" \
    "                          (needed by the two above; not the calibration\n" \
    "                          samples, so the choice is not fitted to them)\n" \
    "  --labels FILE           labels of --holdout (default: the labels beside\n" \
    "                          it, as quanta eval finds them)\n" \
    "  --holdout-samples N     use the first N samples of --holdout (default all)\n"

/* The options, for quanta quantize's getopt_long table; their codes are
 * above any other option's. */
enum {
    QUANTIZE_MIXED_OPT_MAX_DROP = 1000, QUANTIZE_MIXED_OPT_MIN_AGREEMENT,
    QUANTIZE_MIXED_OPT_HOLDOUT, QUANTIZE_MIXED_OPT_LABELS, QUANTIZE_MIXED_OPT_HOLDOUT_SAMPLES
};
#define QUANTIZE_MIXED_OPTIONS \
    {"max-drop", required_argument, NULL, QUANTIZE_MIXED_OPT_MAX_DROP}, \
    {"min-agreement", required_argument, NULL, QUANTIZE_MIXED_OPT_MIN_AGREEMENT}, \
    {"holdout", required_argument, NULL, QUANTIZE_MIXED_OPT_HOLDOUT}, \
    {"labels", required_argument, NULL, QUANTIZE_MIXED_OPT_LABELS}, \
    {"holdout-samples", required_argument, NULL, QUANTIZE_MIXED_OPT_HOLDOUT_SAMPLES}

struct quantize_mixed_cli {
    const char *holdout, *labels;   /* --holdout, --labels (NULL: beside it) */
    int64_t samples;                /* --holdout-samples, 0: all */
    struct report_eval_options gates;   /* --max-drop, --min-agreement */
    int threads;
    FILE *table;                    /* where the layer table goes (NULL: not printed) */
};

/* Option c with its argument: -1 when c is none of these, 0 when taken,
 * else the usage error's exit code (printed with usage). */
int quantize_mixed_option(struct quantize_mixed_cli *mc, int c, const char *arg,
                          const char *usage);
/* After the options: 0, or the usage error's exit code (the gates need
 * static mode and --holdout; --holdout and its options need a gate). */
int quantize_mixed_check(struct quantize_mixed_cli *mc, bool static_mode, const char *usage);
/* {"output", "bytes", "mixed_precision": record or null} on stdout; takes
 * record. */
enum quanta_status quantize_mixed_print_json(const char *output, cJSON *record,
                                             struct quanta_error *err);

/* Whether a gate was given (the search runs). */
bool quantize_mixed_wanted(const struct quantize_mixed_cli *mc);

/* The search as quantize_file's hook (quant/quantize_file.h) and the
 * budget it records: s->run is quantize_mixed_run with ctx mc. */
void quantize_mixed_hook(struct quantize_mixed_cli *mc, struct quantize_file_search *s);

/* quantize_file_search_fn, ctx a struct quantize_mixed_cli: runs the
 * search on req (its score and ctx are filled here) against the float
 * model fg on the held-out data, prints the layer table on mc->table and
 * leaves the chosen graph in *q and the record in *record (the metadata
 * key quanta.quantize.mixed_precision). */
enum quanta_status quantize_mixed_run(void *ctx, const struct graph *fg,
                                      enum quanta_layout layout, struct mixed_request *req,
                                      struct graph *q, cJSON **record, struct quanta_error *err);

#endif
