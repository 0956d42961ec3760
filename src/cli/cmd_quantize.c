/* quanta quantize: rewrites a float model for int8 (or fp16) inference,
 * calibrating from a data file or reading a calibration table, and writes
 * the quantized model with its provenance in __metadata__. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "base/progress.h"
#include "cli/cli.h"
#include "cli/cli_data.h"
#include "cli/quantize_mixed.h"
#include "quanta/calib.h"
#include "quanta/quantize.h"
#include "quanta/sha256.h"
#include "report/report.h"

static const char quantize_usage[] =
    "usage: quanta quantize MODEL -o OUT (--calib CALIB.json | --data FILE [--method M]\n"
    "                       [--samples N]) [--mode static|weight-only|fp16]\n"
    "                       [--weights per-channel|per-tensor]\n"
    "                       [--activations asymmetric|symmetric]\n"
    "                       [--activation-type int8|uint8] [--exclude NODE[,NODE...]]\n"
    "                       [--include GLOB[,GLOB...]] [--allow-nonfinite]\n"
    "                       [--check-data FILE] [--check-samples N] [--check-db DB]\n"
    "                       [--strict] [--layout nchw|nhwc] [--int8-outputs]\n"
    "                       [--embedding-bits 8|4]\n"
    "                       [--[no-]equalize] [--[no-]bias-correction]\n"
    "                       [(--max-drop PTS | --min-agreement PCT) --holdout FILE\n"
    "                       [--labels FILE] [--holdout-samples N]] [--json] [--quiet]\n";

static const char quantize_help[] =
    "usage: quanta quantize MODEL -o OUT (--calib CALIB.json | --data FILE [--method M]\n"
    "                       [--samples N]) [--mode static|weight-only|fp16]\n"
    "                       [--weights per-channel|per-tensor]\n"
    "                       [--activations asymmetric|symmetric]\n"
    "                       [--activation-type int8|uint8] [--exclude NODE[,NODE...]]\n"
    "                       [--include GLOB[,GLOB...]] [--allow-nonfinite]\n"
    "                       [--check-data FILE] [--check-samples N] [--check-db DB]\n"
    "                       [--strict] [--layout nchw|nhwc] [--int8-outputs]\n"
    "                       [--embedding-bits 8|4]\n"
    "                       [--[no-]equalize] [--[no-]bias-correction]\n"
    "                       [(--max-drop PTS | --min-agreement PCT) --holdout FILE\n"
    "                       [--labels FILE] [--holdout-samples N]] [--json] [--quiet]\n"
    "\n"
    "Writes OUT, a quantized copy of the float model MODEL (a safetensors file\n"
    "any reader can list). batch_norm is folded into the conv2d/dense before\n"
    "it. In static mode every node with an int8 kernel runs on int8 values,\n"
    "with quantize/dequantize nodes made explicit where float and int8 meet;\n"
    "values keep their float-model names (see man quanta-quantize(1)).\n"
    "\n"
    "options:\n"
    "  -o, --output OUT        the quantized model to write (required; not MODEL)\n"
    "  --calib CALIB.json      activation ranges from a table written by\n"
    "                          'quanta calibrate'\n"
    "  --data FILE             calibrate here on the samples of FILE instead\n"
    "  --method M              with --data: minmax (default), meanstd, percentile,\n"
    "                          entropy, mse, or auto (per value, the one of least\n"
    "                          error where the value is used)\n"
    "  --samples N             with --data: use the first N samples (default all)\n"
    "  --mode M                static (default): int8 weights and activations;\n"
    "                          weight-only: I8 conv2d/dense weights, float\n"
    "                          activations, no calibration; fp16: F16 constants\n"
    "  --weights G             per-channel (default) or per-tensor: symmetric I8\n"
    "                          weights in [-127, 127], zero point 0\n"
    "  --activations S         asymmetric (default) or symmetric, per tensor\n"
    "  --activation-type T     int8 (default) or uint8\n"
    "  --exclude NODE[,NODE]   keep these nodes in float (repeatable); without a\n"
    "                          graph: glob patterns of tensor names to copy as is\n"
    "  --include GLOB[,GLOB]   without a graph: convert only tensors whose names\n"
    "                          match one of these glob patterns (repeatable)\n"
    "  --allow-nonfinite       quantize weights holding NaN or Inf (else exit 3)\n"
    "  --embedding-bits B      embedding tables per row: 8 (I8, default) or 4\n"
    "                          (I4, two values a byte; quanta's own dtype)\n"
    "  --int8-outputs          a graph output of an int8 conv2d/dense (or of a\n"
    "                          sigmoid, tanh, ... after one) is int8, then\n"
    "                          dequantized (default: float computed from the\n"
    "                          int32 accumulator, the function in float)\n"
    "  --equalize              cross-layer equalization of conv2d/dense pairs\n"
    "                          before quantizing, then calibration on the\n"
    "                          equalized model (needs --data; default with it:\n"
    "                          auto, both tried, the higher output SQNR on 256\n"
    "                          samples kept)\n"
    "  --no-equalize           leave the weights as they are\n"
    "  --bias-correction       subtract from each int8 conv2d/dense bias the\n"
    "                          output shift its weight rounding causes on the\n"
    "                          --data samples' mean (default with --data)\n"
    "  --no-bias-correction    keep the biases as they are\n"
    QUANTIZE_MIXED_HELP
    "  --json                  print one JSON object on stdout (the output, its\n"
    "                          size and the mixed-precision record)\n"
    "  --quiet                 no progress line (one is shown on stderr when it\n"
    "                          is a terminal)\n"
    "  --check-data FILE       samples for the check below (default: the --data\n"
    "                          file; without either the check does not run)\n"
    "  --check-samples N       run the float and the quantized model on the first\n"
    "                          N samples (default 16, 0: no check) and warn for\n"
    "                          every layer whose SQNR against float is below\n"
    "  --check-db DB           this many dB (default 10)\n"
    "  --strict                a layer below --check-db, or a check that cannot\n"
    "                          run, fails the command (exit 1) and writes nothing\n"
    "  --layout L              layout of 4-D data (--data, --check-data): nhwc\n"
    "                          or nchw; default: the model's, nchw for models\n"
    "                          made by quanta import\n"
    "  -h, --help              show this help\n"
    "\n"
    "Static mode needs exactly one of --calib and --data; the other modes take\n"
    "neither. Same inputs and options give the same bytes. Where calibrated\n"
    "parameters would give a wrong int8 result (an int32 bias that does not fit,\n"
    "a range of [0, 0] or narrower than the node resolves) the rewrite adjusts\n"
    "them by a documented rule, warns on stderr and records it in the metadata\n"
    "key quanta.quantize.adjustments (man quanta-quantize(1), ADJUSTMENTS).\n"
    "\n"
    "A MODEL without a graph (a bag of tensors such as a Hugging Face checkpoint)\n"
    "can be quantized weight-only (every 2-D F32/F16/BF16 tensor to I8 per row,\n"
    "scales in \"<name>.scale\") or fp16; MODEL may also be a shard index\n"
    "(*.json with a weight_map), and OUT then names the new index,\n"
    "PREFIX.safetensors.index.json, its shards written beside it.\n"
    "\n"
    "exit status: 0 ok, 1 --strict and the check failed, 2 usage error, 3\n"
    "invalid model, data or calibration file, 4 cannot write the output, 5 out\n"
    "of memory.\n";

struct quantize_cli {
    const char *model, *output, *calib, *data, *method, *check_data;
    int64_t samples, check_samples;
    int layout;                 /* --layout, -1: the model's */
    double check_db;
    bool strict;
    int equalize;               /* -1: auto (the default with --data), 0 off, 1 on */
    int bias_correction;        /* 0 off, 1 on (the default with --data) */
    const char *mode_name, *weights_name, *activations_name, *type_name;
    struct quantize_options opt;
    struct quantize_mixed_cli mixed; /* --max-drop, --min-agreement, --holdout */
    bool json, quiet;
    struct progress *progress;
    char **exclude;        /* each --exclude split at commas */
    int n_exclude;
    char **include;        /* each --include split at commas (no graph only) */
    int n_include;
};

