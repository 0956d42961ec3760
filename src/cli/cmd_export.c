/* quanta export: a quanta model (float, int8, weight-only or fp16) as an
 * ONNX file; the work is in src/export. */
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "export/onnx_export.h"

static const char export_usage[] = "usage: quanta export MODEL -o OUT.onnx [--opset N] [--uint8]\n";

static const char export_help[] =
    "usage: quanta export MODEL -o OUT.onnx [--opset N] [--uint8]\n"
    "\n"
    "Writes OUT.onnx, the model MODEL as ONNX. A float model becomes plain\n"
    "ONNX. An int8 model becomes ONNX in the QDQ form ONNX Runtime fuses into\n"
    "its integer kernels: int8 (uint8) activations read through\n"
    "DequantizeLinear and written by QuantizeLinear, int8 weights with\n"
    "DequantizeLinear (per-channel axis), int32 biases with scale sx * sw.\n"
    "Weight-only and fp16 models keep their stored weights, read through\n"
    "DequantizeLinear or Cast. Inputs and outputs keep quanta's names, shapes\n"
    "and layout (NHWC; NCHW inputs for a model imported from ONNX); inputs\n"
    "take the float values quanta feeds, after any normalize.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT   the ONNX file to write (required; not MODEL)\n"
    "  --opset N          ONNX opset, 13 to 21 (default 17)\n"
    "  --uint8            write int8 activations as uint8 (q + 128, zero point\n"
    "                     + 128) and conv/dense weights likewise: the same\n"
    "                     values, in the form ONNX Runtime computes exactly on\n"
    "                     x86 CPUs without AVX-512 VNNI\n"
    "  -h, --help         show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model or a node ONNX cannot\n"
    "express (nothing written), 4 cannot write the output, 5 out of memory.\n"
    "See man quanta-export(1).\n";

static int parse_options(int argc, char **argv, const char **model, const char **output,
                         struct onnx_export_options *opt)
{
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"opset", required_argument, NULL, 'p'},
        {"uint8", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;
    int64_t v;
    optind = 0;
    opterr = 0;
    *output = NULL;
    opt->opset = ONNX_EXPORT_DEFAULT_OPSET;
    opt->uint8 = false;
    while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(export_help) - 1; /* -1: stop, exit 0 */
        case 'o':
            *output = optarg;
            break;
        case 'p':
            if (!cli_parse_i64(optarg, ONNX_EXPORT_MIN_OPSET, ONNX_EXPORT_MAX_OPSET, &v))
                return cli_usage_error("export", export_usage,
                                       "--opset '%s' is not a number from %d to %d", optarg,
                                       ONNX_EXPORT_MIN_OPSET, ONNX_EXPORT_MAX_OPSET);
            opt->opset = (int)v;
            break;
        case 'u':
            opt->uint8 = true;
            break;
        default:
            return cli_option_error("export", export_usage, c, argv);
        }
    }
    if ((rc = cli_one_model("export", export_usage, argc, argv, model)) != 0)
        return rc;
    if (!*output)
        return cli_usage_error("export", export_usage, "-o OUT.onnx is needed");
    return 0;
}

int cmd_export(int argc, char **argv)
{
    const char *model = NULL, *output = NULL;
    struct onnx_export_options opt = {0};
    int rc = parse_options(argc, argv, &model, &output, &opt);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_output_not_input("export", export_usage, output, model, NULL)) != 0)
        return rc;
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = onnx_export_file(model, output, &opt, &err);
    if (st == QUANTA_ERR_USAGE)
        return cli_usage_error("export", export_usage, "%s", err.message);
    return st == QUANTA_OK ? 0 : cli_report(&err);
}
