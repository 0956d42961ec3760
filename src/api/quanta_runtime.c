/* The public runtime API (include/quanta/quanta.h): thin wrappers over
 * model_open, runner_create and runner_run. A quanta_model is the
 * internal struct model; a quanta_session a runner plus its model. */
#include <stdlib.h>
#include <string.h>

#include "quanta/quanta.h"

struct quanta_model {
    struct model m;
};

struct quanta_session {
    const struct quanta_model *model;
    struct runner *runner;
    int64_t max_batch;
    bool ran;
};

const char *quanta_version(void)
{
    return QUANTA_VERSION;
}

const char *quanta_kernel_level(void)
{
    const char *level;
    return runtime_kernels(&level, NULL) == QUANTA_OK ? level : NULL;
}

const char *quanta_status_message(enum quanta_status status)
{
    return quanta_status_string(status);
}

enum quanta_status quanta_model_load(quanta_model **model, const char *path,
                                     struct quanta_error *err)
{
    if (!model || !path)
        return quanta_fail(err, QUANTA_ERR_USAGE, "quanta_model_load: model and path are needed");
    *model = NULL;
    quanta_model *qm = calloc(1, sizeof *qm);
    if (!qm)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    enum quanta_status st = model_open(&qm->m, path, err);
    if (st != QUANTA_OK) {
        free(qm);
        return st;
    }
    if (!qm->m.has_graph) {
        model_close(&qm->m);
        free(qm);
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph (quanta.graph), so it cannot "
                                                  "be run", path);
    }
    *model = qm;
    return QUANTA_OK;
}

void quanta_model_free(quanta_model *model)
{
    if (!model)
        return;
    model_close(&model->m);
    free(model);
}

int quanta_model_input_count(const quanta_model *model)
{
    return model ? model->m.graph.n_inputs : 0;
}

int quanta_model_output_count(const quanta_model *model)
{
    return model ? model->m.graph.n_outputs : 0;
}

/* The value index of input (is_input) or output index; -1 if out of range. */
static int value_of(const quanta_model *model, bool is_input, int index)
{
    if (!model || index < 0)
        return -1;
    const struct graph *g = &model->m.graph;
    if (is_input)
        return index < g->n_inputs ? g->inputs[index].value : -1;
    return index < g->n_outputs ? g->outputs[index] : -1;
}

const char *quanta_model_input_name(const quanta_model *model, int index)
{
    int v = value_of(model, true, index);
    return v < 0 ? NULL : model->m.graph.values[v].name;
}

const char *quanta_model_output_name(const quanta_model *model, int index)
{
    int v = value_of(model, false, index);
    return v < 0 ? NULL : model->m.graph.values[v].name;
}

enum quanta_dtype quanta_model_input_dtype(const quanta_model *model, int index)
{
    int v = value_of(model, true, index);
    if (v < 0)
        return QUANTA_DTYPE_INVALID;
    enum quanta_dtype dt = model->m.graph.values[v].dtype;
    return dt == QUANTA_I32 || dt == QUANTA_I64 ? QUANTA_I64 : QUANTA_F32;
}

static enum quanta_status shape_of(const quanta_model *model, bool is_input, int index,
                                   struct quanta_shape *shape, struct quanta_error *err)
{
    int v = value_of(model, is_input, index);
    if (v < 0 || !shape)
        return quanta_fail(err, QUANTA_ERR_USAGE, "%s %d: no such %s of the model",
                           is_input ? "input" : "output", index, is_input ? "input" : "output");
    *shape = model->m.graph.values[v].shape;
    return QUANTA_OK;
}

enum quanta_status quanta_model_input_shape(const quanta_model *model, int index,
                                            struct quanta_shape *shape, struct quanta_error *err)
{
    return shape_of(model, true, index, shape, err);
}

enum quanta_status quanta_model_output_shape(const quanta_model *model, int index,
                                             struct quanta_shape *shape, struct quanta_error *err)
{
    return shape_of(model, false, index, shape, err);
}