static int usage(const char *fmt, const char *arg)
{
    return cli_usage_error("quantize", quantize_usage, fmt, arg);
}

/* Appends the comma-separated names of list to *names. 0, or an exit code. */
static int add_names(char ***names, int *n_names, const char *list, const char *option)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return cli_usage_error("quantize", quantize_usage, "%s '%s' has an empty name",
                                   option, list);
        char **grown = realloc(*names, ((size_t)*n_names + 1) * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "quanta: out of memory\n");
            return QUANTA_ERR_NOMEM;
        }
        *names = grown;
        if (!(grown[*n_names] = strndup(p, len))) {
            fprintf(stderr, "quanta: out of memory\n");
            return QUANTA_ERR_NOMEM;
        }
        (*n_names)++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static void free_cli(struct quantize_cli *o)
{
    for (int i = 0; i < o->n_exclude; i++)
        free(o->exclude[i]);
    free(o->exclude);
    for (int i = 0; i < o->n_include; i++)
        free(o->include[i]);
    free(o->include);
}

static int parse_options(int argc, char **argv, struct quantize_cli *o)
{
    enum {
        OPT_CALIB = 256, OPT_DATA, OPT_METHOD, OPT_SAMPLES, OPT_MODE, OPT_WEIGHTS,
        OPT_ACTIVATIONS, OPT_TYPE, OPT_EXCLUDE, OPT_INCLUDE, OPT_ALLOW_NONFINITE,
        OPT_CHECK_DATA, OPT_CHECK_SAMPLES, OPT_CHECK_DB, OPT_STRICT, OPT_LAYOUT,
        OPT_INT8_OUTPUTS, OPT_EQUALIZE, OPT_NO_EQUALIZE, OPT_BIAS_CORRECTION,
        OPT_NO_BIAS_CORRECTION, OPT_EMBEDDING_BITS, OPT_JSON, OPT_QUIET
    };
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"calib", required_argument, NULL, OPT_CALIB},
        {"data", required_argument, NULL, OPT_DATA},
        {"method", required_argument, NULL, OPT_METHOD},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"mode", required_argument, NULL, OPT_MODE},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"activations", required_argument, NULL, OPT_ACTIVATIONS},
        {"activation-type", required_argument, NULL, OPT_TYPE},
        {"exclude", required_argument, NULL, OPT_EXCLUDE},
        {"include", required_argument, NULL, OPT_INCLUDE},
        {"allow-nonfinite", no_argument, NULL, OPT_ALLOW_NONFINITE},
        {"int8-outputs", no_argument, NULL, OPT_INT8_OUTPUTS},
        {"embedding-bits", required_argument, NULL, OPT_EMBEDDING_BITS},
        {"check-data", required_argument, NULL, OPT_CHECK_DATA},
        {"check-samples", required_argument, NULL, OPT_CHECK_SAMPLES},
        {"check-db", required_argument, NULL, OPT_CHECK_DB},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"equalize", no_argument, NULL, OPT_EQUALIZE},
        {"no-equalize", no_argument, NULL, OPT_NO_EQUALIZE},
        {"bias-correction", no_argument, NULL, OPT_BIAS_CORRECTION},
        {"no-bias-correction", no_argument, NULL, OPT_NO_BIAS_CORRECTION},
        QUANTIZE_MIXED_OPTIONS,
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    quantize_options_default(&o->opt);
    o->mode_name = "static";
    o->weights_name = "per-channel";
    o->activations_name = "asymmetric";
    o->type_name = "int8";
    o->check_samples = 16;
    o->layout = -1;
    o->check_db = 10.0;
    o->equalize = o->bias_correction = -1;
    int c, rc;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(quantize_help) - 1; /* -1: stop, exit 0 */
        case 'o':
            o->output = optarg;
            break;
        case OPT_CALIB:
            o->calib = optarg;
            break;
        case OPT_DATA:
            o->data = optarg;
            break;
        case OPT_METHOD:
            if (calib_method_parse(optarg) == CALIB_METHOD_COUNT)
                return usage("--method '%s' is not minmax, meanstd, percentile, entropy, mse or auto",
                             optarg);
            o->method = optarg;
            break;
        case OPT_SAMPLES:
            if (!cli_parse_i64(optarg, 1, INT64_MAX, &o->samples))
                return usage("--samples '%s' is not a number >= 1", optarg);
            break;
        case OPT_MODE:
            if (strcmp(optarg, "static") == 0)
                o->opt.mode = QUANTIZE_STATIC;
            else if (strcmp(optarg, "weight-only") == 0)
                o->opt.mode = QUANTIZE_WEIGHT_ONLY;
            else if (strcmp(optarg, "fp16") == 0)
                o->opt.mode = QUANTIZE_FP16;
            else
                return usage("--mode '%s' is not static, weight-only or fp16", optarg);
            o->mode_name = optarg;
            break;
        case OPT_WEIGHTS:
            if (strcmp(optarg, "per-channel") == 0)
                o->opt.weights = QUANTIZE_PER_CHANNEL;
            else if (strcmp(optarg, "per-tensor") == 0)
                o->opt.weights = QUANTIZE_PER_TENSOR;
            else
                return usage("--weights '%s' is not per-channel or per-tensor", optarg);
            o->weights_name = optarg;
            break;
        case OPT_ACTIVATIONS:
            if (strcmp(optarg, "asymmetric") == 0)
                o->opt.activations = QUANTIZE_ASYMMETRIC;
            else if (strcmp(optarg, "symmetric") == 0)
                o->opt.activations = QUANTIZE_SYMMETRIC;
            else
                return usage("--activations '%s' is not asymmetric or symmetric", optarg);
            o->activations_name = optarg;
            break;
        case OPT_TYPE:
            if (strcmp(optarg, "int8") == 0)
                o->opt.activation_type = QUANTA_I8;
            else if (strcmp(optarg, "uint8") == 0)
                o->opt.activation_type = QUANTA_U8;
            else
                return usage("--activation-type '%s' is not int8 or uint8", optarg);
            o->type_name = optarg;
            break;
        case OPT_EXCLUDE:
            if ((rc = add_names(&o->exclude, &o->n_exclude, optarg, "--exclude")) != 0)
                return rc;
            break;
        case OPT_INCLUDE:
            if ((rc = add_names(&o->include, &o->n_include, optarg, "--include")) != 0)
                return rc;
            break;
        case OPT_ALLOW_NONFINITE:
            o->opt.allow_nonfinite = true;
            break;
        case OPT_INT8_OUTPUTS:
            o->opt.int8_outputs = true;
            break;
        case OPT_EMBEDDING_BITS:
            if (strcmp(optarg, "8") != 0 && strcmp(optarg, "4") != 0)
                return usage("--embedding-bits '%s' is not 8 or 4", optarg);
            o->opt.embedding_bits = optarg[0] - '0';
            break;
        case OPT_CHECK_DATA:
            o->check_data = optarg;
            break;
        case OPT_CHECK_SAMPLES:
            if (!cli_parse_i64(optarg, 0, INT64_MAX, &o->check_samples))
                return usage("--check-samples '%s' is not a number >= 0", optarg);
            break;
        case OPT_CHECK_DB:
            if (!cli_parse_double(optarg, &o->check_db) || !isfinite(o->check_db))
                return usage("--check-db '%s' is not a number", optarg);
            break;
        case OPT_STRICT:
            o->strict = true;
            break;
        case OPT_EQUALIZE:
        case OPT_NO_EQUALIZE:
            o->equalize = c == OPT_EQUALIZE;
            break;
        case OPT_BIAS_CORRECTION:
        case OPT_NO_BIAS_CORRECTION:
            o->bias_correction = c == OPT_BIAS_CORRECTION;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        case OPT_LAYOUT:
            if ((rc = cli_opt_layout("quantize", quantize_usage, optarg, &o->layout)) != 0)
                return rc;
            break;
        default:
            if ((rc = quantize_mixed_option(&o->mixed, c, optarg, quantize_usage)) >= 0) {
                if (rc > 0)
                    return rc;
                break;
            }
            return cli_option_error("quantize", quantize_usage, c, argv);
        }
    }
    if (argc - optind != 1)
        return usage("%s", argc - optind < 1 ? "a model file is needed"
                                             : "only one model file is taken");
    o->model = argv[optind];
    if (!o->output)
        return usage("%s", "-o OUT is needed");
    if (o->opt.mode == QUANTIZE_STATIC) {
        if (!o->calib && !o->data)
            return usage("%s", "--mode static needs --calib CALIB.json or --data FILE");
        if (o->calib && o->data)
            return usage("%s", "--calib and --data exclude each other");
    } else if (o->calib || o->data) {
        return usage("--mode %s takes no calibration (--calib, --data)", o->mode_name);
    }
    if (o->opt.mode == QUANTIZE_FP16 && o->opt.embedding_bits != 8)
        return usage("%s", "--embedding-bits goes with --mode static or weight-only");
    if (!o->data && (o->method || o->samples))
        return usage("%s", "--method and --samples go with --data");
    /* both need samples: equalization changes the layer outputs per
     * channel, so a table calibrated on the model as given cannot serve */
    if (o->equalize == 1 && !o->data)
        return usage("%s", "--equalize needs --data (the equalized model is calibrated "
                           "there; a --calib table is of the model as given)");
    if (o->bias_correction == 1 && !o->data)
        return usage("%s", "--bias-correction needs --data (the input means come from its "
                           "samples)");
    if (o->equalize < 0 && !o->data)
        o->equalize = 0;
    if (o->bias_correction < 0)
        o->bias_correction = o->data != NULL;
    if (!o->check_data && o->opt.mode == QUANTIZE_STATIC)
        o->check_data = o->data;
    if (o->strict && (!o->check_data || o->check_samples == 0))
        return usage("%s", "--strict needs the check: give --data or --check-data, and "
                           "--check-samples above 0");
    if ((rc = quantize_mixed_check(&o->mixed, o->opt.mode == QUANTIZE_STATIC, quantize_usage)))
        return rc;
    o->opt.exclude = (const char *const *)o->exclude;
    o->opt.n_exclude = o->n_exclude;
    return 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* quanta.quantize.options: every option, as one deterministic JSON object
 * (files by base name, so the output does not depend on where they are). */
