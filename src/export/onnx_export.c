/* quanta export: a quanta model as an ONNX ModelProto (see onnx_export.h).
 * This file holds the export's state, names, nodes, the Q/DQ wiring around
 * every node and the model's assembly; constants and node inputs are made
 * in onnx_export_tensors.c, the float computation of each operator in
 * onnx_export_ops.c. */
#include "export/onnx_export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/onnx_export_internal.h"
#include "quanta/quanta.h"

/* ---- failure and names ---------------------------------------------------- */

void ox_fail(struct ox *x, enum quanta_status st, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = true;
    x->status = st;
    char msg[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    quanta_fail(x->err, st, "%s: %s", x->source, msg);
}

void ox_fail_node(struct ox *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    char msg[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ox_fail(x, QUANTA_ERR_INPUT, "node '%s' (%s): cannot export to ONNX: %s", x->node->name,
            graph_op_name(x->node->op), msg);
}

void ox_fail_nomem(struct ox *x)
{
    ox_fail(x, QUANTA_ERR_NOMEM, "out of memory exporting to ONNX");
}

static const char *keep_name(struct ox *x, char *s)
{
    if (!s) {
        ox_fail_nomem(x);
        return NULL;
    }
    if (x->n_names == x->cap_names) {
        int cap = x->cap_names ? 2 * x->cap_names : 256;
        char **names = realloc(x->names, (size_t)cap * sizeof *names);
        if (!names) {
            free(s);
            ox_fail_nomem(x);
            return NULL;
        }
        x->names = names;
        x->cap_names = cap;
    }
    x->names[x->n_names++] = s;
    return s;
}

const char *ox_name(struct ox *x, const char *base, const char *what)
{
    if (x->failed)
        return NULL;
    for (;;) {
        char *s = NULL;
        if (asprintf(&s, "%s/%s%d", base, what, x->counter++) < 0)
            s = NULL;
        if (s && graph_find_value(x->g, s) >= 0) {
            free(s);
            continue;
        }
        return keep_name(x, s);
    }
}

/* ---- nodes ---------------------------------------------------------------- */

/* NodeProto fields, AttributeProto fields and types (onnx.proto) */
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_STRING = 3, ATTR_TYPE_INTS = 7 };

void ox_node_begin(struct ox *x, const char *op_type, const char *const *in, int n_in,
                   const char *const *out, int n_out)
{
    if (x->failed)
        return;
    for (int i = 0; i < n_out; i++)
        if (!out[i])
            return;
    char node_name[64];
    snprintf(node_name, sizeof node_name, "%s%d", op_type, x->counter++);
    const char *full = ox_name(x, x->node ? x->node->name : "graph", node_name);
    if (!full)
        return;
    struct pbw *w = &x->nodes;
    pbw_begin(w, 1); /* GraphProto.node */
    for (int i = 0; i < n_in; i++)
        pbw_string(w, NODE_INPUT, in[i] ? in[i] : "");
    for (int i = 0; i < n_out; i++)
        pbw_string(w, NODE_OUTPUT, out[i]);
    pbw_string(w, NODE_NAME, full);
    pbw_string(w, NODE_OP_TYPE, op_type);
}

void ox_node_end(struct ox *x)
{
    if (!x->failed)
        pbw_end(&x->nodes);
}

static void attr_begin(struct ox *x, const char *name, int type)
{
    pbw_begin(&x->nodes, NODE_ATTRIBUTE);
    pbw_string(&x->nodes, ATTR_NAME, name);
    pbw_varint(&x->nodes, ATTR_TYPE, (uint64_t)type);
}

void ox_attr_int(struct ox *x, const char *name, int64_t v)
{
    if (x->failed)
        return;
    attr_begin(x, name, ATTR_TYPE_INT);
    pbw_int64(&x->nodes, ATTR_I, v);
    pbw_end(&x->nodes);
}

void ox_attr_float(struct ox *x, const char *name, float v)
{
    if (x->failed)
        return;
    attr_begin(x, name, ATTR_TYPE_FLOAT);
    pbw_float(&x->nodes, ATTR_F, v);
    pbw_end(&x->nodes);
}

void ox_attr_string(struct ox *x, const char *name, const char *v)
{
    if (x->failed)
        return;
    attr_begin(x, name, ATTR_TYPE_STRING);
    pbw_string(&x->nodes, ATTR_S, v);
    pbw_end(&x->nodes);
}

void ox_attr_ints(struct ox *x, const char *name, const int64_t *v, int n)
{
    if (x->failed)
        return;
    attr_begin(x, name, ATTR_TYPE_INTS);
    for (int i = 0; i < n; i++)
        pbw_int64(&x->nodes, ATTR_INTS, v[i]);
    pbw_end(&x->nodes);
}

const char *ox_fresh_or(struct ox *x, const char *out, const char *base, const char *what)
{
    return out ? out : ox_name(x, base, what);
}

const char *ox_unary(struct ox *x, const char *op_type, const char *in, const char *out)
{
    out = ox_fresh_or(x, out, in ? in : "t", op_type);
    ox_node_begin(x, op_type, &in, 1, &out, 1);
    ox_node_end(x);
    return x->failed ? NULL : out;
}

const char *ox_binary(struct ox *x, const char *op_type, const char *a, const char *b,
                      const char *out)
{
    const char *in[2] = {a, b};
    out = ox_fresh_or(x, out, a ? a : "t", op_type);
    ox_node_begin(x, op_type, in, 2, &out, 1);
    ox_node_end(x);
    return x->failed ? NULL : out;
}

const char *ox_transpose(struct ox *x, const char *in, const int *perm, int rank,
                         const char *out)
{
    int64_t p[QUANTA_MAX_RANK];
    for (int i = 0; i < rank; i++)
        p[i] = perm[i];
    out = ox_fresh_or(x, out, in ? in : "t", "transpose");
    ox_node_begin(x, "Transpose", &in, 1, &out, 1);
    ox_attr_ints(x, "perm", p, rank);
    ox_node_end(x);
    return x->failed ? NULL : out;
}

void ox_perm_channels_first(int rank, int *perm)
{
    perm[0] = 0;
    perm[1] = rank - 1;
    for (int i = 2; i < rank; i++)
        perm[i] = i - 1;
}

void ox_perm_channels_last(int rank, int *perm)
{
    perm[0] = 0;
    for (int i = 1; i < rank - 1; i++)
        perm[i] = i + 1;
    perm[rank - 1] = 1;
}

/* ---- initializers ----------------------------------------------------------- */

/* TensorProto fields */
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9 };

