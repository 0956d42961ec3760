/* The public offline API (include/quanta/quanta_offline.h): import,
 * calibrate and quantize as single calls, each what the quanta(1)
 * command does with the same options and its defaults for the rest (the
 * files written are the same, byte for byte). */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "quanta/quanta.h"
#include "quanta/quanta_offline.h"
#include "quanta/calib.h"
#include "quanta/onnx_import.h"
#include "quanta/quantize.h"
#include "quanta/sha256.h"

/* Copies the caller's options struct (size bytes of it; 0: all of this
 * version's) over a zeroed one, so callers built against an older, shorter
 * struct get defaults for the fields added since. */
static void options_copy(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    memset(dst, 0, dst_size);
    if (!src)
        return;
    size_t n = src_size ? src_size : dst_size;
    memcpy(dst, src, n < dst_size ? n : dst_size);
}

enum quanta_status quanta_import_onnx(const char *onnx_path, const char *output,
                                      const struct quanta_import_options *options,
                                      struct quanta_error *err)
{
    struct quanta_import_options o;
    options_copy(&o, sizeof o, options, options ? options->size : 0);
    if (!onnx_path || !output)
        return quanta_fail(err, QUANTA_ERR_USAGE, "quanta_import_onnx: a model and an output "
                                                  "path are needed");
    enum quanta_status st = safe_file_check_not_input(output, onnx_path, err);
    if (st != QUANTA_OK)
        return st;
    struct onnx_import_options io = {.name = o.name};
    return onnx_import_file(onnx_path, output, &io, err);
}

enum quanta_status quanta_calibrate_file(const char *model, const char *data, const char *output,
                                         const struct quanta_calibrate_options *options,
                                         struct quanta_error *err)
{
    struct quanta_calibrate_options o;
    options_copy(&o, sizeof o, options, options ? options->size : 0);
    if (!model || !data || !output)
        return quanta_fail(err, QUANTA_ERR_USAGE, "quanta_calibrate_file: a model, a data file "
                                                  "and an output path are needed");
    static const enum calib_method methods[] = {
        [QUANTA_CALIB_MINMAX] = CALIB_MINMAX,         [QUANTA_CALIB_MEANSTD] = CALIB_MEANSTD,
        [QUANTA_CALIB_PERCENTILE] = CALIB_PERCENTILE, [QUANTA_CALIB_ENTROPY] = CALIB_ENTROPY,
        [QUANTA_CALIB_MSE] = CALIB_MSE,
    };
    if ((unsigned)o.method >= sizeof methods / sizeof methods[0])
        return quanta_fail(err, QUANTA_ERR_USAGE, "calibration method %d is unknown",
                           (int)o.method);
    struct calib_options copt;
    calib_options_default(&copt);
    copt.method = methods[o.method];
    if (o.percentile != 0)
        copt.percentile = o.percentile;
    if (o.k != 0)
        copt.k = o.k;
    if (o.batch != 0)
        copt.batch = o.batch;
    copt.samples = o.samples;
    copt.threads = o.threads;
    enum quanta_status st = calib_options_check(&copt, err);
    if (st == QUANTA_OK)
        st = safe_file_check_not_input(output, model, err);
    if (st == QUANTA_OK)
        st = safe_file_check_not_input(output, data, err);
    if (st != QUANTA_OK)
        return st;

    struct model m;
    struct data_feed feed = {0};
    struct calib_table table = {0};
    if ((st = model_open(&m, model, err)) != QUANTA_OK)
        return st;
    if (!m.has_graph) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph (quanta.graph), so it cannot "
                                                "be calibrated", model);
        goto done;
    }
    enum quanta_layout layout = model_data_nchw(&m) ? QUANTA_LAYOUT_NCHW : QUANTA_LAYOUT_NHWC;
    if ((st = data_feed_open(&feed, &m.graph, data, copt.samples, copt.batch, layout, err)) ||
        (st = calib_run(&m.graph, &feed, &copt, &table, err)) ||
        (st = quanta_sha256_file(model, table.model_sha256, err)))
        goto done;
    st = calib_table_save(&table, output, err);
done:
    calib_table_free(&table);
    data_feed_close(&feed);
    model_close(&m);
    return st;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* quanta.quantize.options as quanta quantize writes it (man
 * quanta-quantize(1)): every option, calibration files by base name. */
