/* The graph's inputs (with --input-shape and --normalize), its
 * initializers and its outputs. */
#include "import/onnx_convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- graph inputs -------------------------------------------------------- */

static bool is_initializer(const struct onnx_graph *og, const char *name)
{
    for (int i = 0; i < og->n_initializers; i++)
        if (strcmp(og->initializers[i].name, name) == 0)
            return true;
    return false;
}

/* The --input-shape for an input, NCHW order (see onnx_import.h). */
static enum quanta_status apply_input_shape(struct cv *cv, const struct onnx_value_info *in,
                                            struct quanta_shape *shape)
{
    const struct onnx_import_options *opt = cv->opt;
    for (int i = 0; opt && i < opt->n_input_shapes; i++) {
        const struct onnx_input_shape *given = &opt->input_shapes[i];
        if (strcmp(given->name, in->name) != 0)
            continue;
        const struct quanta_shape *s = &given->shape;
        char b1[128], b2[128];
        if (s->rank != shape->rank)
            return cv_fail(cv, "--input-shape %s has rank %d but input '%s' has shape %s",
                           given->name, s->rank, in->name,
                           quanta_shape_format(shape, b1, sizeof b1));
        bool nchw = true, nhwc = s->rank == 4;
        int perm[4];
        cv_perm_nhwc(perm);
        for (int d = 1; d < s->rank; d++) {
            nchw = nchw && (shape->dims[d] < 0 || shape->dims[d] == s->dims[d]);
            /* given NHWC: given dim d is ONNX dim perm[d] */
            nhwc = nhwc && (shape->dims[perm[d]] < 0 || shape->dims[perm[d]] == s->dims[d]);
        }
        struct quanta_shape out = *s;
        if (!nchw && nhwc)
            for (int d = 1; d < 4; d++)
                out.dims[perm[d]] = s->dims[d];
        else if (!nchw)
            return cv_fail(cv, "--input-shape %s=%s contradicts the model's shape %s",
                           given->name, quanta_shape_format(s, b1, sizeof b1),
                           quanta_shape_format(shape, b2, sizeof b2));
        out.dims[0] = s->dims[0] > 0 ? s->dims[0] : -1;
        *shape = out;
        return QUANTA_OK;
    }
    return QUANTA_OK;
}

