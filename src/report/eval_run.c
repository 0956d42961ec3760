/* The run behind quanta eval and quanta report: open the models and the
 * data, run every batch through both models, feed the figures. */
#include "report/eval_run.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/bench.h"

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static enum quanta_status open_side(struct report_run *r, int i, struct quanta_error *err)
{
    struct report_run_side *s = &r->side[i];
    enum quanta_status st = model_open(&s->model, s->path, err);
    if (st != QUANTA_OK)
        return st;
    s->opened = true;
    if (!s->model.has_graph)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph, so it cannot run", s->path);
    const struct graph *g = &s->model.graph;
    if (i == 1 && data_feed_shared(&r->side[0].model.graph, g)) {
        s->input = &r->side[0].feed;
    } else {
        enum quanta_layout layout = r->opt.layout >= 0 ? (enum quanta_layout)r->opt.layout
                                    : model_data_nchw(&s->model) ? QUANTA_LAYOUT_NCHW
                                                                 : QUANTA_LAYOUT_NHWC;
        st = data_feed_open(&s->feed, g, r->opt.data, r->opt.samples, r->opt.batch, layout,
                            err);
        if (st != QUANTA_OK)
            return st;
        s->input = &s->feed;
        if (i == 1 && s->feed.batch != r->side[0].feed.batch)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s and %s need different batch sizes (%lld and %lld)",
                               r->side[0].path, s->path, (long long)r->side[0].feed.batch,
                               (long long)s->feed.batch);
    }
    struct quanta_shape sample;
    char buf[128];
    if (!graph_value_sample_shape(g, g->outputs[0], s->input->batch, &sample))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: output '%s' %s has no sample axis: its "
                           "first axis is not the batch of %lld samples the model runs",
                           s->path, g->values[g->outputs[0]].name,
                           quanta_shape_format(&g->values[g->outputs[0]].shape, buf, sizeof buf),
                           (long long)s->input->batch);
    s->per_sample = quanta_shape_numel(&sample);
    if (s->per_sample < 1 || s->per_sample > INT32_MAX)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: output '%s' has %lld values per sample",
                           s->path, g->values[g->outputs[0]].name, (long long)s->per_sample);
    struct runner_options ro = {.max_batch = s->input->batch, .threads = (int)r->opt.threads,
                               .optimize = true};
    st = runner_create(&s->runner, g, &ro, err);
    if (st != QUANTA_OK && st != QUANTA_ERR_USAGE && strncmp(err->message, s->path,
                                                             strlen(s->path)) != 0)
        quanta_error_prefix(err, "%s", s->path);
    return st;
}

static enum quanta_status load_labels(struct report_run *r, struct quanta_error *err)
{
    enum quanta_status st;
    if (r->opt.labels)
        st = labels_load_any(&r->labels, r->opt.labels, err);
    else
        st = labels_load_for_data_any(&r->labels, r->opt.data, err);
    if (st != QUANTA_OK)
        return st;
    int64_t in_file = r->side[0].input->datasets[0]->n_samples;
    if (r->labels.n > 0 && r->labels.n != in_file)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: holds %lld labels but %s has %lld samples",
                           r->labels.path, (long long)r->labels.n, r->opt.data,
                           (long long)in_file);
    return QUANTA_OK;
}

static void add_changes(struct report_run *r, int64_t start, int64_t count,
                        const float *const out[2])
{
    int64_t k = r->changes.classes;
    for (int64_t i = 0; i < count; i++)
        report_changes_add(&r->changes, out[0] + i * k, out[1] + i * k,
                           r->labels.values[start + i]);
}