const char *ox_init(struct ox *x, const char *base, enum onnx_type type, const int64_t *dims,
                    int rank, const void *data, size_t bytes)
{
    const char *name = ox_name(x, base, "");
    if (!name)
        return NULL;
    struct pbw *w = &x->inits;
    pbw_begin(w, 5); /* GraphProto.initializer */
    for (int i = 0; i < rank; i++)
        pbw_int64(w, TENSOR_DIMS, dims[i]);
    pbw_varint(w, TENSOR_DATA_TYPE, (uint64_t)type);
    pbw_string(w, TENSOR_NAME, name);
    pbw_bytes(w, TENSOR_RAW_DATA, data, bytes);
    pbw_end(w);
    return name;
}

const char *ox_init_float(struct ox *x, const char *base, float v)
{
    return ox_init(x, base, ONNX_FLOAT, NULL, 0, &v, 4);
}

const char *ox_init_int64s(struct ox *x, const char *base, const int64_t *v, int n)
{
    int64_t dims[1] = {n};
    return ox_init(x, base, ONNX_INT64, dims, 1, v, (size_t)n * 8);
}

/* ---- the graph ------------------------------------------------------------ */

/* One node: its inputs as float (Transposed for a channels-first op), the
 * float op, then its fused activation, QuantizeLinear for an int8 output
 * and the Transpose back, the last of these writing the output's name. */
