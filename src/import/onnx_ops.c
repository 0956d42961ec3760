/* The ONNX operators quanta imports: the table from op type to converter
 * (each converter lives in the file of its family, onnx_<family>.c) and
 * the helpers the converters share (onnx_ops.h). */
#include "import/onnx_ops.h"

#include <stdlib.h>
#include <string.h>

bool cv_op_is(const struct cv *cv, const char *name)
{
    return strcmp(cv->node->op_type, name) == 0;
}

enum quanta_status cv_only_first_output(struct cv *cv)
{
    const struct onnx_node *n = cv->node;
    const struct onnx_graph *og = &cv->m->graph;
    for (int k = 1; k < n->n_outputs; k++) {
        const char *name = n->outputs[k];
        if (!name[0])
            continue;
        bool used = false;
        for (int i = 0; i < og->n_nodes && !used; i++)
            for (int j = 0; j < og->nodes[i].n_inputs && !used; j++)
                used = strcmp(og->nodes[i].inputs[j], name) == 0;
        for (int i = 0; i < og->n_outputs && !used; i++)
            used = strcmp(og->outputs[i].name, name) == 0;
        if (used)
            return cv_fail(cv, "output %d ('%s') is used, but quanta computes only the first "
                               "output",
                           k, name);
    }
    return QUANTA_OK;
}

enum quanta_status cv_need_f32(struct cv *cv, const struct onnx_tensor *t, const char *what)
{
    if (t->dtype != QUANTA_F32)
        return cv_fail(cv, "%s '%s' has data type %s but a float type is needed", what,
                       t->name, onnx_data_type_name(t->data_type));
    return QUANTA_OK;
}

/* Column map of a flattened activation: physical column j holds ONNX
 * column map[j]. */
static void flat_colmap(const struct cv_value *x, int64_t *map, int64_t k)
{
    const struct quanta_shape *s = &x->flat_shape;
    const int *p = x->flat_perm;
    int r = s->rank;
    for (int64_t j = 0; j < k; j++) {
        int64_t rest = j, idx[QUANTA_MAX_RANK];
        for (int m = r - 1; m >= 1; m--) {
            int64_t d = s->dims[p[m]];
            idx[p[m]] = rest % d;
            rest /= d;
        }
        int64_t col = 0;
        for (int a = 1; a < r; a++)
            col = col * s->dims[a] + idx[a];
        map[j] = col;
    }
}

enum quanta_status cv_permute_columns(struct cv *cv, const struct cv_value *x, float *vec,
                                      int64_t rows, int64_t k)
{
    int64_t *map = malloc((size_t)k * sizeof *map + 1);
    float *tmp = malloc((size_t)k * sizeof *tmp + 1);
    if (!map || !tmp) {
        free(map);
        free(tmp);
        return cv_nomem(cv);
    }
    flat_colmap(x, map, k);
    for (int64_t r = 0; r < rows; r++) {
        float *row = vec + r * k;
        for (int64_t j = 0; j < k; j++)
            tmp[j] = row[map[j]];
        memcpy(row, tmp, (size_t)k * sizeof *tmp);
    }
    free(map);
    free(tmp);
    return QUANTA_OK;
}

enum quanta_status cv_def_new(struct cv *cv, const struct cv_value *proto)
{
    return cv_def_act(cv, 0, proto);
}

enum quanta_status cv_emit(struct cv *cv, enum graph_op op, const int *inputs, int n_inputs,
                           const struct quanta_shape *shape, int *q_out, int *node_out)
{
    if (cv->node->n_outputs < 1 || !cv->node->outputs[0][0])
        return cv_fail(cv, "has no output");
    int q = cv_new_value(cv, cv->node->outputs[0], shape);
    if (q < 0)
        return cv_nomem(cv);
    int n = cv_add_node(cv, op, NULL, inputs, n_inputs, q);
    if (n < 0)
        return cv_nomem(cv);
    *q_out = q;
    if (node_out)
        *node_out = n;
    return QUANTA_OK;
}

bool cv_input_nonnegative(struct cv *cv)
{
    struct cv_value *x;
    if (cv_input(cv, 0, &x) != QUANTA_OK || !x)
        return false;
    int p = cv_producer(cv, x->q);
    if (p < 0)
        return false;
    const struct graph_node *n = &cv->g->nodes[p];
    return n->op == GRAPH_OP_RELU || n->op == GRAPH_OP_RELU6 ||
           n->attrs.activation == GRAPH_ACT_RELU || n->attrs.activation == GRAPH_ACT_RELU6;
}