enum quanta_status cv_add_inputs(struct cv *cv, struct onnx_import_info *info)
{
    const struct onnx_graph *og = &cv->m->graph;
    struct graph *g = cv->g;
    enum quanta_status st;
    size_t text_cap = 64, text_len = 0;
    char *text = calloc(1, text_cap);
    if (!text)
        return cv_nomem(cv);
    info->input_shapes = text;
    int n = 0;
    for (int i = 0; i < og->n_inputs; i++)
        n += !is_initializer(og, og->inputs[i].name);
    if (n == 0)
        return cv_fail(cv, "the graph has no inputs");
    g->inputs = calloc((size_t)n, sizeof *g->inputs);
    if (!g->inputs)
        return cv_nomem(cv);
    for (int i = 0; i < og->n_inputs; i++) {
        const struct onnx_value_info *in = &og->inputs[i];
        char buf[128];
        if (is_initializer(og, in->name))
            continue;
        /* dtype: the graph value's (float, or int64/int32 ids); data:
         * the element type the model declares, which the feed converts */
        enum quanta_dtype dtype = QUANTA_F32, data = QUANTA_DTYPE_INVALID;
        switch (in->elem_type) {
        case ONNX_FLOAT: break;
        case ONNX_INT64: dtype = QUANTA_I64; break;
        case ONNX_INT32: dtype = QUANTA_I32; break;
        case ONNX_DOUBLE: data = QUANTA_F64; break;
        case ONNX_FLOAT16: data = QUANTA_F16; break;
        case ONNX_BFLOAT16: data = QUANTA_BF16; break;
        case ONNX_UINT8: data = QUANTA_U8; break;
        case ONNX_INT8: data = QUANTA_I8; break;
        case ONNX_INT16: data = QUANTA_I16; break;
        case ONNX_UINT16: data = QUANTA_U16; break;
        /* ids wider than I32: held as I64, the declared type kept */
        case ONNX_UINT32: dtype = QUANTA_I64, data = QUANTA_U32; break;
        case ONNX_UINT64: dtype = QUANTA_I64, data = QUANTA_U64; break;
        case ONNX_BOOL: data = QUANTA_BOOL; break;
        default:
            return cv_fail(cv, "input '%s' has element type %s; FLOAT, DOUBLE, FLOAT16, BFLOAT16, "
                               "UINT8, INT8, UINT16, INT16, BOOL, INT32, INT64, UINT32 or UINT64 "
                               "is needed",
                           in->name, onnx_data_type_name(in->elem_type));
        }
        if (!in->has_shape || in->rank < 1)
            return cv_fail(cv, "input '%s' has no shape (or is a scalar); give --input-shape",
                           in->name);
        if (in->rank > QUANTA_MAX_RANK)
            return cv_fail(cv, "input '%s' has rank %d; at most %d is supported", in->name,
                           in->rank, QUANTA_MAX_RANK);
        struct quanta_shape shape = {.rank = in->rank};
        for (int d = 0; d < in->rank; d++)
            shape.dims[d] = in->dims[d];
        if ((st = apply_input_shape(cv, in, &shape)))
            return st;
        bool given = false;
        for (int k = 0; cv->opt && k < cv->opt->n_input_shapes; k++)
            given = given || strcmp(cv->opt->input_shapes[k].name, in->name) == 0;
        if (!given)
            shape.dims[0] = -1; /* any batch, whatever the file says */
        for (int d = 1; d < shape.rank; d++)
            if (shape.dims[d] == 0)
                return cv_fail(cv, "input '%s' has shape %s with an empty dimension %d; quanta "
                                   "needs at least one element",
                               in->name, quanta_shape_format(&shape, buf, sizeof buf), d);
            else if (shape.dims[d] < 1)
                return cv_fail(cv, "input '%s' has shape %s with an unknown dimension %d; give "
                                   "--input-shape %s=...",
                               in->name, quanta_shape_format(&shape, buf, sizeof buf), d,
                               in->name);
        struct cv_value *v;
        if ((st = cv_table_add(cv, in->name, &v)))
            return st;
        v->kind = CV_ACT;
        v->shape = shape;
        v->elem = dtype == QUANTA_F32 && in->elem_type != ONNX_FLOAT ? in->elem_type : 0;
        if (shape.rank == 4)
            cv_perm_nhwc(v->perm);
        else
            cv_perm_identity(shape.rank, v->perm);
        struct quanta_shape phys = cv_phys_shape(&shape, v->perm);
        v->q = graph_add_value(g, in->name, GRAPH_VALUE_INPUT, dtype, &phys);
        if (v->q < 0)
            return cv_nomem(cv);
        struct graph_input *gi = &g->inputs[g->n_inputs++];
        gi->value = v->q;
        gi->data_dtype = data;
        if (cv->opt && cv->opt->has_normalize && in->elem_type == ONNX_FLOAT) {
            const struct quanta_normalize *nz = &cv->opt->normalize;
            float *mean = malloc((size_t)(nz->n_mean > 0 ? nz->n_mean : 1) * sizeof *mean);
            float *std = malloc((size_t)(nz->n_std > 0 ? nz->n_std : 1) * sizeof *std);
            if (!mean || !std) {
                free(mean);
                free(std);
                return cv_nomem(cv);
            }
            for (int k = 0; k < nz->n_mean; k++)
                mean[k] = nz->mean[k];
            for (int k = 0; k < nz->n_std; k++)
                std[k] = nz->std[k];
            if (nz->n_mean < 1)
                mean[0] = 0;
            if (nz->n_std < 1)
                std[0] = 1;
            gi->has_normalize = true;
            gi->normalize.scale = nz->scale;
            gi->normalize.n_mean = nz->n_mean > 0 ? nz->n_mean : 1;
            gi->normalize.mean = mean;
            gi->normalize.n_std = nz->n_std > 0 ? nz->n_std : 1;
            gi->normalize.std = std;
        }
        /* the original shape, for quanta.import.input_shape */
        char item[300];
        quanta_shape_format(&shape, buf, sizeof buf);
        if (n == 1)
            snprintf(item, sizeof item, "%s", buf);
        else
            snprintf(item, sizeof item, "%s%s=%s", text_len ? "; " : "", in->name, buf);
        size_t len = strlen(item);
        if (text_len + len + 1 > text_cap) {
            text_cap = (text_len + len + 1) * 2;
            char *p = realloc(text, text_cap);
            if (!p)
                return cv_nomem(cv);
            text = info->input_shapes = p;
        }
        memcpy(text + text_len, item, len + 1);
        text_len += len;
    }
    for (int k = 0; cv->opt && k < cv->opt->n_input_shapes; k++) {
        bool found = false;
        for (int i = 0; i < og->n_inputs && !found; i++)
            found = strcmp(og->inputs[i].name, cv->opt->input_shapes[k].name) == 0 &&
                    !is_initializer(og, og->inputs[i].name);
        if (!found)
            return quanta_fail(cv->err, QUANTA_ERR_USAGE, "--input-shape names '%s', which is "
                                                          "not an input of %s",
                               cv->opt->input_shapes[k].name, cv->source);
    }
    return QUANTA_OK;
}

