/* The public offline API (include/quanta/quanta_offline.h): import,
 * calibrate and quantize as single calls, each what the quanta(1)
 * command does with the same options and its defaults for the rest (the
 * files written are the same, byte for byte). */
#include <string.h>

#include "quanta/quanta.h"
#include "quanta/quanta_offline.h"
#include "quanta/calib.h"
#include "quanta/onnx_import.h"
#include "quanta/sha256.h"
#include "quant/quantize_file.h"

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
    struct quantize_file_options q;
    quantize_file_options_default(&q);
    q.model = model;
    q.output = output;
    q.calib = calib;
    q.opt.mode = o.mode == QUANTA_QUANTIZE_STATIC        ? QUANTIZE_STATIC
                 : o.mode == QUANTA_QUANTIZE_WEIGHT_ONLY ? QUANTIZE_WEIGHT_ONLY
                                                         : QUANTIZE_FP16;
    q.opt.weights = o.per_tensor ? QUANTIZE_PER_TENSOR : QUANTIZE_PER_CHANNEL;
    q.opt.activations = o.symmetric ? QUANTIZE_SYMMETRIC : QUANTIZE_ASYMMETRIC;
    q.opt.exclude = o.exclude;
    q.opt.n_exclude = o.n_exclude;
    q.need_graph = true; /* no tensor-by-tensor conversion here (man quanta_quantize_file(3)) */
    return quantize_file(&q, NULL, err);
}
