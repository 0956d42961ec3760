/* One model file quantized into another (quantize_file.h): the pipeline
 * behind quanta quantize and quanta_quantize_file. */
#include "quant/quantize_file.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"
#include "quanta/quanta.h"
#include "quanta/quantize.h"
#include "quanta/safe_file.h"
#include "quanta/sha256.h"

/* SQNR samples of the equalization auto choice (the first of data). */
#define QUANTIZE_AUTO_SAMPLES 256

static void warnf(const struct quantize_file_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warnf(const struct quantize_file_options *o, const char *fmt, ...)
{
    if (!o->warn)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->warn(o->warn_ctx, line);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The layout of o's 4-D data: as given, else the model's own (NCHW for
 * a model imported from ONNX). */
static enum quanta_layout data_layout(const struct quantize_file_options *o,
                                      const struct model *m)
{
    if (o->layout >= 0)
        return (enum quanta_layout)o->layout;
    return model_data_nchw(m) ? QUANTA_LAYOUT_NCHW : QUANTA_LAYOUT_NHWC;
}

/* Metadata keys quantize writes itself (the source's are replaced). */
static bool is_provenance_key(const char *key)
{
    return strcmp(key, "quanta.graph") == 0 || strcmp(key, "quanta.version") == 0 ||
           strcmp(key, "quanta.quantize.options") == 0 ||
           strcmp(key, "quanta.quantize.adjustments") == 0 ||
           strcmp(key, "quanta.quantize.applied") == 0 ||
           strcmp(key, "quanta.quantize.mixed_precision") == 0 ||
           strncmp(key, "quanta.calibration.", 19) == 0 ||
           strcmp(key, "quanta.source_sha256") == 0;
}

/* Calibrates graph g (the model, or its equalized form) on o->data, and
 * with means (not NULL) averages the conv2d/dense inputs of graph p. */
static enum quanta_status calibrate(const struct quantize_file_options *o, const struct model *m,
                                    const struct graph *g, const struct graph *p,
                                    struct calib_table *table, struct calib_means *means,
                                    struct quanta_error *err)
{
    struct data_feed feed = {0};
    struct calib_options copt;
    calib_options_default(&copt);
    copt.method = o->method;
    copt.samples = o->samples;
    enum quanta_status st = calib_options_check(&copt, err);
    if (st == QUANTA_OK)
        st = data_feed_open(&feed, g, o->data, copt.samples, copt.batch, data_layout(o, m), err);
    char note[1024];
    if (st == QUANTA_OK && *data_feed_skipped_note(&feed, note, sizeof note))
        warnf(o, "%s", note);
    feed.progress = o->progress;
    progress_label(o->progress, "calibrating on %s", base_name(o->data));
    if (st == QUANTA_OK)
        st = calib_run(g, &feed, &copt, table, err);
    progress_label(o->progress, "input means on %s", base_name(o->data));
    if (st == QUANTA_OK && means && (st = calib_input_means(p, &feed, copt.threads, means, err)))
        calib_table_free(table);
    progress_clear(o->progress);
    data_feed_close(&feed);
    return st;
}

/* Runs float and quantized on the first check_samples samples and warns
 * for each layer below check_db; *failed when one is. */
static enum quanta_status check_layers(const struct quantize_file_options *o,
                                       const struct model *m, const struct graph *f,
                                       const struct graph *q, bool *failed,
                                       struct quanta_error *err)
{
    *failed = false;
    /* calib alone: no samples at hand */
    if (o->check_samples == 0 || !o->check_data || !o->compare)
        return QUANTA_OK;
    struct data_feed feed = {0};
    struct quantize_file_layer *ls = NULL;
    int n = 0;
    enum quanta_status st = data_feed_open(&feed, &m->graph, o->check_data, o->check_samples,
                                           8, data_layout(o, m), err);
    feed.progress = o->progress;
    progress_label(o->progress, "checking on %s", base_name(o->check_data));
    if (st == QUANTA_OK)
        st = o->compare(o->compare_ctx, f, q, &feed, &ls, &n, err);
    progress_clear(o->progress);
    int64_t samples = feed.samples;
    data_feed_close(&feed);
    if (st != QUANTA_OK) {
        if (o->strict || st == QUANTA_ERR_NOMEM)
            return st;
        warnf(o, "the check against float did not run: %s", err->message);
        quanta_error_clear(err);
        return QUANTA_OK;
    }
    for (int i = 0; i < n; i++) {
        const struct graph_value *v = &f->values[ls[i].value];
        double db = ls[i].sqnr_db;
        if (!ls[i].mismatch && !(db < o->check_db))
            continue;
        *failed = true;
        warnf(o, "layer '%s' (%s): SQNR %.2f dB against float on %lld samples is below "
                 "--check-db %g", v->name, graph_op_name(f->nodes[v->producer].op), db,
              (long long)samples, o->check_db);
    }
    free(ls);
    return QUANTA_OK;
}

/* A checkpoint without a graph, or a shard index (quantize_tensors.c). */
static enum quanta_status quantize_bag(const struct quantize_file_options *o,
                                       struct quanta_error *err)
{
    struct quantize_tensors_options t;
    quantize_tensors_options_default(&t);
    t.mode = o->opt.mode;
    t.weights = o->opt.weights;
    t.include = o->include;
    t.n_include = o->n_include;
    t.exclude = o->opt.exclude;
    t.n_exclude = o->opt.n_exclude;
    t.allow_nonfinite = o->opt.allow_nonfinite;
    char *options = quantize_file_options_json(o);
    if (!options)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
    t.options_json = options;
    enum quanta_status st = quantize_tensors_is_index(o->model)
                                ? quantize_tensors_sharded(o->model, o->output, &t, err)
                                : quantize_tensors_file(o->model, o->output, &t, err);
    free(options);
    return st;
}

/* One quantization of the model: its calibration (table, and the float
 * graph calibrated when that is the equalized one), the quantized graph
 * and what was adjusted or applied. */
struct candidate {
    bool equalize;
    struct graph prep, q;       /* prep: the folded (equalized) float graph, with data */
    bool have_prep, have_table;
    struct calib_table table;
    struct calib_means means;
    struct quantize_notes notes;
    struct quantize_applied applied;
    double sqnr_db;             /* auto: output SQNR on the data samples */
};

static void candidate_free(struct candidate *c)
{
    graph_free(&c->q);
    if (c->have_prep)
        graph_free(&c->prep);
    if (c->have_table)
        calib_table_free(&c->table);
    calib_means_free(&c->means);
    quantize_notes_free(&c->notes);
    quantize_applied_free(&c->applied);
    memset(c, 0, sizeof *c);
}

/* The float graph the quantized one is compared with, value by value. */
static const struct graph *reference_of(const struct candidate *c, const struct model *m)
{
    return c->equalize ? &c->prep : &m->graph;
}

static enum quanta_status candidate_build(const struct quantize_file_options *o,
                                          const struct model *m, const char *source_sha,
                                          bool equalize, struct candidate *c,
                                          struct quanta_error *err)
{
    enum quanta_status st;
    memset(c, 0, sizeof *c);
    c->equalize = equalize;
    struct quantize_options opt = o->opt;
    opt.equalize = equalize;
    if (o->calib) {
        if ((st = calib_table_load(&c->table, o->calib, err)) != QUANTA_OK)
            return st;
        c->have_table = true;
        if (c->table.model_sha256[0] && strcmp(c->table.model_sha256, source_sha) != 0)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: calibration was made for the model with sha256 %s, but %s "
                               "has sha256 %s", o->calib, c->table.model_sha256, o->model,
                               source_sha);
    } else if (o->data) {
        /* the graph quantize_model will quantize (folded, equalized): the
         * ranges of an equalized model and the input means are its own */
        struct quantize_applied pairs = {0};
        opt.applied = &pairs;
        st = quantize_prepare(&m->graph, &opt, &c->prep, o->model, err);
        /* nothing to equalize: exactly the model as given */
        c->equalize = equalize = equalize && pairs.n_pairs > 0;
        quantize_applied_free(&pairs);
        if (st != QUANTA_OK)
            return st;
        c->have_prep = true;
        if ((st = calibrate(o, m, equalize ? &c->prep : &m->graph, &c->prep, &c->table,
                            o->bias_correction ? &c->means : NULL, err)) != QUANTA_OK)
            return st;
        c->have_table = true;
    }
    struct quantize_ranges ranges = {.find = calib_table_range, .ctx = &c->table};
    struct quantize_means mean_find = {.find = calib_means_find, .ctx = &c->means};
    opt.notes = &c->notes;
    opt.applied = &c->applied;
    if (o->bias_correction)
        opt.means = &mean_find;
    return quantize_model(&m->graph, &opt, c->have_table ? &ranges : NULL, &c->q, o->model, err);
}

/* SQNR of c's graph outputs against the float model's (the worst output)
 * on the first QUANTIZE_AUTO_SAMPLES samples of data. */
static enum quanta_status output_sqnr(const struct quantize_file_options *o,
                                      const struct model *m, struct candidate *c,
                                      struct quanta_error *err)
{
    struct data_feed feed = {0};
    struct quantize_file_layer *ls = NULL;
    int n = 0;
    const struct graph *f = reference_of(c, m);
    enum quanta_status st = data_feed_open(&feed, f, o->data, QUANTIZE_AUTO_SAMPLES, 32,
                                           data_layout(o, m), err);
    feed.progress = o->progress;
    progress_label(o->progress, "equalization on/off on %s", base_name(o->data));
    if (st == QUANTA_OK)
        st = o->compare(o->compare_ctx, f, &c->q, &feed, &ls, &n, err);
    progress_clear(o->progress);
    data_feed_close(&feed);
    if (st != QUANTA_OK)
        return st;
    c->sqnr_db = INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < f->n_outputs; k++)
            if (ls[i].value == f->outputs[k]) {
                double db = ls[i].mismatch ? -INFINITY : ls[i].sqnr_db;
                c->sqnr_db = db < c->sqnr_db ? db : c->sqnr_db;
            }
    free(ls);
    return QUANTA_OK;
}

