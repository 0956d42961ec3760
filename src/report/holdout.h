/* Scoring quantized graphs on held-out data, for the mixed-precision
 * search of quanta quantize: the float model's outputs on the held-out
 * samples are computed once and kept (samples x outputs x 4 bytes), then
 * each candidate graph runs on the same samples and is measured against
 * them with quanta eval's figures and gates (report_eval), exactly as
 * `quanta eval FLOAT CANDIDATE --data HOLDOUT` would. */
#ifndef QUANTA_REPORT_HOLDOUT_H
#define QUANTA_REPORT_HOLDOUT_H

#include "report/eval.h"

struct progress;

struct report_holdout {
    const struct graph *fg;     /* the float model */
    const char *data;           /* the held-out file */
    struct data_feed feed;
    struct labels labels;       /* n == 0: none */
    struct report_eval_options opt;
    struct quanta_shape output; /* graph output 0, per sample */
    int64_t per_sample;
    float *ref;                 /* feed.samples x per_sample float outputs */
    int threads;                /* runner threads, 0: all cores */
};

/* Opens data (at most limit samples, <= 0: all) for fg with its labels
 * (labels NULL: those beside the data, as quanta eval finds them; none is
 * allowed when no gate needs them) and runs fg over it once. The gates
 * are opt's (report_eval_init refuses, QUANTA_ERR_USAGE, a gate the labels
 * or the output cannot serve). progress (may be NULL) is advanced by every
 * pass over the data. fg must outlive h. */
enum quanta_status report_holdout_open(struct report_holdout *h, const struct graph *fg,
                                       const char *data, const char *labels, int64_t limit,
                                       enum quanta_layout layout,
                                       const struct report_eval_options *opt, int threads,
                                       struct progress *progress, struct quanta_error *err);
/* Runs qg (which takes fg's inputs) over the held-out samples and fills e
 * (model 1: the kept float outputs, model 2: qg) up to report_eval_finish;
 * e->pass tells whether qg meets the gates. Free e with report_eval_free
 * (also on failure). */
enum quanta_status report_holdout_score(struct report_holdout *h, const struct graph *qg,
                                        struct report_eval *e, struct quanta_error *err);
void report_holdout_close(struct report_holdout *h);

#endif