static char *options_json(const struct quanta_quantize_options *o, const struct quantize_options *q,
                          const char *calib)
{
    static const char *const modes[] = {"static", "weight-only", "fp16"};
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "mode", modes[o->mode]);
    cJSON_AddStringToObject(root, "weights", o->per_tensor ? "per-tensor" : "per-channel");
    cJSON_AddStringToObject(root, "activations", o->symmetric ? "symmetric" : "asymmetric");
    cJSON_AddStringToObject(root, "activation_type", "int8");
    cJSON *ex = cJSON_AddArrayToObject(root, "exclude");
    for (int i = 0; ex && i < o->n_exclude; i++)
        cJSON_AddItemToArray(ex, cJSON_CreateString(o->exclude[i]));
    cJSON_AddArrayToObject(root, "include");
    cJSON_AddBoolToObject(root, "allow_nonfinite", q->allow_nonfinite);
    cJSON_AddBoolToObject(root, "int8_outputs", q->int8_outputs);
    cJSON_AddNumberToObject(root, "embedding_bits", q->embedding_bits);
    cJSON_AddBoolToObject(root, "equalize", false);
    cJSON_AddBoolToObject(root, "bias_correction", false);
    if (calib)
        cJSON_AddStringToObject(root, "calib", base_name(calib));
    else
        cJSON_AddNullToObject(root, "calib");
    cJSON_AddNullToObject(root, "data");
    cJSON_AddNullToObject(root, "method");
    cJSON_AddNullToObject(root, "samples");
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* Metadata keys quantize writes itself (the source's are replaced). */
static bool is_provenance_key(const char *key)
{
    return strcmp(key, "quanta.graph") == 0 || strcmp(key, "quanta.version") == 0 ||
           strcmp(key, "quanta.quantize.options") == 0 ||
           strcmp(key, "quanta.quantize.adjustments") == 0 ||
           strcmp(key, "quanta.quantize.applied") == 0 ||
           strncmp(key, "quanta.calibration.", 19) == 0 ||
           strcmp(key, "quanta.source_sha256") == 0;
}

enum quanta_status quanta_quantize_file(const char *model, const char *calib, const char *output,
                                        const struct quanta_quantize_options *options,
                                        struct quanta_error *err)
{
    struct quanta_quantize_options o;
    options_copy(&o, sizeof o, options, options ? options->size : 0);
    if (!model || !output)
        return quanta_fail(err, QUANTA_ERR_USAGE, "quanta_quantize_file: a model and an output "
                                                  "path are needed");
    if ((unsigned)o.mode > QUANTA_QUANTIZE_FP16 || o.n_exclude < 0 || (o.n_exclude && !o.exclude))
        return quanta_fail(err, QUANTA_ERR_USAGE, "quantize mode %d or exclude list is invalid",
                           (int)o.mode);
    if ((o.mode == QUANTA_QUANTIZE_STATIC) != (calib != NULL))
        return quanta_fail(err, QUANTA_ERR_USAGE, "%s", calib ? "a calibration table goes with "
                                                                "the static mode only"
                                                              : "the static mode needs a "
                                                                "calibration table");
    struct quantize_options q;
    quantize_options_default(&q);
    q.mode = o.mode == QUANTA_QUANTIZE_STATIC        ? QUANTIZE_STATIC
             : o.mode == QUANTA_QUANTIZE_WEIGHT_ONLY ? QUANTIZE_WEIGHT_ONLY
                                                     : QUANTIZE_FP16;
    q.weights = o.per_tensor ? QUANTIZE_PER_TENSOR : QUANTIZE_PER_CHANNEL;
    q.activations = o.symmetric ? QUANTIZE_SYMMETRIC : QUANTIZE_ASYMMETRIC;
    q.exclude = o.exclude;
    q.n_exclude = o.n_exclude;
    struct quantize_notes notes = {0};
    q.notes = &notes;

    enum quanta_status st = safe_file_check_not_input(output, model, err);
    if (st == QUANTA_OK && calib)
        st = safe_file_check_not_input(output, calib, err);
    if (st != QUANTA_OK)
        return st;
    struct model m;
    struct graph out = {0};
    struct calib_table table = {0};
    bool have_table = false;
    char source_sha[QUANTA_SHA256_HEX_SIZE], samples[32];
    char *opt_text = NULL, *adjustments = NULL;
    struct st_meta *meta = NULL;
    if ((st = model_open(&m, model, err)) != QUANTA_OK)
        return st;
    if (!m.has_graph) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph (quanta.graph); quanta "
                                                "quantize converts checkpoints", model);
        goto done;
    }
    if ((st = quanta_sha256_file(model, source_sha, err)) != QUANTA_OK)
        goto done;
    if (calib) {
        if ((st = calib_table_load(&table, calib, err)) != QUANTA_OK)
            goto done;
        have_table = true;
        if (table.model_sha256[0] && strcmp(table.model_sha256, source_sha) != 0) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: calibration was made for the model with "
                                                    "sha256 %s, but %s has sha256 %s",
                             calib, table.model_sha256, model, source_sha);
            goto done;
        }
    }
    struct quantize_ranges ranges = {.find = calib_table_range, .ctx = &table};
    if ((st = quantize_model(&m.graph, &q, have_table ? &ranges : NULL, &out, model, err)))
        goto done;
    opt_text = options_json(&o, &q, calib);
    adjustments = notes.n > 0 ? quantize_notes_json(&notes) : NULL;
    meta = calloc(m.file.n_meta + 8, sizeof *meta);
    if (!opt_text || (notes.n > 0 && !adjustments) || !meta) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", output);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < m.file.n_meta; i++)
        if (!is_provenance_key(m.file.meta[i].key))
            meta[n++] = m.file.meta[i];
    meta[n++] = (struct st_meta){"quanta.version", QUANTA_VERSION};
    meta[n++] = (struct st_meta){"quanta.quantize.options", opt_text};
    if (adjustments)
        meta[n++] = (struct st_meta){"quanta.quantize.adjustments", adjustments};
    if (have_table) {
        snprintf(samples, sizeof samples, "%lld", (long long)table.samples);
        meta[n++] = (struct st_meta){"quanta.calibration.method", calib_method_name(table.method)};
        meta[n++] = (struct st_meta){"quanta.calibration.samples", samples};
        meta[n++] = (struct st_meta){"quanta.calibration.data_sha256", table.data_sha256};
    }
    meta[n++] = (struct st_meta){"quanta.source_sha256", source_sha};
    st = graph_save(&out, output, meta, n, err);
done:
    free(meta);
    free(opt_text);
    free(adjustments);
    quantize_notes_free(&notes);
    if (have_table)
        calib_table_free(&table);
    graph_free(&out);
    model_close(&m);
    return st;
}