int cv_const_like_axis(struct cv *cv, const struct cv_value *x, const struct onnx_tensor *c,
                       int free_axis, struct quanta_shape *onnx_shape)
{
    char b1[128], b2[128];
    const int r = x->shape.rank, off = r - c->shape.rank;
    struct quanta_shape pd = {.rank = r};
    bool ok = off >= 0 && !x->flat;
    for (int d = 0; ok && d < r; d++) {
        pd.dims[d] = d < off ? 1 : c->shape.dims[d - off];
        ok = d == free_axis || pd.dims[d] == 1 || pd.dims[d] == x->shape.dims[d];
    }
    if (!ok) {
        cv_fail(cv, "constant '%s' %s does not broadcast to '%s' %s%s", c->name,
                quanta_shape_format(&c->shape, b1, sizeof b1), x->name,
                quanta_shape_format(&x->shape, b2, sizeof b2),
                x->flat ? " (a flattened NCHW tensor)" : "");
        return -1;
    }
    struct quanta_shape ps = cv_phys_shape(&pd, x->perm);
    int64_t stride[QUANTA_MAX_RANK], idx[QUANTA_MAX_RANK] = {0}, n = 1;
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = n;
        n *= pd.dims[d];
    }
    float *data = malloc((size_t)n * sizeof *data + 1);
    if (!data) {
        cv_nomem(cv);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) { /* physical order, read at the ONNX offsets */
        int64_t k = 0;
        for (int j = 0; j < r; j++)
            k += idx[j] * stride[x->perm[j]];
        data[i] = (float)cv_tensor_f(c, k);
        for (int j = r - 1; j >= 0 && ++idx[j] == ps.dims[j]; j--)
            idx[j] = 0;
    }
    int q = cv_const_value(cv, c->name, data, &ps);
    free(data);
    if (q < 0)
        cv_nomem(cv);
    *onnx_shape = pd;
    return q;
}

enum quanta_status cv_unflat(struct cv *cv, struct cv_value **x, struct cv_value *plain)
{
    if (!(*x)->flat)
        return QUANTA_OK;
    const int r = (*x)->shape.rank;
    int ident[QUANTA_MAX_RANK];
    cv_perm_identity(r, ident);
    *plain = **x;
    plain->flat = false;
    cv_perm_identity(r, plain->perm);
    enum quanta_status st = cv_materialize(cv, *x, ident, &plain->q);
    *x = plain;
    return st;
}

enum quanta_status cv_get_axes(struct cv *cv, int since_opset, int64_t *axes, int *n)
{
    enum quanta_status st;
    *n = -1;
    if (cv->m->opset < since_opset) {
        const int64_t *a;
        if ((st = cv_attr_ints(cv, "axes", &a, n)))
            return st;
        if (*n > QUANTA_MAX_RANK)
            return cv_fail(cv, "attribute 'axes' has %d entries", *n);
        for (int i = 0; i < *n; i++)
            axes[i] = a[i];
        return QUANTA_OK;
    }
    struct cv_value *v;
    if ((st = cv_input(cv, 1, &v)) || !v)
        return st;
    if (v->kind != CV_CONST || v->c->dtype != QUANTA_I64 || v->c->numel > QUANTA_MAX_RANK)
        return cv_fail(cv, "input 'axes' must be an INT64 constant of at most %d entries",
                       QUANTA_MAX_RANK);
    *n = (int)v->c->numel;
    for (int i = 0; i < *n; i++)
        axes[i] = cv_tensor_i(v->c, i);
    return QUANTA_OK;
}

void cv_drop_axes(const struct cv_value *x, const bool *drop, struct cv_value *out)
{
    int r = x->shape.rank, renum[QUANTA_MAX_RANK], k = 0;
    for (int a = 0; a < r; a++)
        renum[a] = drop[a] ? -1 : k++;
    out->shape.rank = 0;
    for (int a = 0; a < r; a++)
        if (!drop[a])
            out->shape.dims[out->shape.rank++] = x->shape.dims[a];
    int j = 0;
    for (int i = 0; i < r; i++)
        if (!drop[x->perm[i]])
            out->perm[j++] = renum[x->perm[i]];
}