enum quanta_status quanta_model_normalize(const quanta_model *model, int index, const float *raw,
                                          float *out, size_t n, struct quanta_error *err)
{
    int v = value_of(model, true, index);
    if (v < 0 || (n > 0 && (!raw || !out)))
        return quanta_fail(err, QUANTA_ERR_USAGE, "input %d: no such input of the model, or no "
                                                  "data", index);
    const struct graph_input *in = &model->m.graph.inputs[index];
    const struct quanta_shape *s = &model->m.graph.values[v].shape;
    if (!in->has_normalize) {
        if (out != raw)
            memmove(out, raw, n * sizeof *out);
        return QUANTA_OK;
    }
    /* the same arithmetic as dataset_read_f32, so results match quanta run's */
    const struct quanta_normalize *norm = &in->normalize;
    int64_t channels = s->rank ? s->dims[s->rank - 1] : 1;
    if ((norm->n_mean > 1 && norm->n_mean != channels) ||
        (norm->n_std > 1 && norm->n_std != channels))
        return quanta_fail(err, QUANTA_ERR_INPUT, "input '%s': normalize has %d mean and %d std "
                                                  "values but the input has %lld channels",
                           model->m.graph.values[v].name, norm->n_mean, norm->n_std,
                           (long long)channels);
    for (size_t i = 0; i < n; i++) {
        size_t c = channels > 0 ? i % (size_t)channels : 0;
        double mean = norm->n_mean == 0 ? 0.0 : norm->mean[norm->n_mean == 1 ? 0 : c];
        double sd = norm->n_std == 0 ? 1.0 : norm->std[norm->n_std == 1 ? 0 : c];
        out[i] = (float)(((double)raw[i] * norm->scale - mean) / sd);
    }
    return QUANTA_OK;
}

enum quanta_status quanta_session_create(quanta_session **session, const quanta_model *model,
                                         const struct quanta_session_options *options,
                                         struct quanta_error *err)
{
    if (!session || !model)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "quanta_session_create: session and model are needed");
    *session = NULL;
    /* a caller built against an older, shorter struct leaves the rest zero */
    struct quanta_session_options opt = {0};
    if (options) {
        size_t size = options->size ? options->size : sizeof opt;
        memcpy(&opt, options, size < sizeof opt ? size : sizeof opt);
    }
    if (opt.threads < 0 || opt.max_batch < 0)
        return quanta_fail(err, QUANTA_ERR_USAGE, "quanta_session_create: threads %d and "
                                                  "max_batch %lld must not be negative",
                           opt.threads, (long long)opt.max_batch);
    const struct graph *g = &model->m.graph;
    if (opt.max_batch == 0) {
        opt.max_batch = 1;
        for (int i = 0; i < g->n_inputs; i++) {
            const struct quanta_shape *s = &g->values[g->inputs[i].value].shape;
            if (s->rank > 0 && s->dims[0] > 0)
                opt.max_batch = s->dims[0];
        }
    }
    quanta_session *s = calloc(1, sizeof *s);
    if (!s)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for a session");
    /* optimized as quanta run does, so a session gives run's bits */
    struct runner_options ro = {.max_batch = opt.max_batch, .threads = opt.threads,
                                .optimize = true};
    enum quanta_status st = runner_create(&s->runner, g, &ro, err);
    if (st != QUANTA_OK) {
        free(s);
        return st;
    }
    s->model = model;
    s->max_batch = opt.max_batch;
    *session = s;
    return QUANTA_OK;
}

void quanta_session_free(quanta_session *session)
{
    if (!session)
        return;
    runner_free(session->runner);
    free(session);
}

enum quanta_status quanta_session_run(quanta_session *session, int64_t batch,
                                      const void *const *inputs, struct quanta_error *err)
{
    if (!session)
        return quanta_fail(err, QUANTA_ERR_USAGE, "quanta_session_run: no session");
    session->ran = false; /* a failed run has no outputs, whatever failed */
    const struct graph *g = &session->model->m.graph;
    if (batch < 1 || batch > session->max_batch)
        return quanta_fail(err, QUANTA_ERR_USAGE, "batch %lld is not in [1, %lld] (max_batch)",
                           (long long)batch, (long long)session->max_batch);
    for (int i = 0; i < g->n_inputs; i++)
        if (!inputs || !inputs[i])
            return quanta_fail(err, QUANTA_ERR_USAGE, "input %d ('%s') has no data", i,
                               g->values[g->inputs[i].value].name);
    enum quanta_status st = runner_run(session->runner, batch, inputs, err);
    session->ran = st == QUANTA_OK;
    return st;
}

const float *quanta_session_output(const quanta_session *session, int index,
                                   struct quanta_shape *shape)
{
    if (!session || !session->ran || index < 0 || index >= session->model->m.graph.n_outputs)
        return NULL;
    struct quanta_shape s;
    const float *data = runner_output(session->runner, index, &s);
    if (shape)
        *shape = s;
    return data;
}