static enum quanta_status run_batches(struct report_run *r, struct quanta_error *err)
{
    enum quanta_status st;
    int64_t batch = r->side[0].input->batch;
    for (int64_t start = 0; start < r->samples; start += batch) {
        int64_t count = r->samples - start < batch ? r->samples - start : batch;
        const float *out[2] = {NULL, NULL};
        for (int i = 0; i < r->n; i++) {
            struct report_run_side *s = &r->side[i];
            if (s->input == &s->feed && (st = data_feed_read(&s->feed, start, count, err)))
                return st;
            double t0 = bench_now_seconds();
            st = runner_run(s->runner, count, data_feed_inputs(s->input), err);
            r->eval.model[i].seconds += bench_now_seconds() - t0;
            if (st != QUANTA_OK) {
                if (strncmp(err->message, s->path, strlen(s->path)) != 0)
                    quanta_error_prefix(err, "%s", s->path);
                return st;
            }
            struct quanta_shape shape;
            out[i] = runner_output(s->runner, 0, &shape);
        }
        if ((st = report_eval_add(&r->eval, start, count, out, err)) != QUANTA_OK)
            return st;
        if (r->changes.classes > 0)
            add_changes(r, start, count, out);
    }
    return QUANTA_OK;
}

static enum quanta_status start_extras(struct report_run *r, struct quanta_error *err)
{
    enum quanta_status st;
    if (r->opt.per_layer) {
        st = report_layers_init(&r->layers, r->side[0].runner, r->side[1].runner,
                                r->side[0].input->batch, err);
        if (st == QUANTA_OK && r->opt.histograms)
            st = report_layers_histograms(&r->layers, err);
        if (st != QUANTA_OK)
            return st;
    }
    if (r->opt.changes && r->eval.task == REPORT_TASK_CLASS && report_eval_has_labels(&r->eval))
        return report_changes_init(&r->changes, (int)r->eval.classes, err);
    return QUANTA_OK;
}

enum quanta_status report_run(struct report_run *r, const struct report_run_options *opt,
                              struct quanta_error *err)
{
    enum quanta_status st;
    memset(r, 0, sizeof *r);
    r->opt = *opt;
    r->n = opt->n_models;
    for (int i = 0; i < r->n; i++)
        r->side[i].path = opt->model[i];
    for (int i = 0; i < r->n; i++)
        if ((st = open_side(r, i, err)) != QUANTA_OK)
            return st;
    r->samples = r->side[0].input->samples;
    if (r->n == 2) {
        if (r->side[1].input->samples < r->samples)
            r->samples = r->side[1].input->samples;
        if (r->side[0].per_sample != r->side[1].per_sample)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s gives %lld outputs per sample but %s gives %lld",
                               r->side[0].path, (long long)r->side[0].per_sample,
                               r->side[1].path, (long long)r->side[1].per_sample);
    }
    if ((st = load_labels(r, err)) != QUANTA_OK)
        return st;
    const struct graph *g1 = &r->side[0].model.graph;
    struct quanta_shape out; /* per sample; open_side checked it has the batch axis */
    graph_value_sample_shape(g1, g1->outputs[0], r->side[0].input->batch, &out);
    st = report_eval_init(&r->eval, &opt->eval, r->n, &out, &r->labels, r->samples, opt->data,
                          err);
    if (st != QUANTA_OK) {
        r->usage_error = st == QUANTA_ERR_USAGE;
        return st;
    }
    for (int i = 0; i < r->n; i++) {
        r->eval.model[i].path = r->side[i].path;
        r->eval.model[i].bytes = file_size(r->side[i].path);
    }
    if (r->n == 2 && (st = start_extras(r, err)) != QUANTA_OK)
        return st;
    if (opt->progress) {
        const char *slash = strrchr(opt->data, '/');
        progress_label(opt->progress, "evaluating on %s", slash ? slash + 1 : opt->data);
        r->side[0].input->progress = opt->progress; /* model 1 reads every batch */
    }
    st = run_batches(r, err);
    r->side[0].input->progress = NULL;
    if (st != QUANTA_OK)
        return st;
    return report_eval_finish(&r->eval, err);
}

void report_run_free(struct report_run *r)
{
    for (int i = r->n - 1; i >= 0; i--) {
        struct report_run_side *s = &r->side[i];
        runner_free(s->runner);
        data_feed_close(&s->feed);
        if (s->opened)
            model_close(&s->model);
    }
    report_eval_free(&r->eval);
    report_layers_free(&r->layers);
    report_changes_free(&r->changes);
    labels_free(&r->labels);
}