static char *options_json(const struct quantize_cli *o)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ex = cJSON_CreateArray();
    char *text = NULL;
    if (!root || !ex) {
        cJSON_Delete(ex);
        goto done;
    }
    cJSON_AddStringToObject(root, "mode", o->mode_name);
    cJSON_AddStringToObject(root, "weights", o->weights_name);
    cJSON_AddStringToObject(root, "activations", o->activations_name);
    cJSON_AddStringToObject(root, "activation_type", o->type_name);
    for (int i = 0; i < o->n_exclude; i++)
        cJSON_AddItemToArray(ex, cJSON_CreateString(o->exclude[i]));
    cJSON_AddItemToObject(root, "exclude", ex);
    cJSON *in = cJSON_AddArrayToObject(root, "include");
    for (int i = 0; in && i < o->n_include; i++)
        cJSON_AddItemToArray(in, cJSON_CreateString(o->include[i]));
    cJSON_AddBoolToObject(root, "allow_nonfinite", o->opt.allow_nonfinite);
    cJSON_AddBoolToObject(root, "int8_outputs", o->opt.int8_outputs);
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
        cJSON_AddStringToObject(root, "method", o->method ? o->method : "minmax");
        if (o->samples)
            cJSON_AddNumberToObject(root, "samples", (double)o->samples);
        else
            cJSON_AddStringToObject(root, "samples", "all");
    } else {
        cJSON_AddNullToObject(root, "method");
        cJSON_AddNullToObject(root, "samples");
    }
    if (o->mixed.gates.has_max_drop)
        cJSON_AddNumberToObject(root, "max_drop", o->mixed.gates.max_drop);
    if (o->mixed.gates.has_min_agreement)
        cJSON_AddNumberToObject(root, "min_agreement", o->mixed.gates.min_agreement);
    if (o->mixed.holdout)
        cJSON_AddStringToObject(root, "holdout", base_name(o->mixed.holdout));
    text = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    return text;
}

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

