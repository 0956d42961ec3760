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
#include "quant/quantize_file.h"
#include "report/report.h"

#define QUANTIZE_USAGE \
    "usage: quanta quantize MODEL -o OUT (--calib CALIB.json | --data FILE [--method M]\n" \
    "                       [--samples N]) [--mode static|weight-only|fp16]\n" \
    "                       [--weights per-channel|per-tensor]\n" \
    "                       [--activations asymmetric|symmetric]\n" \
    "                       [--activation-type int8|uint8] [--exclude NODE[,NODE...]]\n" \
    "                       [--include GLOB[,GLOB...]] [--allow-nonfinite]\n" \
    "                       [--check-data FILE] [--check-samples N] [--check-db DB]\n" \
    "                       [--strict] [--layout nchw|nhwc] [--int8-outputs]\n" \
    "                       [--embedding-bits 8|4] [--int8-scores]\n" \
    "                       [--[no-]equalize] [--[no-]bias-correction]\n" \
    "                       [(--max-drop PTS | --min-agreement PCT) --holdout FILE\n" \
    "                       [--labels FILE] [--holdout-samples N]] [--json] [--quiet]\n"

static const char quantize_usage[] = QUANTIZE_USAGE;

static const char quantize_help[] =
    QUANTIZE_USAGE
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
    "  --int8-scores           attention scores (a matmul of two activations\n"
    "                          whose output reaches a softmax) in int8 too\n"
    "                          (default: float; other matmuls of activations\n"
    "                          are int8)\n"
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
    struct quantize_file_options f; /* what the library takes */
    bool method_given;
    struct quantize_mixed_cli mixed; /* --max-drop, --min-agreement, --holdout */
    struct quantize_file_search search;
    bool json, quiet;
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

