#include "cli/cli_data.h"
#include "quanta/calib.h"
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_integer_input(enum quanta_dtype dtype)
{
    return dtype == QUANTA_I32 || dtype == QUANTA_I64;
}

/* Opens the dataset for graph input i: by the input's name first (a
 * safetensors data file with a tensor per input), else, for a graph with a
 * single input, the file's only samples tensor. */
static enum quanta_status open_input(struct dataset **ds, const struct graph *g, int i,
                                     const char *path, struct quanta_error *err)
{
    const char *name = g->values[g->inputs[i].value].name;
    enum quanta_status st = dataset_open(ds, path, name, err);
    if (st != QUANTA_ERR_INPUT || g->n_inputs != 1)
        return st;
    struct quanta_error second;
    quanta_error_clear(&second);
    if (dataset_open(ds, path, NULL, &second) == QUANTA_OK) {
        quanta_error_clear(err);
        return QUANTA_OK;
    }
    return st; /* the first message, which names the input */
}

bool cli_parse_layout(const char *text, enum cli_layout *out)
{
    if (strcmp(text, "nhwc") == 0)
        *out = CLI_LAYOUT_NHWC;
    else if (strcmp(text, "nchw") == 0)
        *out = CLI_LAYOUT_NCHW;
    else
        return false;
    return true;
}

/* With --layout nchw: samples [C, H, W] for a graph input [N, H, W, C]. */
static bool nchw_samples(const struct dataset *ds, const struct graph_value *v,
                         const struct quanta_shape *want)
{
    const struct quanta_shape *s = &ds->sample_shape;
    return v->shape.rank == 4 && s->rank == 3 && !quanta_shape_equal(s, want) &&
           s->dims[0] == v->shape.dims[3] && s->dims[1] == v->shape.dims[1] &&
           s->dims[2] == v->shape.dims[2];
}

enum quanta_status cli_feed_open_layout(struct cli_feed *feed, const struct graph *g,
                                        const char *path, int64_t limit, int64_t batch,
                                        enum cli_layout layout, struct quanta_error *err)
{
    enum quanta_status st;
    memset(feed, 0, sizeof *feed);
    feed->graph = g;
    feed->path = path;
    feed->n_inputs = g->n_inputs;
    if (g->n_inputs < 1)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: the graph has no input", path);
    size_t n = (size_t)g->n_inputs;
    feed->datasets = calloc(n, sizeof *feed->datasets);
    feed->buffers = calloc(n, sizeof *feed->buffers);
    feed->integer = calloc(n, sizeof *feed->integer);
    if (!feed->datasets || !feed->buffers || !feed->integer) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory opening %s", path);
        goto fail;
    }
    feed->batch = batch;
    feed->samples = -1;
    bool fixed_batch = false;
    for (int i = 0; i < g->n_inputs; i++) {
        const struct graph_value *v = &g->values[g->inputs[i].value];
        if (v->shape.rank > 0 && v->shape.dims[0] > 0) { /* a fixed batch size */
            feed->batch = v->shape.dims[0];
            fixed_batch = true;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const struct graph_value *v = &g->values[g->inputs[i].value];
        st = open_input(&feed->datasets[i], g, i, path, err);
        if (st != QUANTA_OK)
            goto fail;
        struct dataset *ds = feed->datasets[i];
        struct quanta_shape want = {.rank = v->shape.rank > 0 ? v->shape.rank - 1 : 0};
        for (int d = 1; d < v->shape.rank; d++)
            want.dims[d - 1] = v->shape.dims[d];
        if (layout == CLI_LAYOUT_NCHW && !is_integer_input(v->dtype) &&
            nchw_samples(ds, v, &want)) {
            int64_t numel = quanta_shape_numel(&want);
            if (!feed->nchw && !(feed->nchw = calloc(n, sizeof *feed->nchw))) {
                st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory opening %s", path);
                goto fail;
            }
            feed->nchw[i] = true;
            free(feed->scratch);
            feed->scratch = NULL;
            if ((uint64_t)numel <= SIZE_MAX / sizeof(float) / (uint64_t)feed->batch)
                feed->scratch = malloc((size_t)numel * sizeof(float) * (size_t)feed->batch + 1);
            if (!feed->scratch) {
                st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for a batch of %s", path);
                goto fail;
            }
        } else if (!quanta_shape_equal(&ds->sample_shape, &want)) {
            char have_s[128], want_s[128];
            quanta_shape_format(&ds->sample_shape, have_s, sizeof have_s);
            quanta_shape_format(&want, want_s, sizeof want_s);
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: samples have shape %s but graph input '%s' needs %s%s", path,
                             have_s, v->name, want_s,
                             layout == CLI_LAYOUT_NHWC && nchw_samples(ds, v, &want)
                                 ? " (NCHW data: use --layout nchw)" : "");
            goto fail;
        }
        feed->integer[i] = is_integer_input(v->dtype);
        if (feed->samples < 0 || ds->n_samples < feed->samples)
            feed->samples = ds->n_samples;
        int64_t numel = quanta_shape_numel(&want);
        size_t elem = feed->integer[i] ? sizeof(int64_t) : sizeof(float);
        if (numel < 0 || (uint64_t)numel > SIZE_MAX / elem / (uint64_t)feed->batch) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: samples of '%s' are too large", path,
                             v->name);
            goto fail;
        }
        feed->buffers[i] = malloc((size_t)numel * elem * (size_t)feed->batch + 1);
        if (!feed->buffers[i]) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for a batch of %s", path);
            goto fail;
        }
    }
    if (limit > 0 && limit < feed->samples)
        feed->samples = limit;
    if (fixed_batch) /* a fixed batch size runs whole batches only */
        feed->samples -= feed->samples % feed->batch;
    if (feed->samples < 1) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: holds no sample", path);
        goto fail;
    }
    return QUANTA_OK;
