/* Held-out scoring (holdout.h): the float outputs kept once, each
 * candidate streamed through report_eval like quanta eval's second model. */
#include "report/holdout.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Runs g over every batch of h's feed; with store, keeps the outputs in
 * h->ref, else adds them to e against h->ref. */
static enum quanta_status run_all(struct report_holdout *h, const struct graph *g, bool store,
                                  struct report_eval *e, struct quanta_error *err)
{
    struct runner *r = NULL;
    struct runner_options ro = {.max_batch = h->feed.batch, .threads = h->threads};
    enum quanta_status st = runner_create(&r, g, &ro, err);
    for (int64_t start = 0; st == QUANTA_OK && start < h->feed.samples; start += h->feed.batch) {
        int64_t count = h->feed.samples - start < h->feed.batch ? h->feed.samples - start
                                                                 : h->feed.batch;
        if ((st = data_feed_read(&h->feed, start, count, err)) != QUANTA_OK ||
            (st = runner_run(r, count, data_feed_inputs(&h->feed), err)) != QUANTA_OK)
            break;
        struct quanta_shape shape;
        const float *out = runner_output(r, 0, &shape);
        float *ref = h->ref + start * h->per_sample;
        if (quanta_shape_numel(&shape) != count * h->per_sample)
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: the candidate gives %" PRId64 " outputs for %" PRId64
                             " samples, the float model %" PRId64, h->data,
                             quanta_shape_numel(&shape), count, count * h->per_sample);
        else if (store)
            memcpy(ref, out, (size_t)(count * h->per_sample) * sizeof *ref);
        else
            st = report_eval_add(e, start, count, (const float *const[2]){ref, out}, err);
    }
    runner_free(r);
    return st;
}

enum quanta_status report_holdout_open(struct report_holdout *h, const struct graph *fg,
                                       const char *data, const char *labels, int64_t limit,
                                       enum quanta_layout layout,
                                       const struct report_eval_options *opt, int threads,
                                       struct progress *progress, struct quanta_error *err)
{
    memset(h, 0, sizeof *h);
    h->fg = fg;
    h->data = data;
    h->opt = *opt;
    h->threads = threads;
    enum quanta_status st = data_feed_open(&h->feed, fg, data, limit, 64, layout, err);
    if (st != QUANTA_OK)
        return st;
    h->feed.progress = progress;
    st = labels ? labels_load_any(&h->labels, labels, err)
                : labels_load_for_data_any(&h->labels, data, err);
    if (st != QUANTA_OK)
        return st;
    int64_t in_file = h->feed.datasets[0]->n_samples;
    if (h->labels.n > 0 && h->labels.n != in_file)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: holds %" PRId64 " labels but %s has %"
                           PRId64 " samples", h->labels.path, h->labels.n, data, in_file);
    if (!graph_value_sample_shape(fg, fg->outputs[0], h->feed.batch, &h->output))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: output '%s' has no sample axis: its first "
                           "axis is not the batch of %lld samples the model runs",
                           data, fg->values[fg->outputs[0]].name, (long long)h->feed.batch);
    h->per_sample = quanta_shape_numel(&h->output);
    /* report_eval_init checks the gates against the task and labels now,
     * before the float pass */
    struct report_eval e;
    st = report_eval_init(&e, &h->opt, 2, &h->output, &h->labels, h->feed.samples, data, err);
    report_eval_free(&e);
    if (st != QUANTA_OK)
        return st;
    if (h->per_sample < 1 || h->feed.samples > INT64_MAX / 4 / h->per_sample ||
        !(h->ref = malloc((size_t)(h->feed.samples * h->per_sample) * sizeof *h->ref)))
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the float outputs on "
                           "%" PRId64 " samples of %s", h->feed.samples, data);
    return run_all(h, fg, true, NULL, err);
}

enum quanta_status report_holdout_score(struct report_holdout *h, const struct graph *qg,
                                        struct report_eval *e, struct quanta_error *err)
{
    enum quanta_status st = report_eval_init(e, &h->opt, 2, &h->output, &h->labels,
                                             h->feed.samples, h->data, err);
    if (st == QUANTA_OK && !data_feed_shared(h->fg, qg))
        st = quanta_fail(err, QUANTA_ERR_INTERNAL, "the candidate does not take the float "
                                                   "model's inputs");
    if (st == QUANTA_OK)
        st = run_all(h, qg, false, e, err);
    if (st == QUANTA_OK)
        st = report_eval_finish(e, err);
    return st;
}

void report_holdout_close(struct report_holdout *h)
{
    data_feed_close(&h->feed);
    labels_free(&h->labels);
    free(h->ref);
    memset(h, 0, sizeof *h);
}