static void export_node(struct ox *x, const struct graph_node *n)
{
    const struct graph *g = x->g;
    x->node = n;
    if (n->n_outputs != 1) {
        ox_fail_node(x, "%d outputs", n->n_outputs);
        return;
    }
    int o = n->outputs[0];
    const struct graph_value *ov = &g->values[o];
    x->value_name[o] = ov->name;
    if (n->op == GRAPH_OP_QUANTIZE) {
        ox_qdq(x, "QuantizeLinear", ox_input(x, n->inputs[0], NULL), o, -1, ov->name);
        return;
    }
    if (n->op == GRAPH_OP_DEQUANTIZE) {
        ox_qdq(x, "DequantizeLinear", x->value_name[n->inputs[0]], n->inputs[0], -1, ov->name);
        return;
    }
    bool cf = ox_op_channels_first(g, n);
    int r = ov->shape.rank, perm[QUANTA_MAX_RANK];
    if (cf)
        ox_perm_channels_first(g->values[n->inputs[0]].shape.rank, perm);
    /* ONNX Runtime's x86 kernels for uint8 activations times int8 weights
     * can saturate their int16 pair sums (AVX2 vpmaddubsw): with uint8
     * activations, int8 weights go out as uint8 + 128, zero point 128 */
    enum quanta_dtype xq = g->values[n->inputs[0]].quant.dtype;
    x->weights_u8 = (n->op == GRAPH_OP_CONV2D || n->op == GRAPH_OP_DENSE) &&
                    (xq == QUANTA_U8 || (x->act_u8 && xq == QUANTA_I8));
    /* emitters read in[] up to 16 whatever the node's input count (NULL:
     * omitted); a longer concat (densenet121's take up to 25) gets its own */
    const char *small[16] = {0}, **in = small;
    if (n->n_inputs > 16 && !(in = calloc((size_t)n->n_inputs, sizeof *in))) {
        ox_fail_nomem(x);
        return;
    }
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] >= 0 && !ox_op_own_input(g, n, i))
            in[i] = ox_input(x, n->inputs[i], i == 0 && cf ? perm : NULL);
    bool act = n->attrs.activation != GRAPH_ACT_NONE &&
               (n->op == GRAPH_OP_CONV2D || n->op == GRAPH_OP_CONV3D || n->op == GRAPH_OP_DENSE ||
                n->op == GRAPH_OP_ADD || n->op == GRAPH_OP_MUL);
    bool quant = ov->quant.dtype != QUANTA_DTYPE_INVALID;
    int steps = act + quant + cf;
    const char *cur = steps ? ox_name(x, ov->name, "f") : ov->name;
    ox_emit_op(x, n, in, cur);
    x->weights_u8 = false;
    if (act) {
        const char *dest = --steps ? ox_name(x, ov->name, "act") : ov->name;
        if (n->attrs.activation == GRAPH_ACT_RELU)
            cur = ox_unary(x, "Relu", cur, dest);
        else {
            const char *ins[3] = {cur, ox_init_float(x, ov->name, 0.0f),
                                  ox_init_float(x, ov->name, 6.0f)};
            ox_node_begin(x, "Clip", ins, 3, &dest, 1);
            ox_node_end(x);
            cur = dest;
        }
    }
    if (quant)
        cur = ox_qdq(x, "QuantizeLinear", cur, o, -1, --steps ? NULL : ov->name);
    if (cf) {
        int back[QUANTA_MAX_RANK];
        ox_perm_channels_last(r, back);
        ox_transpose(x, cur, back, r, ov->name);
    }
    if (in != small)
        free(in);
}

/* ValueInfoProto of a graph input or output: name, tensor type, shape (a
 * batch of any size as the symbolic dimension "batch"). */
static void value_info(struct pbw *w, int field, const char *name,
                       enum onnx_type type, const struct quanta_shape *s, const int *perm)
{
    pbw_begin(w, field);
    pbw_string(w, 1, name);
    pbw_begin(w, 2);      /* TypeProto */
    pbw_begin(w, 1);      /* TypeProto.Tensor */
    pbw_varint(w, 1, (uint64_t)type);
    pbw_begin(w, 2);      /* TensorShapeProto */
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->dims[perm ? perm[i] : i];
        pbw_begin(w, 1);
        if (d < 0)
            pbw_string(w, 2, "batch");
        else
            pbw_int64(w, 1, d);
        pbw_end(w);
    }
    pbw_end(w);
    pbw_end(w);
    pbw_end(w);
    pbw_end(w);
}

static enum onnx_type value_type(const struct ox *x, const struct graph_value *val)
{
    if (x->act_u8 && val->quant.dtype == QUANTA_I8)
        return ONNX_UINT8;
    if (val->quant.dtype != QUANTA_DTYPE_INVALID)
        return ox_onnx_type(val->quant.dtype);
    return val->dtype == QUANTA_I32 || val->dtype == QUANTA_I64 ? ox_onnx_type(val->dtype)
                                                                : ONNX_FLOAT;
}

/* The graph inputs: a model whose data comes NCHW takes its 4-D inputs
 * so, transposed to quanta's NHWC at once. */
static void export_inputs(struct ox *x, struct pbw *io, bool nchw)
{
    static const int to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};
    for (int i = 0; i < x->g->n_inputs; i++) {
        int v = x->g->inputs[i].value;
        const struct graph_value *val = &x->g->values[v];
        bool t = nchw && val->shape.rank == 4 && value_type(x, val) == ONNX_FLOAT;
        value_info(io, 11, val->name, value_type(x, val), &val->shape, t ? to_nchw : NULL);
        x->value_name[v] = val->name;
        if (t)
            x->value_name[v] = (char *)ox_transpose(x, val->name, to_nhwc, 4, NULL);
    }
}