fail:
    cli_feed_close(feed);
    return st;
}

/* Input i from NCHW samples: raw values, transposed to NHWC, then
 * normalized (integer data only) with c the channel. */
static enum quanta_status read_nchw(struct cli_feed *feed, int i, int64_t start, int64_t count,
                                   struct quanta_error *err)
{
    const struct graph_input *in = &feed->graph->inputs[i];
    const struct quanta_shape *s = &feed->graph->values[in->value].shape;
    int64_t h = s->dims[1], w = s->dims[2], c = s->dims[3], per = h * w * c;
    struct dataset *ds = feed->datasets[i];
    enum quanta_status st = dataset_read_f32(ds, start, count, NULL, feed->scratch, err);
    if (st != QUANTA_OK)
        return st;
    float *out = feed->buffers[i];
    const struct quanta_normalize *nz = in->has_normalize && !quanta_dtype_is_float(ds->dtype)
                                            ? &in->normalize : NULL;
    for (int64_t k = 0; k < count; k++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                for (int64_t ch = 0; ch < c; ch++) {
                    float v = feed->scratch[k * per + (ch * h + y) * w + x];
                    if (nz) {
                        double mean = nz->n_mean == 0 ? 0.0 : nz->mean[nz->n_mean == 1 ? 0 : ch];
                        double sd = nz->n_std == 0 ? 1.0 : nz->std[nz->n_std == 1 ? 0 : ch];
                        v = (float)(((double)v * nz->scale - mean) / sd);
                    }
                    out[k * per + (y * w + x) * c + ch] = v;
                }
    return QUANTA_OK;
}

enum quanta_status cli_feed_read(struct cli_feed *feed, int64_t start, int64_t count,
                                 struct quanta_error *err)
{
    for (int i = 0; i < feed->n_inputs; i++) {
        const struct graph_input *in = &feed->graph->inputs[i];
        enum quanta_status st;
        if (feed->integer[i])
            st = dataset_read_i64(feed->datasets[i], start, count, feed->buffers[i], err);
        else if (feed->nchw && feed->nchw[i])
            st = read_nchw(feed, i, start, count, err);
        else
            st = dataset_read_f32(feed->datasets[i], start, count,
                                  in->has_normalize ? &in->normalize : NULL, feed->buffers[i],
                                  err);
        if (st != QUANTA_OK)
            return st;
    }
    return QUANTA_OK;
}

void cli_feed_close(struct cli_feed *feed)
{
    for (int i = 0; i < feed->n_inputs; i++) {
        if (feed->datasets)
            dataset_close(feed->datasets[i]);
        if (feed->buffers)
            free(feed->buffers[i]);
    }
    free(feed->datasets);
    free(feed->buffers);
    free(feed->integer);
    free(feed->nchw);
    free(feed->scratch);
    memset(feed, 0, sizeof *feed);
}

static bool float_lists_equal(int na, const float *a, int nb, const float *b)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

bool cli_feed_shared(const struct graph *a, const struct graph *b)
{
    if (a->n_inputs != b->n_inputs)
        return false;
    for (int i = 0; i < a->n_inputs; i++) {
        const struct graph_input *ia = &a->inputs[i], *ib = &b->inputs[i];
        const struct graph_value *va = &a->values[ia->value], *vb = &b->values[ib->value];
        if (strcmp(va->name, vb->name) != 0 || va->dtype != vb->dtype ||
            !quanta_shape_equal(&va->shape, &vb->shape) ||
            ia->has_normalize != ib->has_normalize)
            return false;
        if (ia->has_normalize) {
            const struct quanta_normalize *na = &ia->normalize, *nb = &ib->normalize;
            if (na->scale != nb->scale ||
                !float_lists_equal(na->n_mean, na->mean, nb->n_mean, nb->mean) ||
                !float_lists_equal(na->n_std, na->std, nb->n_std, nb->std))
                return false;
        }
    }
    return true;
}

int64_t cli_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

char *cli_shape_format(const struct quanta_shape *shape, char *buf, size_t size)
{
    size_t len = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
#define APPEND(...)                                                                   \
    do {                                                                              \
        int k_ = snprintf(buf + len, size - len, __VA_ARGS__);                        \
        if (k_ < 0 || (size_t)k_ >= size - len)                                       \
            return buf;                                                               \
        len += (size_t)k_;                                                            \
    } while (0)
    APPEND("[");
    for (int d = 0; d < shape->rank; d++) {
        if (d > 0)
            APPEND(", ");
        if (d == 0 && shape->dims[0] < 0)
            APPEND("N");
        else
            APPEND("%lld", (long long)shape->dims[d]);
    }
    APPEND("]");
#undef APPEND
    return buf;
}

cJSON *cli_json_shape(const struct quanta_shape *shape)
{
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; a && d < shape->rank; d++) {
        cJSON *n = cJSON_CreateNumber((double)shape->dims[d]);
        if (!n || !cJSON_AddItemToArray(a, n)) {
            cJSON_Delete(n);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

bool cli_json_add_number(cJSON *object, const char *key, double v)
{
    if (isfinite(v))
        return cJSON_AddNumberToObject(object, key, v) != NULL;
    return cJSON_AddNullToObject(object, key) != NULL;
}

enum quanta_status cli_json_print(cJSON *root, struct quanta_error *err)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory printing json");
    fputs(text, stdout);
    fputc('\n', stdout);
    cJSON_free(text);
    return QUANTA_OK;
}

int cli_option_error(const char *command, const char *usage, int c, char **argv)
{
    const char *opt = optind > 0 ? argv[optind - 1] : "";
    char short_opt[3] = {'-', (char)optopt, '\0'};
    if (optopt > 0 && optopt < 128 && opt[0] == '-' && opt[1] != '-')
        opt = short_opt;
    if (c == ':')
        return cli_usage_error(command, usage, "option '%s' needs a value", opt);
    return cli_usage_error(command, usage, "unknown option '%s'", opt);
}

int cli_opt_batch(const char *command, const char *usage, const char *text, int64_t *out)
{
    if (!cli_parse_i64(text, 1, 1 << 20, out))
        return cli_usage_error(command, usage, "--batch '%s' is not a number in [1, 1048576]",
                               text);
    return 0;
}

int cli_opt_samples(const char *command, const char *usage, const char *text, int64_t *out)
{
    if (!cli_parse_i64(text, 1, INT64_MAX, out))
        return cli_usage_error(command, usage, "--samples '%s' is not a number >= 1", text);
    return 0;
}

int cli_opt_threads(const char *command, const char *usage, const char *text, int64_t *out)
{
    if (!cli_parse_i64(text, 0, 1024, out))
        return cli_usage_error(command, usage, "--threads '%s' is not a number in [0, 1024]",
                               text);
    return 0;
}

int cli_opt_layout(const char *command, const char *usage, const char *text,
                   enum cli_layout *out)
{
    if (!cli_parse_layout(text, out))
        return cli_usage_error(command, usage, "--layout '%s' is not nchw or nhwc", text);
    return 0;
}

int cli_one_model(const char *command, const char *usage, int argc, char **argv,
                  const char **model)
{
    if (argc - optind != 1)
        return cli_usage_error(command, usage, "%s",
                               argc - optind < 1 ? "a model file is needed"
                                                 : "only one model file is taken");
    *model = argv[optind];
    return 0;
}

int cli_output_not_input(const char *command, const char *usage, const char *output,
                         const char *input1, const char *input2)
{
    struct quanta_error err;
    quanta_error_clear(&err);
    if ((input1 && safe_file_check_not_input(output, input1, &err) != QUANTA_OK) ||
        (input2 && safe_file_check_not_input(output, input2, &err) != QUANTA_OK))
        return cli_usage_error(command, usage, "%s", err.message);
    return 0;
}

enum quanta_status cli_model_open_graph(struct model *m, const char *path, const char *why,
                                        struct quanta_error *err)
{
    enum quanta_status st = model_open(m, path, err);
    if (st != QUANTA_OK || m->has_graph)
        return st;
    model_close(m);
    return quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph%s", path, why);
}

void cli_warn_nonfinite(const char *command, const char *source, const struct calib_table *t)
{
    for (int i = 0; i < t->n_values; i++) {
        const struct calib_value *v = &t->values[i];
        if (v->nonfinite > 0)
            fprintf(stderr,
                    "quanta %s: warning: %s: value '%s': %lld NaN or infinite elements (of %lld) "
                    "were left out of its range\n",
                    command, source, v->name, (long long)v->nonfinite,
                    (long long)(v->nonfinite + v->count));
    }
}
