/* quantize_file's options (quantize_file.h): their defaults, which go
 * together, and the record of them in the output's metadata. */
#include "quant/quantize_file.h"

#include <string.h>

/* --mode's names, as quanta.quantize.options records them. */
static const char *const mode_names[] = {
    [QUANTIZE_STATIC] = "static", [QUANTIZE_WEIGHT_ONLY] = "weight-only",
    [QUANTIZE_FP16] = "fp16"};

void quantize_file_options_default(struct quantize_file_options *o)
{
    memset(o, 0, sizeof *o);
    quantize_options_default(&o->opt);
    o->method = CALIB_MINMAX;
    o->layout = -1;
    o->equalize = -1;
    o->bias_correction = -1;
    o->check_samples = 16;
    o->check_db = 10.0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* quanta.quantize.options: every option, as one deterministic JSON object
 * (files by base name, so the output does not depend on where they are). */
char *quantize_file_options_json(const struct quantize_file_options *o)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ex = cJSON_CreateArray();
    char *text = NULL;
    if (!root || !ex) {
        cJSON_Delete(ex);
        goto done;
    }
    cJSON_AddStringToObject(root, "mode", mode_names[o->opt.mode]);
    cJSON_AddStringToObject(root, "weights",
                            o->opt.weights == QUANTIZE_PER_TENSOR ? "per-tensor" : "per-channel");
    cJSON_AddStringToObject(root, "activations",
                            o->opt.activations == QUANTIZE_SYMMETRIC ? "symmetric" : "asymmetric");
    cJSON_AddStringToObject(root, "activation_type",
                            o->opt.activation_type == QUANTA_U8 ? "uint8" : "int8");
    for (int i = 0; i < o->opt.n_exclude; i++)
        cJSON_AddItemToArray(ex, cJSON_CreateString(o->opt.exclude[i]));
    cJSON_AddItemToObject(root, "exclude", ex);
    cJSON *in = cJSON_AddArrayToObject(root, "include");
    for (int i = 0; in && i < o->n_include; i++)
        cJSON_AddItemToArray(in, cJSON_CreateString(o->include[i]));
    cJSON_AddBoolToObject(root, "allow_nonfinite", o->opt.allow_nonfinite);
    cJSON_AddBoolToObject(root, "int8_outputs", o->opt.int8_outputs);
    cJSON_AddBoolToObject(root, "int8_scores", o->opt.int8_scores);
    cJSON_AddNumberToObject(root, "embedding_bits", o->opt.embedding_bits);
    if (o->equalize < 0)
        cJSON_AddStringToObject(root, "equalize", "auto");
    else
        cJSON_AddBoolToObject(root, "equalize", o->equalize);
    cJSON_AddBoolToObject(root, "bias_correction", o->bias_correction);
    if (o->calib)
        cJSON_AddStringToObject(root, "calib", base_name(o->calib));
    else
        cJSON_AddNullToObject(root, "calib");
    if (o->data)
        cJSON_AddStringToObject(root, "data", base_name(o->data));
    else
        cJSON_AddNullToObject(root, "data");
    if (o->data) {
        cJSON_AddStringToObject(root, "method", calib_method_name(o->method));
        if (o->samples)
            cJSON_AddNumberToObject(root, "samples", (double)o->samples);
        else
            cJSON_AddStringToObject(root, "samples", "all");
    } else {
        cJSON_AddNullToObject(root, "method");
        cJSON_AddNullToObject(root, "samples");
    }
    const struct quantize_file_search *s = o->search;
    if (s && s->has_max_drop)
        cJSON_AddNumberToObject(root, "max_drop", s->max_drop);
    if (s && s->has_min_agreement)
        cJSON_AddNumberToObject(root, "min_agreement", s->min_agreement);
    if (s && s->holdout)
        cJSON_AddStringToObject(root, "holdout", base_name(s->holdout));
    text = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    return text;
}

const char *quantize_file_check_data(const struct quantize_file_options *o)
{
    if (o->check_data || o->opt.mode != QUANTIZE_STATIC)
        return o->check_data;
    return o->data;
}

enum quanta_status quantize_file_check(const struct quantize_file_options *o,
                                       struct quanta_error *err)
{
    const char *why = NULL;
    bool static_mode = o->opt.mode == QUANTIZE_STATIC;
    if (static_mode && !o->calib && !o->data)
        why = "--mode static needs --calib CALIB.json or --data FILE";
    else if (static_mode && o->calib && o->data)
        why = "--calib and --data exclude each other";
    else if (!static_mode && (o->calib || o->data))
        return quanta_fail(err, QUANTA_ERR_USAGE, "--mode %s takes no calibration (--calib, "
                                                  "--data)", mode_names[o->opt.mode]);
    else if (o->opt.mode == QUANTIZE_FP16 && o->opt.embedding_bits != 8)
        why = "--embedding-bits goes with --mode static or weight-only";
    else if (!o->data && o->samples)
        why = "--method and --samples go with --data";
    /* both need samples: equalization changes the layer outputs per
     * channel, so a table calibrated on the model as given cannot serve */
    else if (o->equalize == 1 && !o->data)
        why = "--equalize needs --data (the equalized model is calibrated there; a --calib "
              "table is of the model as given)";
    else if (o->bias_correction == 1 && !o->data)
        why = "--bias-correction needs --data (the input means come from its samples)";
    else if (o->strict && (!quantize_file_check_data(o) || o->check_samples == 0))
        why = "--strict needs the check: give --data or --check-data, and --check-samples "
              "above 0";
    else if (o->search && !static_mode)
        why = "--max-drop and --min-agreement go with --mode static";
    return why ? quanta_fail(err, QUANTA_ERR_USAGE, "%s", why) : QUANTA_OK;
}