/* quanta.quantize.applied: the library's record, plus (auto) the choice
 * and the figures it rests on. */
static char *applied_json(const struct candidate *c, const struct candidate *other)
{
    char *text = quantize_applied_json(&c->applied);
    if (!text || !other)
        return text;
    cJSON *root = cJSON_Parse(text);
    free(text);
    text = NULL;
    cJSON *eq = root ? cJSON_GetObjectItem(root, "equalize") : NULL;
    cJSON *choice = eq ? cJSON_AddObjectToObject(eq, "auto") : NULL;
    if (choice) {
        const struct candidate *on = c->equalize ? c : other, *off = c->equalize ? other : c;
        cJSON_AddBoolToObject(choice, "chosen", c->equalize);
        cJSON_AddNumberToObject(choice, "samples", QUANTIZE_AUTO_SAMPLES);
        cJSON_AddNumberToObject(choice, "sqnr_db_on", on->sqnr_db);
        cJSON_AddNumberToObject(choice, "sqnr_db_off", off->sqnr_db);
        cJSON_AddNumberToObject(choice, "pairs_on", on->applied.n_pairs);
        text = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    return text;
}

/* The accuracy-budget search over c's quantization (the graph c
 * quantized, with its ranges and bias correction, so equalization stays
 * as chosen); *q the chosen graph, whose adjustments replace c's. */
static enum quanta_status search_mixed(const struct quantize_file_options *o,
                                       const struct model *m, struct candidate *c,
                                       struct graph *q, cJSON **record, struct quanta_error *err)
{
    struct quantize_options opt = o->opt;
    opt.equalize = false; /* c->prep is equalized already when c is */
    struct quantize_ranges ranges = {.find = calib_table_range, .ctx = &c->table};
    struct quantize_means mean_find = {.find = calib_means_find, .ctx = &c->means};
    if (o->bias_correction)
        opt.means = &mean_find;
    struct quantize_notes notes = {0};
    struct mixed_request req = {.src = c->have_prep ? &c->prep : &m->graph, .opt = &opt,
                                .ranges = c->have_table ? &ranges : NULL, .source = o->model,
                                .progress = o->progress, .notes = &notes,
                                .applied = &c->applied};
    enum quanta_status st = o->search->run(o->search->ctx, &m->graph, data_layout(o, m), &req,
                                           q, record, err);
    if (st == QUANTA_OK) {
        quantize_notes_free(&c->notes);
        c->notes = notes;
    } else {
        quantize_notes_free(&notes);
    }
    return st;
}

/* Writes q to o->output with the source's metadata and the provenance
 * keys (man quanta-quantize(1), METADATA). */
static enum quanta_status save(const struct quantize_file_options *o, const struct model *m,
                               const struct candidate *c, const char *applied_text,
                               const char *mixed_text, const char *source_sha,
                               const struct graph *q, struct quanta_error *err)
{
    char samples[32];
    char *options = quantize_file_options_json(o);
    char *adjustments = c->notes.n > 0 ? quantize_notes_json(&c->notes) : NULL;
    struct st_meta *meta = calloc(m->file.n_meta + 10, sizeof *meta);
    enum quanta_status st;
    if (!options || (c->notes.n > 0 && !adjustments) || !meta) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < m->file.n_meta; i++)
        if (!is_provenance_key(m->file.meta[i].key))
            meta[n++] = m->file.meta[i];
    meta[n++] = (struct st_meta){"quanta.version", QUANTA_VERSION};
    meta[n++] = (struct st_meta){"quanta.quantize.options", options};
    if (adjustments)
        meta[n++] = (struct st_meta){"quanta.quantize.adjustments", adjustments};
    if (applied_text)
        meta[n++] = (struct st_meta){"quanta.quantize.applied", applied_text};
    if (mixed_text)
        meta[n++] = (struct st_meta){"quanta.quantize.mixed_precision", mixed_text};
    if (c->have_table) {
        snprintf(samples, sizeof samples, "%lld", (long long)c->table.samples);
        meta[n++] = (struct st_meta){"quanta.calibration.method",
                                     calib_method_name(c->table.method)};
        meta[n++] = (struct st_meta){"quanta.calibration.samples", samples};
        meta[n++] = (struct st_meta){"quanta.calibration.data_sha256", c->table.data_sha256};
    }
    meta[n++] = (struct st_meta){"quanta.source_sha256", source_sha};
    st = graph_save(q, o->output, meta, n, err);
done:
    free(meta);
    free(options);
    free(adjustments);
    return st;
}