/* Calibrates graph g (the model, or its equalized form) on --data, and
 * with means (not NULL) averages the conv2d/dense inputs of graph p. */
static enum quanta_status calibrate(const struct quantize_cli *o, const struct model *m,
                                    const struct graph *g, const struct graph *p,
                                    struct calib_table *table, struct calib_means *means,
                                    struct quanta_error *err)
{
    struct data_feed feed = {0};
    struct calib_options copt;
    calib_options_default(&copt);
    if (o->method)
        copt.method = calib_method_parse(o->method);
    copt.samples = o->samples;
    enum quanta_status st = calib_options_check(&copt, err);
    if (st == QUANTA_OK)
        st = data_feed_open(&feed, g, o->data, copt.samples, copt.batch,
                            cli_layout(o->layout, m), err);
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

/* Runs float and quantized on the first --check-samples samples and warns
 * for each layer below --check-db; *failed when one is. */
static enum quanta_status check_layers(const struct quantize_cli *o, const struct model *m,
                                       const struct graph *f, const struct graph *q, bool *failed,
                                       struct quanta_error *err)
{
    *failed = false;
    if (o->check_samples == 0 || !o->check_data) /* --calib alone: no samples at hand */
        return QUANTA_OK;
    struct data_feed feed = {0};
    struct report_layers ls;
    enum quanta_status st = data_feed_open(&feed, &m->graph, o->check_data, o->check_samples,
                                           8, cli_layout(o->layout, m), err);
    feed.progress = o->progress;
    progress_label(o->progress, "checking on %s", base_name(o->check_data));
    if (st == QUANTA_OK)
        st = report_check_quantized(f, q, &feed, &ls, err);
    progress_clear(o->progress);
    int64_t samples = feed.samples;
    data_feed_close(&feed);
    if (st != QUANTA_OK) {
        if (o->strict || st == QUANTA_ERR_NOMEM)
            return st;
        fprintf(stderr, "quanta quantize: warning: the check against float did not run: %s\n",
                err->message);
        quanta_error_clear(err);
        return QUANTA_OK;
    }
    for (int i = 0; i < ls.n; i++) {
        const struct report_layer *l = &ls.list[i];
        const struct graph_value *v = &f->values[l->value1];
        double db = report_sqnr_db(&l->sqnr);
        if (!l->mismatch && !(db < o->check_db))
            continue;
        *failed = true;
        fprintf(stderr, "quanta quantize: warning: layer '%s' (%s): SQNR %.2f dB against float "
                        "on %lld samples is below --check-db %g\n",
                v->name, graph_op_name(f->nodes[v->producer].op), db,
                (long long)samples, o->check_db);
    }
    report_layers_free(&ls);
    return QUANTA_OK;
}

/* A checkpoint without a graph, or a shard index (quantize_tensors.c). */
static enum quanta_status quantize_bag(const struct quantize_cli *o, struct quanta_error *err)
{
    struct quantize_tensors_options t;
    quantize_tensors_options_default(&t);
    t.mode = o->opt.mode;
    t.weights = o->opt.weights;
    t.include = (const char *const *)o->include;
    t.n_include = o->n_include;
    t.exclude = (const char *const *)o->exclude;
    t.n_exclude = o->n_exclude;
    t.allow_nonfinite = o->opt.allow_nonfinite;
    char *options = options_json(o);
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
    struct graph prep, q;       /* prep: the folded (equalized) float graph, with --data */
    bool have_prep, have_table;
    struct calib_table table;
    struct calib_means means;
    struct quantize_notes notes;
    struct quantize_applied applied;
    double sqnr_db;             /* auto: output SQNR on the --data samples */
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

static enum quanta_status candidate_build(const struct quantize_cli *o, const struct model *m,
                                          const char *source_sha, bool equalize,
                                          struct candidate *c, struct quanta_error *err)
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

/* SQNR of q's graph outputs against the float model's (the worst output)
 * on the first QUANTIZE_AUTO_SAMPLES samples of --data. */
#define QUANTIZE_AUTO_SAMPLES 256
static enum quanta_status output_sqnr(const struct quantize_cli *o, const struct model *m,
                                      struct candidate *c, struct quanta_error *err)
{
    struct data_feed feed = {0};
    struct report_layers ls;
    const struct graph *f = reference_of(c, m);
    enum quanta_status st = data_feed_open(&feed, f, o->data, QUANTIZE_AUTO_SAMPLES, 32,
                                           cli_layout(o->layout, m), err);
    feed.progress = o->progress;
    progress_label(o->progress, "equalization on/off on %s", base_name(o->data));
    if (st == QUANTA_OK)
        st = report_check_quantized(f, &c->q, &feed, &ls, err);
    progress_clear(o->progress);
    data_feed_close(&feed);
    if (st != QUANTA_OK)
        return st;
    c->sqnr_db = INFINITY;
    for (int i = 0; i < ls.n; i++)
        for (int k = 0; k < f->n_outputs; k++)
            if (ls.list[i].value1 == f->outputs[k]) {
                double db = ls.list[i].mismatch ? -INFINITY : report_sqnr_db(&ls.list[i].sqnr);
                c->sqnr_db = db < c->sqnr_db ? db : c->sqnr_db;
            }
    report_layers_free(&ls);
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

/* --max-drop / --min-agreement: the search over c's quantization (the
 * graph c quantized, with its ranges and bias correction, so equalization
 * stays as chosen); *q the chosen graph, whose adjustments replace c's. */
static enum quanta_status search_mixed(const struct quantize_cli *o, const struct model *m,
                                       struct candidate *c, struct graph *q, cJSON **record,
                                       struct quanta_error *err)
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
    enum quanta_status st = quantize_mixed_run(&o->mixed, &m->graph, cli_layout(o->layout, m),
                                               &req, q, record, o->json ? NULL : stdout, err);
    if (st == QUANTA_OK) {
        quantize_notes_free(&c->notes);
        c->notes = notes;
    } else {
        quantize_notes_free(&notes);
    }
    return st;
}

static enum quanta_status quantize_file(const struct quantize_cli *o, cJSON **record,
                                        struct quanta_error *err)
{
    struct model m;
    struct candidate cand[2], *c = &cand[0];
    bool tried = false;
    char source_sha[QUANTA_SHA256_HEX_SIZE];
    char samples[32];
    char *options = NULL, *adjustments = NULL, *applied_text = NULL, *mixed_text = NULL;
    struct st_meta *meta = NULL;
    struct graph mixed_q = {0};
    const struct graph *out_q;
    memset(cand, 0, sizeof cand);
    if (o->opt.mode != QUANTIZE_STATIC && quantize_tensors_is_index(o->model))
        return quantize_bag(o, err);
    enum quanta_status st = model_open(&m, o->model, err);
    if (st != QUANTA_OK)
        return st;
    if (!m.has_graph && o->opt.mode != QUANTIZE_STATIC) {
        model_close(&m); /* reopened, streamed tensor by tensor */
        return quantize_bag(o, err);
    }
    if (m.has_graph && o->n_include > 0) {
        st = quanta_fail(err, QUANTA_ERR_USAGE, "--include is for checkpoints without a graph; "
                                                "%s has one (use --exclude NODE)", o->model);
        goto done;
    }
    if (!m.has_graph) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph (quanta.graph), so it cannot "
                                                "be quantized static (weight-only and fp16 can)",
                         o->model);
        goto done;
    }
    if ((st = quanta_sha256_file(o->model, source_sha, err)) != QUANTA_OK)
        goto done;
    /* auto (the default with --data): equalized, and if that found pairs,
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
    if (quantize_mixed_wanted(&o->mixed)) {
        if ((st = search_mixed(o, &m, c, &mixed_q, record, err)) != QUANTA_OK)
            goto done;
        out_q = &mixed_q;
        if (!(mixed_text = cJSON_PrintUnformatted(*record))) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
            goto done;
        }
    }
    for (int i = 0; i < c->notes.n; i++) {
        char line[1024];
        quantize_note_format(&c->notes.list[i], line, sizeof line);
        fprintf(stderr, "quanta quantize: warning: %s\n", line);
    }
    if (c->have_table)
        cli_warn_nonfinite("quantize", o->calib ? o->calib : o->data, &c->table);
    bool check_failed;
    if ((st = check_layers(o, &m, reference_of(c, &m), out_q, &check_failed, err)) != QUANTA_OK)
        goto done;
    if (check_failed && o->strict) {
        st = quanta_fail(err, QUANTA_ERR_CHECK, "%s: a layer of the quantized model is below "
                                                "--check-db %g; nothing written (--strict)",
                         o->model, o->check_db);
        goto done;
    }
    if (c->notes.n > 0 && !(adjustments = quantize_notes_json(&c->notes))) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
        goto done;
    }
    if ((o->equalize != 0 || o->bias_correction) && o->data &&
        !(applied_text = applied_json(c, tried ? &cand[c == &cand[0]] : NULL))) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
        goto done;
    }
    options = options_json(o);
    meta = calloc(m.file.n_meta + 10, sizeof *meta);
    if (!options || !meta) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", o->output);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < m.file.n_meta; i++)
        if (!is_provenance_key(m.file.meta[i].key))
            meta[n++] = m.file.meta[i];
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
    st = graph_save(out_q, o->output, meta, n, err);
done:
    free(meta);
    free(mixed_text);
    graph_free(&mixed_q);
    free(options);
    free(adjustments);
    free(applied_text);
    candidate_free(&cand[0]);
    candidate_free(&cand[1]);
    model_close(&m);
    return st;
}

int cmd_quantize(int argc, char **argv)
{
    struct quantize_cli o;
    memset(&o, 0, sizeof o);
    int rc = parse_options(argc, argv, &o);
    if (rc != 0) {
        free_cli(&o);
        return rc < 0 ? 0 : rc;
    }
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = safe_file_check_not_input(o.output, o.model, &err);
    if (st == QUANTA_OK && o.calib)
        st = safe_file_check_not_input(o.output, o.calib, &err);
    if (st == QUANTA_OK && o.data)
        st = safe_file_check_not_input(o.output, o.data, &err);
    struct progress progress;
    progress_init(&progress, progress_wanted(stderr, o.quiet) ? stderr : NULL);
    o.progress = &progress;
    cJSON *record = NULL;
    if (st == QUANTA_OK)
        st = quantize_file(&o, &record, &err);
    progress_clear(&progress);
    if (st == QUANTA_OK && o.json) {
        st = quantize_mixed_print_json(o.output, record, &err);
        record = NULL;
    } else if (st == QUANTA_OK) {
        printf("wrote %s (%lld bytes)\n", o.output, (long long)cli_file_size(o.output));
    }
    cJSON_Delete(record);
    free_cli(&o);
    if (st == QUANTA_ERR_USAGE) /* -o naming an input, an unknown --exclude node or glob */
        return cli_usage_error("quantize", quantize_usage, "%s", err.message);
    return st == QUANTA_OK ? 0 : cli_report(&err);
}
