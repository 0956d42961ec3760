/* quanta import: an ONNX model to a quanta model file (NHWC, graph in
 * __metadata__). The work is onnx_import_file (src/import). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "quanta/onnx_import.h"

#define MAX_INPUT_SHAPES 16
#define MAX_NORM 64

static const char import_usage[] =
    "usage: quanta import MODEL.onnx -o OUT [--input-shape NAME=DxDx..] [--name NAME]\n"
    "                     [--normalize SCALE[:MEAN[,..]:STD[,..]]]\n";

static const char import_help[] =
    "usage: quanta import MODEL.onnx -o OUT [--input-shape NAME=DxDx..] [--name NAME]\n"
    "                     [--normalize SCALE[:MEAN[,..]:STD[,..]]]\n"
    "\n"
    "Converts an ONNX model (opsets 6 to 18) to a quanta model file. ONNX\n"
    "tensors are NCHW, quanta's NHWC: weights and attrs are converted, so a\n"
    "4-D input [N, C, H, W] becomes [N, H, W, C] (run and eval take NCHW data\n"
    "with --layout nchw). Constant subgraphs (Shape/Gather/Concat chains,\n"
    "Constant nodes) are folded; relu and relu6 are fused into the layer\n"
    "before them, BatchNormalization into the conv or dense before it.\n"
    "\n"
    "operators: Conv Gemm MatMul(+Add) BatchNormalization LayerNormalization\n"
    "  InstanceNormalization Relu Clip LeakyRelu PRelu Elu Selu Sigmoid Tanh\n"
    "  HardSigmoid HardSwish Erf Exp Log Sqrt Neg Abs Add Sub Mul Div Pow Min Max\n"
    "  MaxPool AveragePool GlobalAveragePool Softmax LogSoftmax ReduceMean\n"
    "  ReduceSum ReduceMax ReduceMin ReduceL2 ArgMax ArgMin Flatten Reshape\n"
    "  Transpose Squeeze Unsqueeze Slice Concat Split Pad Resize Upsample Gather\n"
    "  Cast CastLike Identity Dropout Loop (only nn.EmbeddingBag's, as\n"
    "  embedding_bag; Gather then ReduceSum/Mean/Max over the bag axis too;\n"
    "  x*Sigmoid(x) becomes silu, PyTorch's GELU gelu), and constant folding\n"
    "  of Constant Shape Gather Unsqueeze Squeeze\n"
    "  Concat Reshape Flatten Transpose Cast Slice ConstantOfShape Neg Add Sub\n"
    "  Mul Div Pow Equal Where Expand. man quanta-import(1) gives each one's\n"
    "  limits.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT            the quanta model to write (required)\n"
    "  --input-shape NAME=DxDx..   shape of input NAME in ONNX (NCHW) order, e.g.\n"
    "                              image=1x1x28x28; the first dim is the batch\n"
    "                              (N or -1: any); may be repeated\n"
    "  --name NAME                 the graph's name (default: the ONNX graph's)\n"
    "  --normalize SCALE[:M:S]     'normalize' of the float inputs, for integer\n"
    "                              data such as U8 images: (raw*SCALE - M[c]) / S[c];\n"
    "                              M and S are comma-separated lists per channel\n"
    "  -h, --help                  show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid or unsupported model (nothing\n"
    "is written), 4 cannot write the output, 5 out of memory.\n"
    "See man quanta-import(1).\n";

struct import_args {
    const char *model;
    const char *output;
    struct onnx_input_shape shapes[MAX_INPUT_SHAPES];
    char *shape_names[MAX_INPUT_SHAPES];
    int n_shapes;
    struct onnx_import_options options;
    float mean[MAX_NORM], std[MAX_NORM];
};

static bool parse_shape(const char *text, struct onnx_input_shape *s, char **name_out)
{
    const char *eq = strrchr(text, '=');
    if (!eq || eq == text || !eq[1])
        return false;
    char *name = strndup(text, (size_t)(eq - text));
    if (!name)
        return false;
    memset(&s->shape, 0, sizeof s->shape);
    const char *p = eq + 1;
    for (;;) {
        if (s->shape.rank == QUANTA_MAX_RANK)
            goto fail;
        const char *end = p + strcspn(p, "x,");
        char part[32];
        size_t len = (size_t)(end - p);
        if (len == 0 || len >= sizeof part)
            goto fail;
        memcpy(part, p, len);
        part[len] = '\0';
        int64_t d;
        if (s->shape.rank == 0 && (strcmp(part, "N") == 0 || strcmp(part, "?") == 0))
            d = -1;
        else if (!cli_parse_i64(part, s->shape.rank == 0 ? -1 : 1, INT32_MAX, &d))
            goto fail;
        s->shape.dims[s->shape.rank++] = d;
        if (!*end)
            break;
        p = end + 1;
    }
    s->name = name;
    *name_out = name;
    return true;
fail:
    free(name);
    return false;
}

static bool parse_list(char *text, float *out, int *n)
{
    *n = 0;
    for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ",")) {
        double v;
        if (*n == MAX_NORM || !cli_parse_double(tok, &v))
            return false;
        out[(*n)++] = (float)v;
    }
    return *n > 0;
}

static bool parse_normalize(const char *text, struct import_args *a)
{
    char buf[2048];
    if (strlen(text) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", text);
    char *mean = strchr(buf, ':'), *std = NULL;
    if (mean) {
        *mean++ = '\0';
        std = strchr(mean, ':');
        if (!std)
            return false;
        *std++ = '\0';
    }
    struct quanta_normalize *nz = &a->options.normalize;
    double scale;
    if (!cli_parse_double(buf, &scale) || scale <= 0)
        return false;
    nz->scale = scale;
    nz->n_mean = nz->n_std = 1;
    a->mean[0] = 0;
    a->std[0] = 1;
    if (mean && (!parse_list(mean, a->mean, &nz->n_mean) || !parse_list(std, a->std, &nz->n_std)))
        return false;
    for (int i = 0; i < nz->n_std; i++)
        if (a->std[i] == 0)
            return false;
    nz->mean = a->mean;
    nz->std = a->std;
    a->options.has_normalize = true;
    return true;
}

static int parse_options(int argc, char **argv, struct import_args *a)
{
    enum { OPT_INPUT_SHAPE = 256, OPT_NAME, OPT_NORMALIZE };
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"input-shape", required_argument, NULL, OPT_INPUT_SHAPE},
        {"name", required_argument, NULL, OPT_NAME},
        {"normalize", required_argument, NULL, OPT_NORMALIZE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(import_help) - 1; /* -1: stop, exit 0 */
        case 'o':
            a->output = optarg;
            break;
        case OPT_INPUT_SHAPE:
            if (a->n_shapes == MAX_INPUT_SHAPES)
                return cli_usage_error("import", import_usage, "at most %d --input-shape",
                                       MAX_INPUT_SHAPES);
            if (!parse_shape(optarg, &a->shapes[a->n_shapes], &a->shape_names[a->n_shapes]))
                return cli_usage_error("import", import_usage, "--input-shape '%s' is not "
                                                               "NAME=DxDx.. (dims >= 1, the "
                                                               "first may be N or -1)",
                                       optarg);
            a->n_shapes++;
            break;
        case OPT_NAME:
            if (!optarg[0])
                return cli_usage_error("import", import_usage, "--name must not be empty");
            a->options.name = optarg;
            break;
        case OPT_NORMALIZE:
            if (!parse_normalize(optarg, a))
                return cli_usage_error("import", import_usage, "--normalize '%s' is not "
                                                               "SCALE[:MEAN,..:STD,..] with "
                                                               "SCALE > 0 and STD != 0",
                                       optarg);
            break;
        default:
            return cli_option_error("import", import_usage, c, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("import", import_usage, "%s",
                               argc - optind < 1 ? "an ONNX model file is needed"
                                                 : "only one model file is taken");
    a->model = argv[optind];
    if (!a->output)
        return cli_usage_error("import", import_usage, "-o OUT is needed");
    a->options.input_shapes = a->shapes;
    a->options.n_input_shapes = a->n_shapes;
    return 0;
}

int cmd_import(int argc, char **argv)
{
    struct import_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_options(argc, argv, &a);
    if (rc == 0)
        rc = cli_output_not_input("import", import_usage, a.output, a.model, NULL);
    if (rc == 0) {
        struct quanta_error err;
        quanta_error_clear(&err);
        enum quanta_status st = onnx_import_file(a.model, a.output, &a.options, &err);
        if (st == QUANTA_ERR_USAGE)
            rc = cli_usage_error("import", import_usage, "%s", err.message);
        else
            rc = st == QUANTA_OK ? 0 : cli_report(&err);
    }
    for (int i = 0; i < a.n_shapes; i++)
        free(a.shape_names[i]);
    return rc < 0 ? 0 : rc;
}