/* The warnings of a quantization: its adjustments and the values whose
 * non-finite elements calibration left out. */
static void warn_candidate(const struct quantize_file_options *o, const struct candidate *c)
{
    for (int i = 0; i < c->notes.n; i++) {
        char line[1024];
        quantize_note_format(&c->notes.list[i], line, sizeof line);
        warnf(o, "%s", line);
    }
    for (int i = 0; c->have_table && i < c->table.n_values; i++) {
        char line[1024];
        if (c->table.values[i].nonfinite > 0) {
            calib_nonfinite_format(&c->table.values[i], o->calib ? o->calib : o->data, line,
                                   sizeof line);
            warnf(o, "%s", line);
        }
    }
}

/* o checked, its defaults resolved: equalization and bias correction with
 * data only, the check on data in static mode. */
static enum quanta_status resolve(const struct quantize_file_options *o,
                                  struct quantize_file_options *r, struct quanta_error *err)
{
    *r = *o;
    enum quanta_status st = quantize_file_check(o, err);
    if (st != QUANTA_OK)
        return st;
    r->check_data = quantize_file_check_data(o);
    if (r->equalize < 0 && !r->data)
        r->equalize = 0;
    if (r->bias_correction < 0)
        r->bias_correction = r->data != NULL;
    if (r->equalize < 0 && !r->compare)
        return quanta_fail(err, QUANTA_ERR_USAGE, "equalization auto needs a compare hook");
    if ((st = safe_file_check_not_input(r->output, r->model, err)) == QUANTA_OK && r->calib)
        st = safe_file_check_not_input(r->output, r->calib, err);
    if (st == QUANTA_OK && r->data)
        st = safe_file_check_not_input(r->output, r->data, err);
    return st;
}

