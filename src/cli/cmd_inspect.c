/* quanta inspect: a model's graph, tensors, inputs, outputs and metadata,
 * as aligned text or JSON (the report is src/report/inspect.c's). Works on
 * a bag of tensors (no graph) too. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/inspect.h"

static const char inspect_usage[] = "usage: quanta inspect MODEL [--optimized] [--json]\n";

static const char inspect_help[] =
    "usage: quanta inspect MODEL [--optimized] [--json]\n"
    "\n"
    "Shows what a model file holds: the graph (node, op, output shape with the\n"
    "batch as N, output dtype, parameter count), every tensor (dtype, shape,\n"
    "bytes, min, max, mean, std; quantization parameters for quantized\n"
    "tensors), the graph inputs (shape, normalize) and outputs, the activation\n"
    "memory the runner plans for one sample, and the metadata keys. A file\n"
    "without a graph (a bag of tensors) shows its tensors and metadata.\n"
    "\n"
    "options:\n"
    "  --optimized  show the graph the runner runs for a float model: nodes of\n"
    "               constants computed once, batch_norm folded into the\n"
    "               conv2d/dense before it, activations fused, reshape chains\n"
    "               collapsed, dead nodes dropped; then what each pass did\n"
    "               (the file is not changed)\n"
    "  --json       print one JSON object on stdout instead of tables\n"
    "  -h, --help   show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model file, 5 out of memory.\n"
    "See man quanta-inspect(1).\n";

int cmd_inspect(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_OPTIMIZED };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"optimized", no_argument, NULL, OPT_OPTIMIZED},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, optimized = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(inspect_help);
        case OPT_JSON:
            json = true;
            break;
        case OPT_OPTIMIZED:
            optimized = true;
            break;
        default:
            return cli_option_error("inspect", inspect_usage, c, argv);
        }
    }
    const char *path;
    int rc = cli_one_model("inspect", inspect_usage, argc, argv, &path);
    if (rc != 0)
        return rc;
    struct quanta_error err;
    quanta_error_clear(&err);
    struct report_inspect in;
    enum quanta_status st = report_inspect_open(&in, path, optimized, &err);
    if (st == QUANTA_OK) {
        if (json)
            st = cli_json_print(report_inspect_json(&in), &err);
        else
            report_inspect_print(&in);
    }
    report_inspect_close(&in);
    if (st != QUANTA_OK)
        return cli_report(&err);
    return fflush(stdout) == 0 ? 0 : QUANTA_ERR_OUTPUT;
}
