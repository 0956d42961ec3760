/* quanta dequantize: a quantized model back to a float model the float
 * runner runs (weights dequantized), to inspect it or to measure the error
 * of the weights alone. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "quanta/quantize.h"
#include "quanta/sha256.h"

static const char dequantize_usage[] = "usage: quanta dequantize QMODEL -o OUT\n";

static const char dequantize_help[] =
    "usage: quanta dequantize QMODEL -o OUT\n"
    "\n"
    "Writes OUT, a float model made from the quantized model QMODEL: I8/U8\n"
    "weights become F32 scale * (q - zero_point), I32 biases F32, F16/BF16\n"
    "constants F32; quantize and dequantize nodes are removed and quantization\n"
    "parameters dropped. Values and graph outputs keep their names, so OUT can\n"
    "be compared with the original float model layer by layer.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT   the float model to write (required; not QMODEL)\n"
    "  -h, --help         show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model, 4 cannot write the\n"
    "output, 5 out of memory. See man quanta-dequantize(1).\n";

static int parse_options(int argc, char **argv, const char **model, const char **output)
{
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;
    optind = 0;
    opterr = 0;
    *output = NULL;
    while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(dequantize_help) - 1; /* -1: stop, exit 0 */
        case 'o':
            *output = optarg;
            break;
        default:
            return cli_option_error("dequantize", dequantize_usage, c, argv);
        }
    }
    if ((rc = cli_one_model("dequantize", dequantize_usage, argc, argv, model)) != 0)
        return rc;
    if (!*output)
        return cli_usage_error("dequantize", dequantize_usage, "-o OUT is needed");
    return 0;
}

static enum quanta_status dequantize_file(const char *path, const char *output,
                                          struct quanta_error *err)
{
    struct model m;
    struct graph f;
    struct st_meta *meta = NULL;
    char sha[QUANTA_SHA256_HEX_SIZE];
    memset(&f, 0, sizeof f);
    enum quanta_status st = cli_model_open_graph(&m, path, " (quanta.graph)", err);
    if (st != QUANTA_OK)
        return st;
    if ((st = quanta_sha256_file(path, sha, err)) != QUANTA_OK ||
        (st = dequantize_model(&m.graph, &f, path, err)) != QUANTA_OK)
        goto done;
    meta = calloc(m.file.n_meta + 2, sizeof *meta);
    if (!meta) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory writing %s", output);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < m.file.n_meta; i++)
        if (strcmp(m.file.meta[i].key, "quanta.graph") != 0 &&
            strcmp(m.file.meta[i].key, "quanta.dequantize.source_sha256") != 0)
            meta[n++] = m.file.meta[i];
    meta[n++] = (struct st_meta){"quanta.dequantize.source_sha256", sha};
    st = graph_save(&f, output, meta, n, err);
done:
    free(meta);
    graph_free(&f);
    model_close(&m);
    return st;
}

int cmd_dequantize(int argc, char **argv)
{
    const char *model = NULL, *output = NULL;
    int rc = parse_options(argc, argv, &model, &output);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_output_not_input("dequantize", dequantize_usage, output, model, NULL)) != 0)
        return rc;
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = dequantize_file(model, output, &err);
    if (st == QUANTA_ERR_USAGE)
        return cli_usage_error("dequantize", dequantize_usage, "%s", err.message);
    return st == QUANTA_OK ? 0 : cli_report(&err);
}