/* The index of arg among the names (NULL-terminated), -1 if none. */
static int one_of(const char *arg, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(arg, names[i]) == 0)
            return i;
    return -1;
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
        OPT_INT8_OUTPUTS, OPT_INT8_SCORES, OPT_EQUALIZE, OPT_NO_EQUALIZE, OPT_BIAS_CORRECTION,
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
        {"int8-scores", no_argument, NULL, OPT_INT8_SCORES},
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
    quantize_file_options_default(&o->f);
    int c, rc, v;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(quantize_help) - 1; /* -1: stop, exit 0 */
        case 'o':
            o->f.output = optarg;
            break;
        case OPT_CALIB:
            o->f.calib = optarg;
            break;
        case OPT_DATA:
            o->f.data = optarg;
            break;
        case OPT_METHOD:
            if (calib_method_parse(optarg) == CALIB_METHOD_COUNT)
                return usage("--method '%s' is not minmax, meanstd, percentile, entropy, mse or auto",
                             optarg);
            o->f.method = calib_method_parse(optarg);
            o->method_given = true;
            break;
        case OPT_SAMPLES:
            if (!cli_parse_i64(optarg, 1, INT64_MAX, &o->f.samples))
                return usage("--samples '%s' is not a number >= 1", optarg);
            break;
        case OPT_MODE: /* the names in each enum's order */
            if ((v = one_of(optarg, (const char *const[]){"static", "weight-only", "fp16", 0})) < 0)
                return usage("--mode '%s' is not static, weight-only or fp16", optarg);
            o->f.opt.mode = (enum quantize_mode)v;
            break;
        case OPT_WEIGHTS:
            if ((v = one_of(optarg, (const char *const[]){"per-channel", "per-tensor", 0})) < 0)
                return usage("--weights '%s' is not per-channel or per-tensor", optarg);
            o->f.opt.weights = (enum quantize_granularity)v;
            break;
        case OPT_ACTIVATIONS:
            if ((v = one_of(optarg, (const char *const[]){"asymmetric", "symmetric", 0})) < 0)
                return usage("--activations '%s' is not asymmetric or symmetric", optarg);
            o->f.opt.activations = (enum quantize_scheme)v;
            break;
        case OPT_TYPE:
            if ((v = one_of(optarg, (const char *const[]){"int8", "uint8", 0})) < 0)
                return usage("--activation-type '%s' is not int8 or uint8", optarg);
            o->f.opt.activation_type = v ? QUANTA_U8 : QUANTA_I8;
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
            o->f.opt.allow_nonfinite = true;
            break;
        case OPT_INT8_OUTPUTS:
            o->f.opt.int8_outputs = true;
            break;
        case OPT_INT8_SCORES:
            o->f.opt.int8_scores = true;
            break;
        case OPT_EMBEDDING_BITS:
            if (strcmp(optarg, "8") != 0 && strcmp(optarg, "4") != 0)
                return usage("--embedding-bits '%s' is not 8 or 4", optarg);
            o->f.opt.embedding_bits = optarg[0] - '0';
            break;
        case OPT_CHECK_DATA:
            o->f.check_data = optarg;
            break;
        case OPT_CHECK_SAMPLES:
            if (!cli_parse_i64(optarg, 0, INT64_MAX, &o->f.check_samples))
                return usage("--check-samples '%s' is not a number >= 0", optarg);
            break;
        case OPT_CHECK_DB:
            if (!cli_parse_double(optarg, &o->f.check_db) || !isfinite(o->f.check_db))
                return usage("--check-db '%s' is not a number", optarg);
            break;
        case OPT_STRICT:
            o->f.strict = true;
            break;
        case OPT_EQUALIZE:
        case OPT_NO_EQUALIZE:
            o->f.equalize = c == OPT_EQUALIZE;
            break;
        case OPT_BIAS_CORRECTION:
        case OPT_NO_BIAS_CORRECTION:
            o->f.bias_correction = c == OPT_BIAS_CORRECTION;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        case OPT_LAYOUT:
            if ((rc = cli_opt_layout("quantize", quantize_usage, optarg, &o->f.layout)) != 0)
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
    o->f.model = argv[optind];
    if (!o->f.output)
        return usage("%s", "-o OUT is needed");
    struct quantize_file_options *f = &o->f;
    if (!f->data && (o->method_given || f->samples))
        return usage("%s", "--method and --samples go with --data");
    struct quanta_error err;
    if (quantize_file_check(f, &err) != QUANTA_OK)
        return usage("%s", err.message);
    if ((rc = quantize_mixed_check(&o->mixed, f->opt.mode == QUANTIZE_STATIC, quantize_usage)))
        return rc;
    f->opt.exclude = (const char *const *)o->exclude;
    f->opt.n_exclude = o->n_exclude;
    f->include = (const char *const *)o->include;
    f->n_include = o->n_include;
    return 0;
}

static void warn(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "quanta quantize: warning: %s\n", message);
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
    struct progress progress;
    progress_init(&progress, progress_wanted(stderr, o.quiet) ? stderr : NULL);
    o.f.progress = &progress;
    o.f.compare = report_quantize_compare;
    o.f.warn = warn;
    if (quantize_mixed_wanted(&o.mixed)) {
        o.mixed.table = o.json ? NULL : stdout;
        quantize_mixed_hook(&o.mixed, &o.search);
        o.f.search = &o.search;
    }
    struct quanta_error err;
    quanta_error_clear(&err);
    cJSON *record = NULL;
    enum quanta_status st = quantize_file(&o.f, &record, &err);
    progress_clear(&progress);
    if (st == QUANTA_OK && o.json) {
        st = quantize_mixed_print_json(o.f.output, record, &err);
        record = NULL;
    } else if (st == QUANTA_OK) {
        printf("wrote %s (%lld bytes)\n", o.f.output, (long long)cli_file_size(o.f.output));
    }
    cJSON_Delete(record);
    free_cli(&o);
    if (st == QUANTA_ERR_USAGE) /* -o naming an input, an unknown --exclude node or glob */
        return cli_usage_error("quantize", quantize_usage, "%s", err.message);
    return st == QUANTA_OK ? 0 : cli_report(&err);
}