enum quanta_status quantize_file(const struct quantize_file_options *options, cJSON **record,
                                 struct quanta_error *err)
{
    struct quantize_file_options ro, *o = &ro;
    struct model m;
    struct candidate cand[2], *c = &cand[0];
    bool tried = false;
    char source_sha[QUANTA_SHA256_HEX_SIZE];
    char *applied_text = NULL, *mixed_text = NULL;
    cJSON *rec = NULL;
    struct graph mixed_q = {0};
    const struct graph *out_q;
    memset(cand, 0, sizeof cand);
    if (record)
        *record = NULL;
    enum quanta_status st = resolve(options, o, err);
    if (st != QUANTA_OK)
        return st;
    bool bag_ok = !o->need_graph && o->opt.mode != QUANTIZE_STATIC;
    if (bag_ok && quantize_tensors_is_index(o->model))
        return quantize_bag(o, err);
    if ((st = model_open(&m, o->model, err)) != QUANTA_OK)
        return st;
    if (!m.has_graph && bag_ok) {
        model_close(&m); /* reopened, streamed tensor by tensor */
        return quantize_bag(o, err);
    }
    if (m.has_graph && o->n_include > 0) {
        st = quanta_fail(err, QUANTA_ERR_USAGE, "--include is for checkpoints without a graph; "
                                                "%s has one (use --exclude NODE)", o->model);
        goto done;
    }
    if (!m.has_graph) {
        st = o->need_graph
                 ? quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph (quanta.graph); quanta "
                                                      "quantize converts checkpoints", o->model)
                 : quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph (quanta.graph), so it "
                                                      "cannot be quantized static (weight-only "
                                                      "and fp16 can)", o->model);
        goto done;
    }
    if ((st = quanta_sha256_file(o->model, source_sha, err)) != QUANTA_OK)
        goto done;
    /* auto (the default with data): equalized, and if that found pairs,
     * also as given; the higher output SQNR on the samples wins */
    if ((st = candidate_build(o, &m, source_sha, o->equalize != 0 && o->data, &cand[0], err)))
        goto done;
    if (o->equalize < 0 && o->data && cand[0].equalize) {
        tried = true;
        if ((st = candidate_build(o, &m, source_sha, false, &cand[1], err)) ||
            (st = output_sqnr(o, &m, &cand[0], err)) || (st = output_sqnr(o, &m, &cand[1], err)))
            goto done;
        if (!(cand[0].sqnr_db > cand[1].sqnr_db))
            c = &cand[1];
    }
    out_q = &c->q;
    if (o->search) {
        if ((st = search_mixed(o, &m, c, &mixed_q, &rec, err)) != QUANTA_OK)
            goto done;
        out_q = &mixed_q;
        if (!(mixed_text = cJSON_PrintUnformatted(rec))) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
            goto done;
        }
    }
    warn_candidate(o, c);
    bool check_failed;
    if ((st = check_layers(o, &m, reference_of(c, &m), out_q, &check_failed, err)) != QUANTA_OK)
        goto done;
    if (check_failed && o->strict) {
        st = quanta_fail(err, QUANTA_ERR_CHECK, "%s: a layer of the quantized model is below "
                                                "--check-db %g; nothing written (--strict)",
                         o->model, o->check_db);
        goto done;
    }
    if ((o->equalize != 0 || o->bias_correction) && o->data &&
        !(applied_text = applied_json(c, tried ? &cand[c == &cand[0]] : NULL))) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
        goto done;
    }
    st = save(o, &m, c, applied_text, mixed_text, source_sha, out_q, err);
done:
    if (st == QUANTA_OK && record)
        *record = rec;
    else
        cJSON_Delete(rec);
    free(mixed_text);
    graph_free(&mixed_q);
    free(applied_text);
    candidate_free(&cand[0]);
    candidate_free(&cand[1]);
    model_close(&m);
    return st;
}