enum quanta_status cv_add_initializers(struct cv *cv)
{
    const struct onnx_graph *og = &cv->m->graph;
    for (int i = 0; i < og->n_initializers; i++) {
        const struct onnx_tensor *t = &og->initializers[i];
        if (!t->name[0])
            return cv_fail(cv, "initializer %d has no name", i);
        if (cv_find(cv, t->name))
            continue; /* an input of the same name (IR < 4 lists both) came first */
        struct cv_value *v;
        enum quanta_status st = cv_table_add(cv, t->name, &v);
        if (st)
            return st;
        v->kind = CV_CONST;
        v->c = t;
    }
    return QUANTA_OK;
}

/* ---- graph outputs ------------------------------------------------------- */

enum quanta_status cv_add_outputs(struct cv *cv, struct onnx_import_info *info)
{
    const struct onnx_graph *og = &cv->m->graph;
    struct graph *g = cv->g;
    if (og->n_outputs < 1)
        return cv_fail(cv, "the graph has no outputs");
    g->outputs = calloc((size_t)og->n_outputs, sizeof *g->outputs);
    info->output_nhwc = calloc((size_t)og->n_outputs, sizeof *info->output_nhwc);
    if (!g->outputs || !info->output_nhwc)
        return cv_nomem(cv);
    for (int i = 0; i < og->n_outputs; i++) {
        const char *name = og->outputs[i].name;
        struct cv_value *v = cv_find(cv, name);
        if (!v)
            return cv_fail(cv, "output '%s' is not produced by any node", name);
        if (v->kind != CV_ACT)
            return cv_fail(cv, "output '%s' is a constant; quanta outputs are computed from the "
                               "inputs",
                           name);
        int perm[QUANTA_MAX_RANK], q;
        cv_perm_identity(v->shape.rank, perm);
        if (v->shape.rank == 4 && !cv_layout_equiv(&v->shape, v->perm, perm)) {
            cv_perm_nhwc(perm); /* 4-D outputs come out NHWC */
            info->output_nhwc[i] = true;
        }
        /* other outputs in ONNX's order: a transpose node if need be, which
         * cannot move the batch */
        if (cv_batch_axis(v) > 0) {
            char buf[128];
            return cv_fail(cv, "output '%s' %s has its batch axis moved (by a Transpose); "
                               "quanta keeps the batch first",
                           name, quanta_shape_format(&v->shape, buf, sizeof buf));
        }
        enum quanta_status st = cv_materialize(cv, v, perm, &q);
        if (st)
            return st;
        if (q != v->q && strcmp(g->values[v->q].name, name) == 0) {
            /* a transpose made the output: it takes the ONNX name, the
             * value it reads a name of its own */
            char *stored = malloc(strlen(name) + sizeof ".stored");
            char *copy = strdup(name);
            if (!stored || !copy) {
                free(stored), free(copy);
                return cv_nomem(cv);
            }
            sprintf(stored, "%s.stored", name);
            free(g->values[v->q].name);
            g->values[v->q].name = stored;
            free(g->values[q].name);
            g->values[q].name = copy;
        }
        bool taken = g->values[q].kind != GRAPH_VALUE_NODE;
        for (int k = 0; k < g->n_outputs; k++)
            taken = taken || g->outputs[k] == q;
        if (taken) {
            /* a graph input passed through (Identity, Dropout) or a value
             * that is already an output: the output is a copy of it */
            int in = q;
            struct quanta_shape shape = g->values[in].shape; /* values may move */
            if ((q = cv_new_value(cv, name, &shape)) < 0)
                return cv_nomem(cv);
            snprintf(cv->node_name, sizeof cv->node_name, "%s", name);
            int n = cv_add_node(cv, GRAPH_OP_RESHAPE, "copy", &in, 1, q);
            if (n < 0)
                return cv_nomem(cv);
            g->nodes[n].attrs.shape = shape;
        }
        /* Keep the ONNX name where an alias (Identity, fused activation)
         * left the quanta value with another one. */
        if (strcmp(g->values[q].name, name) != 0 && graph_find_value(g, name) < 0) {
            char *copy = strdup(name);
            if (!copy)
                return cv_nomem(cv);
            free(g->values[q].name);
            g->values[q].name = copy;
        }
        g->outputs[g->n_outputs++] = q;
        info->n_outputs = g->n_outputs;
    }
    return QUANTA_OK;
}