static void export_outputs(struct ox *x, struct pbw *io)
{
    for (int i = 0; i < x->g->n_outputs; i++) {
        int v = x->g->outputs[i];
        const struct graph_value *val = &x->g->values[v];
        if (val->kind != GRAPH_VALUE_NODE) {
            ox_fail(x, QUANTA_ERR_INPUT,
                    "graph output '%s' is not computed by a node: cannot export to ONNX",
                    val->name);
            return;
        }
        value_info(io, 12, val->name, value_type(x, val), &val->shape, NULL);
    }
}

static int ir_version(int opset)
{
    return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

static void ox_free(struct ox *x)
{
    for (int i = 0; i < x->n_names; i++)
        free(x->names[i]);
    free(x->names);
    free(x->value_name);
    free(x->float_const);
    free(x->q_scale);
    free(x->q_zero);
    pbw_free(&x->nodes);
    pbw_free(&x->inits);
}

enum quanta_status onnx_export_bytes(const struct model *m, const char *source,
                                     const struct onnx_export_options *options, void **bytes,
                                     size_t *size, struct quanta_error *err)
{
    struct ox x;
    memset(&x, 0, sizeof x);
    *bytes = NULL;
    *size = 0;
    int opset = options ? options->opset : ONNX_EXPORT_DEFAULT_OPSET;
    if (opset < ONNX_EXPORT_MIN_OPSET || opset > ONNX_EXPORT_MAX_OPSET)
        return quanta_fail(err, QUANTA_ERR_USAGE, "--opset %d is outside %d .. %d", opset,
                           ONNX_EXPORT_MIN_OPSET, ONNX_EXPORT_MAX_OPSET);
    if (!m->has_graph)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: has no graph (quanta.graph): a bag of tensors cannot be exported",
                           source);
    const struct graph *g = &m->graph;
    x.g = g;
    x.source = source;
    x.opset = opset;
    x.err = err;
    x.act_u8 = options && options->uint8;
    pbw_init(&x.nodes);
    pbw_init(&x.inits);
    size_t nv = (size_t)g->n_values + 1;
    x.value_name = calloc(nv, sizeof *x.value_name);
    x.float_const = calloc(nv, sizeof *x.float_const);
    x.q_scale = calloc(nv, sizeof *x.q_scale);
    x.q_zero = calloc(nv, sizeof *x.q_zero);
    struct pbw io, model;
    pbw_init(&io);
    pbw_init(&model);
    if (!x.value_name || !x.float_const || !x.q_scale || !x.q_zero)
        ox_fail_nomem(&x);
    if (!x.failed)
        export_inputs(&x, &io, model_data_nchw(m));
    for (int i = 0; i < g->n_nodes && !x.failed; i++)
        export_node(&x, &g->nodes[i]);
    x.node = NULL;
    if (!x.failed)
        export_outputs(&x, &io);
    if (!x.failed) {
        pbw_int64(&model, 1, ir_version(opset));
        pbw_string(&model, 2, "quanta");
        pbw_string(&model, 3, QUANTA_VERSION);
        pbw_begin(&model, 7); /* GraphProto */
        pbw_raw(&model, x.nodes.buf, x.nodes.size);
        pbw_string(&model, 2, g->name && g->name[0] ? g->name : "quanta");
        pbw_raw(&model, x.inits.buf, x.inits.size);
        pbw_raw(&model, io.buf, io.size);
        pbw_end(&model);
        pbw_begin(&model, 8); /* OperatorSetIdProto */
        pbw_int64(&model, 2, opset);
        pbw_end(&model);
        if (!pbw_ok(&x.nodes) || !pbw_ok(&x.inits) || !pbw_ok(&io) || !pbw_ok(&model))
            ox_fail(&x, QUANTA_ERR_INPUT,
                    "the ONNX model would exceed 2 GiB (protobuf's limit), or out of memory");
    }
    enum quanta_status st = x.failed ? x.status : QUANTA_OK;
    if (st == QUANTA_OK) {
        *bytes = model.buf;
        *size = model.size;
        model.buf = NULL;
    }
    pbw_free(&model);
    pbw_free(&io);
    ox_free(&x);
    return st;
}

enum quanta_status onnx_export_file(const char *path, const char *output,
                                    const struct onnx_export_options *options,
                                    struct quanta_error *err)
{
    struct model m;
    enum quanta_status st = model_open(&m, path, err);
    if (st != QUANTA_OK)
        return st;
    void *bytes = NULL;
    size_t size = 0;
    st = onnx_export_bytes(&m, path, options, &bytes, &size, err);
    if (st == QUANTA_OK)
        st = safe_file_write_all(output, bytes, size, err);
    free(bytes);
    model_close(&m);
    return st;
}