/* ---- dispatch ------------------------------------------------------------ */

enum quanta_status cv_convert_node(struct cv *cv)
{
    static const struct {
        const char *name;
        enum quanta_status (*fn)(struct cv *cv);
    } table[] = {
        {"Conv", cv_op_conv},
        {"ConvTranspose", cv_op_conv_transpose},
        {"Gemm", cv_op_gemm},
        {"MatMul", cv_op_matmul},
        {"Relu", cv_op_simple},
        {"Sigmoid", cv_op_simple},
        {"Tanh", cv_op_simple},
        {"LeakyRelu", cv_op_leaky_relu},
        {"Neg", cv_op_math},
        {"Abs", cv_op_math},
        {"Exp", cv_op_math},
        {"Log", cv_op_math},
        {"Sqrt", cv_op_math},
        {"Erf", cv_op_math},
        {"HardSigmoid", cv_op_math},
        {"HardSwish", cv_op_math},
        {"Elu", cv_op_math},
        {"Selu", cv_op_math},
        {"Clip", cv_op_clip},
        {"Add", cv_op_binary},
        {"Sub", cv_op_binary},
        {"Mul", cv_op_binary},
        {"Div", cv_op_binary},
        {"Pow", cv_op_binary},
        {"Max", cv_op_binary},
        {"Min", cv_op_binary},
        {"PRelu", cv_op_binary},
        {"MaxPool", cv_op_pool},
        {"AveragePool", cv_op_pool},
        {"GlobalAveragePool", cv_op_global_avg_pool},
        {"Flatten", cv_op_flatten},
        {"Reshape", cv_op_reshape},
        {"Transpose", cv_op_transpose},
        {"Slice", cv_op_slice},
        {"Squeeze", cv_op_squeeze},
        {"Unsqueeze", cv_op_unsqueeze},
        {"Concat", cv_op_concat},
        {"Softmax", cv_op_softmax},
        {"LogSoftmax", cv_op_softmax},
        {"BatchNormalization", cv_op_batch_norm},
        {"Gather", cv_op_gather},
        {"ReduceMean", cv_op_reduce_mean},
        {"ReduceSum", cv_op_reduce},
        {"ReduceMax", cv_op_reduce},
        {"ReduceMin", cv_op_reduce},
        {"ReduceL2", cv_op_reduce},
        {"ArgMax", cv_op_reduce},
        {"ArgMin", cv_op_reduce},
        {"Identity", cv_op_identity},
        {"Dropout", cv_op_identity},
        {"Pad", cv_op_pad},
        {"Split", cv_op_split},
        {"Resize", cv_op_resize},
        {"Upsample", cv_op_resize},
        {"Cast", cv_op_cast},
        {"CastLike", cv_op_cast},
        {"LayerNormalization", cv_op_layer_norm},
        {"InstanceNormalization", cv_op_instance_norm},
        {"Loop", cv_convert_bag},
    };
    /* operators that follow a batch axis moved by Transpose or merged with
     * other axes by Reshape (attention as torch's nn.MultiheadAttention
     * exports it) */
    static const char *const moved_ok[] = {"Transpose", "Reshape", "MatMul", "Gemm", "Softmax",
                                           "Slice", "Add", "Sub", "Mul", "Div", "Identity",
                                           "Dropout",
                                           "Loop", /* a bag reads other values: cv_convert_bag */
                                           NULL};
    bool ok = false;
    for (int i = 0; moved_ok[i] && !ok; i++)
        ok = cv_op_is(cv, moved_ok[i]);
    for (int k = 0; !ok && k < cv->node->n_inputs; k++) {
        struct cv_value *v;
        enum quanta_status st = cv_input(cv, k, &v);
        if (st)
            return st;
        if (v && !cv_plain(v))
            return cv_fail(cv, "input '%s' has its batch axis moved or merged with other axes "
                               "(by Transpose or Reshape), which this operator does not support",
                           v->name);
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (cv_op_is(cv, table[i].name))
            return cv->probe ? QUANTA_OK : table[i].fn(cv);
    if (cv->probe)
        return QUANTA_ERR_INPUT;
    return cv_fail(cv, "operator '%s' is not supported (see man quanta-import for the list)",
                   cv->node->op_type);
}
