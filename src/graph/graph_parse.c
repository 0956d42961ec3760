/* graph_parse / graph_load: the "quanta.graph" JSON (model-format.md
 * section 2, plus the "quant" object of quantized models) into struct
 * graph, then graph_validate for the rules on values and shapes. The JSON
 * level is checked here: keys, types, names resolving to earlier values. */
#include "graph/graph_internal.h"

#include "base/json_read.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct graph *g;
    const char *source;
    struct quanta_error *err;
    char where[QUANTA_ERROR_MESSAGE_MAX / 2]; /* "node 'x' (op)", "input 'x'", ... */
};

/* "<source>: <where>: <message>" (where may be empty). */
__attribute__((format(printf, 2, 3)))
static enum quanta_status pfail(struct parser *p, const char *fmt, ...)
{
    char msg[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->where[0])
        return quanta_fail(p->err, QUANTA_ERR_INPUT, "%s: %s: %s", p->source, p->where, msg);
    return quanta_fail(p->err, QUANTA_ERR_INPUT, "%s: %s", p->source, msg);
}

static enum quanta_status nomem(struct parser *p)
{
    return quanta_fail(p->err, QUANTA_ERR_NOMEM, "%s: out of memory", p->source);
}

/* obj must be an object whose keys are all in allowed (NULL-terminated)
 * and appear once. */
static enum quanta_status check_keys(struct parser *p, const struct json_node *obj,
                                     const char *what, const char *const *allowed)
{
    if (!json_is_object(obj))
        return pfail(p, "%s must be an object", what);
    for (const struct json_node *it = obj->child; it; it = it->next) {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(it->key, allowed[i]) == 0;
        if (!known)
            return pfail(p, "unknown key '%s' in %s", it->key, what);
        for (const struct json_node *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->key, it->key) == 0)
                return pfail(p, "key '%s' appears twice in %s", it->key, what);
    }
    return QUANTA_OK;
}

static bool json_int(const struct json_node *item, int64_t min, int64_t max, int64_t *out)
{
    if (!json_is_number(item))
        return false;
    double d = item->number;
    if (!(d == floor(d) && d >= (double)min && d <= (double)max))
        return false;
    *out = (int64_t)d;
    return true;
}

static const char *json_string(const struct json_node *obj, const char *key)
{
    const struct json_node *item = json_member(obj, key);
    return json_is_string(item) ? item->string : NULL;
}

/* Adds a value, rejecting a name already in use. */
static enum quanta_status add_value(struct parser *p, const char *name,
                                    enum graph_value_kind kind, enum quanta_dtype dtype,
                                    const struct quanta_shape *shape, int *index)
{
    if (graph_find_value(p->g, name) >= 0)
        return pfail(p, "value name '%s' is defined twice", name);
    *index = graph_add_value(p->g, name, kind, dtype, shape);
    return *index < 0 ? nomem(p) : QUANTA_OK;
}

/* A JSON list of up to QUANTA_MAX_RANK integers in [min, max]. */
static bool json_int_list(const struct json_node *arr, int64_t min, int64_t max, int64_t *out,
                          int *n)
{
    if (!json_is_array(arr))
        return false;
    size_t count = json_size(arr);
    if (count > QUANTA_MAX_RANK)
        return false;
    int i = 0;
    for (const struct json_node *it = arr->child; it; it = it->next)
        if (!json_int(it, min, max, &out[i++]))
            return false;
    *n = (int)count;
    return true;
}

/* A JSON list of at least one number, as floats (caller frees). */
static enum quanta_status json_float_list(struct parser *p, const struct json_node *arr,
                                          const char *what, float **out, int *n)
{
    size_t count = json_is_array(arr) ? json_size(arr) : 0;
    if (count < 1 || count > INT_MAX)
        return pfail(p, "%s must be a list of numbers", what);
    float *list = malloc(count * sizeof *list);
    if (!list)
        return nomem(p);
    int i = 0;
    for (const struct json_node *it = arr->child; it; it = it->next) {
        if (!json_is_number(it)) {
            free(list);
            return pfail(p, "%s must be a list of numbers", what);
        }
        list[i++] = (float)it->number;
    }
    *out = list;
    *n = (int)count;
    return QUANTA_OK;
}

/* ---- inputs ---- */

static enum quanta_status parse_normalize(struct parser *p, const struct json_node *obj,
                                          struct graph_input *in)
{
    static const char *const keys[] = {"scale", "mean", "std", NULL};
    static const float zero = 0, one = 1;
    struct quanta_normalize *nz = &in->normalize;
    enum quanta_status st;

    if ((st = check_keys(p, obj, "normalize", keys)))
        return st;
    in->has_normalize = true;
    nz->scale = 1;
    const struct json_node *scale = json_member(obj, "scale");
    if (scale) {
        if (!json_is_number(scale))
            return pfail(p, "normalize scale must be a number");
        nz->scale = scale->number;
    }
    const struct json_node *mean = json_member(obj, "mean");
    const struct json_node *std = json_member(obj, "std");
    float *list;
    if (mean) {
        if ((st = json_float_list(p, mean, "normalize mean", &list, &nz->n_mean)))
            return st;
        nz->mean = list;
    }
    if (std) {
        if ((st = json_float_list(p, std, "normalize std", &list, &nz->n_std)))
            return st;
        nz->std = list;
    }
    /* Defaults [0] and [1], owned like parsed lists. */
    if (!nz->mean && (nz->mean = list = malloc(sizeof zero)) != NULL) {
        list[0] = zero;
        nz->n_mean = 1;
    }
    if (!nz->std && (nz->std = list = malloc(sizeof one)) != NULL) {
        list[0] = one;
        nz->n_std = 1;
    }
    return nz->mean && nz->std ? QUANTA_OK : nomem(p);
}

static enum quanta_status parse_input(struct parser *p, const struct json_node *obj, int index)
{
    static const char *const keys[] = {"name", "shape", "dtype", "normalize", NULL};
    struct graph *g = p->g;
    enum quanta_status st;

    snprintf(p->where, sizeof p->where, "input %d", index);
    if ((st = check_keys(p, obj, "an input", keys)))
        return st;
    const char *name = json_string(obj, "name");
    if (!name)
        return pfail(p, "\"name\" must be a string");
    snprintf(p->where, sizeof p->where, "input '%s'", name);
    struct quanta_shape shape = {0};
    if (!json_int_list(json_member(obj, "shape"), INT64_MIN / 2,
                       INT64_MAX / 2, shape.dims, &shape.rank))
        return pfail(p, "\"shape\" must be a list of at most %d integers", QUANTA_MAX_RANK);
    enum quanta_dtype dtype = QUANTA_F32;
    const struct json_node *dt = json_member(obj, "dtype");
    if (dt) {
        dtype = json_is_string(dt) ? quanta_dtype_parse(dt->string) : QUANTA_DTYPE_INVALID;
        if (dtype == QUANTA_DTYPE_INVALID || dtype == QUANTA_I4) /* I4: tables only */
            return pfail(p, "\"dtype\" must be \"F32\", \"F16\", \"BF16\", \"F64\", "
                            "\"U8\", \"I8\", \"U16\", \"I16\", \"BOOL\", \"I32\", "
                            "\"I64\", \"U32\" or \"U64\"");
    }
    /* every declared type but the ids' is computed as float; U32 and U64
     * ids are held as I64 (a U64 id above 2^63 - 1 is refused as read) */
    enum quanta_dtype value_dtype = dtype == QUANTA_I32 || dtype == QUANTA_I64 ? dtype
                                    : dtype == QUANTA_U32 || dtype == QUANTA_U64 ? QUANTA_I64
                                                                                 : QUANTA_F32;
    int v;
    if ((st = add_value(p, name, GRAPH_VALUE_INPUT, value_dtype, &shape, &v)))
        return st;
    struct graph_input *in = &g->inputs[g->n_inputs++];
    memset(in, 0, sizeof *in);
    in->value = v;
    in->data_dtype = dtype == value_dtype ? QUANTA_DTYPE_INVALID : dtype;
    const struct json_node *nz = json_member(obj, "normalize");
    return nz ? parse_normalize(p, nz, in) : QUANTA_OK;
}

/* ---- the file's tensors ---- */

static enum quanta_status add_tensors(struct parser *p, const struct st_file *file)
{
    enum quanta_status st;
    p->where[0] = '\0';
    for (size_t i = 0; file && i < file->n_tensors; i++) {
        const struct st_tensor *t = &file->tensors[i];
        int v;
        if ((st = add_value(p, t->name, GRAPH_VALUE_CONST, t->dtype, &t->shape, &v)))
            return st;
        struct graph_value *val = &p->g->values[v];
        val->data = t->data;
        /* Offsets inside the data buffer need not be aligned; kernels read
         * typed pointers, so a misaligned tensor gets an aligned copy. */
        size_t size = quanta_dtype_size(t->dtype), bytes = (size_t)(t->end - t->begin);
        if (t->data && size > 1 && (uintptr_t)t->data % size != 0) {
            if (!(val->owned = malloc(bytes ? bytes : 1)))
                return nomem(p);
            memcpy(val->owned, t->data, bytes);
            val->data = val->owned;
        }
    }
    return QUANTA_OK;
}

/* ---- nodes ---- */

static enum quanta_status parse_attr(struct parser *p, const struct json_node *item,
                                     enum graph_attr_id id, int spatial, struct graph_attrs *a)
{
    const struct graph_attr_info *info = &graph_attr_table[id];
    int64_t list[QUANTA_MAX_RANK];
    int64_t x;
    int n;

    switch (info->kind) {
    case ATTR_KIND_INT2:
    case ATTR_KIND_INT4: {
        int want = info->kind == ATTR_KIND_INT2 ? spatial : 2 * spatial;
        if (!json_int_list(item, INT32_MIN, INT32_MAX, list, &n) || n != want)
            return pfail(p, "attr '%s' must be a list of %d integers", info->name, want);
        int *dst = id == GRAPH_ATTR_STRIDES     ? a->strides
                   : id == GRAPH_ATTR_DILATIONS ? a->dilations
                   : id == GRAPH_ATTR_KERNEL    ? a->kernel
                                                : a->pads;
        for (int i = 0; i < n; i++)
            dst[i] = (int)list[i];
        return QUANTA_OK;
    }
    case ATTR_KIND_INT:
        if (!json_int(item, INT32_MIN, INT32_MAX, &x))
            return pfail(p, "attr '%s' must be an integer", info->name);
        *(id == GRAPH_ATTR_GROUPS ? &a->groups : &a->axis) = (int)x;
        return QUANTA_OK;
    case ATTR_KIND_INT_LIST:
        if (!json_int_list(item, id == GRAPH_ATTR_SHAPE ? INT64_MIN / 2 : INT32_MIN,
                           id == GRAPH_ATTR_SHAPE ? INT64_MAX / 2 : INT32_MAX, list, &n) ||
            n < 1)
            return pfail(p, "attr '%s' must be a list of 1 to %d integers", info->name,
                         QUANTA_MAX_RANK);
        if (id == GRAPH_ATTR_SHAPE) {
            a->shape.rank = n;
            memcpy(a->shape.dims, list, (size_t)n * sizeof list[0]);
        } else if (id == GRAPH_ATTR_PERM) {
            a->n_perm = n;
            for (int i = 0; i < n; i++)
                a->perm[i] = (int)list[i];
        } else if (id == GRAPH_ATTR_STARTS || id == GRAPH_ATTR_STEPS) {
            *(id == GRAPH_ATTR_STARTS ? &a->n_starts : &a->n_steps) = n;
            memcpy(id == GRAPH_ATTR_STARTS ? a->starts : a->steps, list,
                   (size_t)n * sizeof list[0]);
        } else if (id == GRAPH_ATTR_PADS_BEGIN || id == GRAPH_ATTR_PADS_END) {
            bool begin = id == GRAPH_ATTR_PADS_BEGIN;
            *(begin ? &a->n_pads_begin : &a->n_pads_end) = n;
            memcpy(begin ? a->pads_begin : a->pads_end, list, (size_t)n * sizeof list[0]);
        } else {
            a->n_axes = n;
            for (int i = 0; i < n; i++)
                a->axes[i] = (int)list[i];
        }
        return QUANTA_OK;
    case ATTR_KIND_FLOAT:
        if (!json_is_number(item))
            return pfail(p, "attr '%s' must be a number", info->name);
        *(id == GRAPH_ATTR_ALPHA  ? &a->alpha
          : id == GRAPH_ATTR_BETA ? &a->beta
          : id == GRAPH_ATTR_GAMMA ? &a->gamma
          : id == GRAPH_ATTR_MIN  ? &a->min
          : id == GRAPH_ATTR_MAX  ? &a->max
          : id == GRAPH_ATTR_VALUE ? &a->value
                                  : &a->epsilon) = (float)item->number;
        return QUANTA_OK;
    case ATTR_KIND_FLOAT_LIST: {
        size_t count = json_is_array(item) ? json_size(item) : 0;
        if (count < 1 || count > QUANTA_MAX_RANK)
            return pfail(p, "attr '%s' must be a list of 1 to %d numbers", info->name,
                         QUANTA_MAX_RANK);
        n = (int)count;
        int i = 0;
        for (const struct json_node *it = item->child; it; it = it->next) {
            if (!json_is_number(it))
                return pfail(p, "attr '%s' must be a list of 1 to %d numbers", info->name,
                             QUANTA_MAX_RANK);
            a->scales[i++] = (float)it->number;
        }
        a->n_scales = n;
        return QUANTA_OK;
    }
    case ATTR_KIND_ENUM: {
        const char *s = json_is_string(item) ? item->string : "";
        for (int v = 0; graph_attr_enum_name(id, v); v++)
            if (strcmp(s, graph_attr_enum_name(id, v)) == 0) {
                *graph_attr_enum_slot(id, a) = v;
                return QUANTA_OK;
            }
        return pfail(p, "attr '%s' has an unknown value (man quanta-format lists them)",
                     info->name);
    }
    case ATTR_KIND_BOOL:
        if (!json_is_bool(item))
            return pfail(p, "attr '%s' must be true or false", info->name);
        *(id == GRAPH_ATTR_SELECT_LAST ? &a->select_last : &a->keepdims) = json_is_true(item);
        return QUANTA_OK;
    case ATTR_KIND_ACTIVATION: {
        const char *s = json_is_string(item) ? item->string : "";
        for (int act = GRAPH_ACT_NONE; act <= GRAPH_ACT_RELU6; act++)
            if (strcmp(s, graph_activation_name((enum graph_activation)act)) == 0) {
                a->activation = (enum graph_activation)act;
                return QUANTA_OK;
            }
        return pfail(p, "attr 'activation' must be \"none\", \"relu\" or \"relu6\"");
    }
    case ATTR_KIND_DTYPE:
        a->to = json_is_string(item) ? quanta_dtype_parse(item->string)
                                     : QUANTA_DTYPE_INVALID;
        if (a->to == QUANTA_DTYPE_INVALID)
            return pfail(p, "attr '%s' must be a dtype name (\"F16\", \"I8\", ...)", info->name);
        return QUANTA_OK;
    }
    return QUANTA_OK;
}

static enum quanta_status parse_attrs(struct parser *p, enum graph_op op,
                                      const struct json_node *obj, struct graph_attrs *a)
{
    const struct graph_op_info *info = &graph_op_table[op];
    unsigned given = 0;
    enum quanta_status st;

    graph_attrs_default_op(a, op);
    if (obj && !json_is_object(obj))
        return pfail(p, "\"attrs\" must be an object");
    for (const struct json_node *it = obj ? obj->child : NULL; it; it = it->next) {
        int id = 0;
        while (id < GRAPH_ATTR_COUNT && strcmp(graph_attr_table[id].name, it->key) != 0)
            id++;
        if (id == GRAPH_ATTR_COUNT || !(info->attrs & (1u << id)))
            return pfail(p, "unknown attr '%s' (%s takes %s)", it->key, info->name,
                         info->attrs ? "other attrs" : "no attrs");
        if (given & (1u << id))
            return pfail(p, "attr '%s' appears twice", it->key);
        given |= 1u << id;
        if ((st = parse_attr(p, it, (enum graph_attr_id)id, graph_op_spatial(op), a)))
            return st;
    }
    for (int id = 0; id < GRAPH_ATTR_COUNT; id++)
        if ((info->required & (1u << id)) && !(given & (1u << id)))
            return pfail(p, "attr '%s' is required", graph_attr_table[id].name);
    if ((info->attrs & GA(KERNEL)) && !(given & GA(STRIDES))) {
        for (int i = 0; i < 3; i++)
            a->strides[i] = a->kernel[i]; /* pools: strides default to the kernel */
    }
    return QUANTA_OK;
}

/* A list of value names, as strings. */
static bool json_names(const struct json_node *arr)
{
    if (!json_is_array(arr))
        return false;
    for (const struct json_node *it = arr->child; it; it = it->next)
        if (!json_is_string(it))
            return false;
    return true;
}

static enum quanta_status parse_node(struct parser *p, const struct json_node *obj, int index)
{
    static const char *const keys[] = {"op", "name", "inputs", "outputs", "attrs", NULL};
    struct graph *g = p->g;
    enum quanta_status st;
    int *in = NULL, *out = NULL;

    snprintf(p->where, sizeof p->where, "node %d", index);
    if ((st = check_keys(p, obj, "a node", keys)))
        return st;
    const char *name = json_string(obj, "name");
    const char *opname = json_string(obj, "op");
    if (!name)
        return pfail(p, "\"name\" must be a string");
    snprintf(p->where, sizeof p->where, "node '%s'", name);
    if (!opname)
        return pfail(p, "\"op\" must be a string");
    enum graph_op op = graph_op_parse(opname);
    if (op == GRAPH_OP_COUNT)
        return pfail(p, "unknown op '%s'", opname);
    snprintf(p->where, sizeof p->where, "node '%s' (%s)", name, opname);
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return pfail(p, "node name '%s' is used twice", name);

    const struct json_node *inputs = json_member(obj, "inputs");
    const struct json_node *outputs = json_member(obj, "outputs");
    if (!json_names(inputs))
        return pfail(p, "\"inputs\" must be a list of value names");
    if (!json_names(outputs))
        return pfail(p, "\"outputs\" must be a list of value names");
    if (json_size(inputs) > INT_MAX || json_size(outputs) > INT_MAX)
        return pfail(p, "more than %d inputs or outputs", INT_MAX);
    int n_in = (int)json_size(inputs), n_out = (int)json_size(outputs);
    if ((op == GRAPH_OP_CONV2D || op == GRAPH_OP_DENSE) && n_in > 3)
        return pfail(p, "has %d inputs but 2 to 3 are needed (a fourth, the residual, is made by "
                        "the optimizer, never read from a file)",
                     n_in);
    in = malloc(((size_t)n_in + 1) * sizeof *in);
    out = malloc(((size_t)n_out + 1) * sizeof *out);
    if (!in || !out) {
        st = nomem(p);
        goto fail;
    }
    int k = 0;
    for (const struct json_node *it = inputs->child; it; it = it->next) {
        if ((in[k++] = graph_find_value(g, it->string)) < 0) {
            st = pfail(p, "input '%s' is not defined before it (nodes must be in topological "
                          "order)",
                       it->string);
            goto fail;
        }
    }
    struct graph_attrs attrs;
    if ((st = parse_attrs(p, op, json_member(obj, "attrs"), &attrs)))
        goto fail;
    k = 0;
    for (const struct json_node *it = outputs->child; it; it = it->next) {
        if (graph_find_value(g, it->string) >= 0) {
            st = pfail(p, "output '%s' is already defined", it->string);
            goto fail;
        }
        if ((out[k++] = graph_add_value(g, it->string, GRAPH_VALUE_NODE, QUANTA_F32,
                                        NULL)) < 0) {
            st = nomem(p);
            goto fail;
        }
    }
    int n = graph_add_node(g, op, name, in, n_in, out, n_out);
    if (n < 0) {
        st = nomem(p);
        goto fail;
    }
    g->nodes[n].attrs = attrs;
    st = QUANTA_OK;
fail:
    free(in);
    free(out);
    return st;
}

/* ---- quant ---- */

static enum quanta_status parse_quant_entry(struct parser *p, const struct json_node *obj)
{
    static const char *const keys[] = {"dtype", "axis", "scale", "zero_point", NULL};
    struct graph *g = p->g;
    enum quanta_status st;

    snprintf(p->where, sizeof p->where, "quant of '%s'", obj->key);
    int v = graph_find_value(g, obj->key);
    if (v < 0)
        return pfail(p, "'%s' is not a value of the graph", obj->key);
    if ((st = check_keys(p, obj, "a quant entry", keys)))
        return st;
    struct graph_quant *q = &g->values[v].quant;
    const char *dt = json_string(obj, "dtype");
    q->dtype = dt ? quanta_dtype_parse(dt) : QUANTA_DTYPE_INVALID;
    if (q->dtype != QUANTA_I8 && q->dtype != QUANTA_U8 && q->dtype != QUANTA_I32 &&
        q->dtype != QUANTA_I4)
        return pfail(p, "\"dtype\" must be \"I8\", \"U8\", \"I32\" or \"I4\"");
    int64_t axis = -1;
    const struct json_node *ax = json_member(obj, "axis");
    if (ax && !json_int(ax, -1, QUANTA_MAX_RANK - 1, &axis))
        return pfail(p, "\"axis\" must be an integer from -1 to %d", QUANTA_MAX_RANK - 1);
    q->axis = (int)axis;
    const struct json_node *scale = json_member(obj, "scale");
    const struct json_node *zp = json_member(obj, "zero_point");
    if (axis == -1) {
        int64_t z;
        if (!json_is_number(scale))
            return pfail(p, "\"scale\" must be a number (per tensor, axis -1)");
        if (!json_int(zp, INT32_MIN, INT32_MAX, &z))
            return pfail(p, "\"zero_point\" must be an integer (per tensor, axis -1)");
        q->scale = (float)scale->number;
        q->zero_point = (int32_t)z;
        q->n = 1;
        q->scales = &q->scale;
        q->zero_points = &q->zero_point;
        return QUANTA_OK;
    }
    /* zero_point left out: every channel's is 0 (symmetric tables) */
    if (!json_is_string(scale) || (zp && !json_is_string(zp)))
        return pfail(p, "per-channel (axis %d) \"scale\" and \"zero_point\" must name tensors",
                     (int)axis);
    int s = graph_find_value(g, scale->string);
    int z = zp ? graph_find_value(g, zp->string) : -1;
    if (s < 0 || g->values[s].kind != GRAPH_VALUE_CONST)
        return pfail(p, "scale '%s' is not a tensor of the file", scale->string);
    if (zp && (z < 0 || g->values[z].kind != GRAPH_VALUE_CONST))
        return pfail(p, "zero_point '%s' is not a tensor of the file", zp->string);
    int64_t n = quanta_shape_numel(&g->values[s].shape);
    q->n = n >= 0 && n <= INT32_MAX ? (int)n : -1;
    q->scales = g->values[s].data;
    q->zero_points = zp ? g->values[z].data : NULL;
    return QUANTA_OK;
}

static enum quanta_status parse_quant(struct parser *p, const struct json_node *obj)
{
    enum quanta_status st;
    if (!json_is_object(obj))
        return pfail(p, "\"quant\" must be an object");
    for (const struct json_node *it = obj->child; it; it = it->next) {
        for (const struct json_node *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->key, it->key) == 0)
                return pfail(p, "quant: '%s' has two entries", it->key);
        if ((st = parse_quant_entry(p, it)))
            return st;
    }
    return QUANTA_OK;
}

/* ---- the document ---- */

static enum quanta_status parse_root(struct parser *p, const struct json_node *root,
                                     const struct st_file *file)
{
    static const char *const keys[] = {"format",  "version", "name", "inputs",
                                       "outputs", "nodes",   "quant", NULL};
    struct graph *g = p->g;
    enum quanta_status st;
    int64_t version;

    if ((st = check_keys(p, root, "the graph", keys)))
        return st;
    const char *format = json_string(root, "format");
    if (!format || strcmp(format, "quanta.graph") != 0)
        return pfail(p, "\"format\" must be \"quanta.graph\"");
    if (!json_int(json_member(root, "version"), 1, 1, &version))
        return pfail(p, "\"version\" must be 1");
    const struct json_node *name = json_member(root, "name");
    if (name && !json_is_string(name))
        return pfail(p, "\"name\" must be a string");
    if (name && !(g->name = strdup(name->string)))
        return nomem(p);

    const struct json_node *inputs = json_member(root, "inputs");
    const struct json_node *outputs = json_member(root, "outputs");
    const struct json_node *nodes = json_member(root, "nodes");
    if (!json_is_array(inputs))
        return pfail(p, "\"inputs\" must be a list");
    if (!json_names(outputs))
        return pfail(p, "\"outputs\" must be a list of value names");
    if (!json_is_array(nodes))
        return pfail(p, "\"nodes\" must be a list");

    g->inputs = calloc(json_size(inputs) + 1, sizeof *g->inputs);
    g->outputs = calloc(json_size(outputs) + 1, sizeof *g->outputs);
    if (!g->inputs || !g->outputs)
        return nomem(p);
    int i = 0;
    for (const struct json_node *it = inputs->child; it; it = it->next)
        if ((st = parse_input(p, it, i++)))
            return st;
    if ((st = add_tensors(p, file)))
        return st;
    i = 0;
    for (const struct json_node *it = nodes->child; it; it = it->next)
        if ((st = parse_node(p, it, i++)))
            return st;
    p->where[0] = '\0';
    for (const struct json_node *it = outputs->child; it; it = it->next) {
        int v = graph_find_value(g, it->string);
        if (v < 0)
            return pfail(p, "output '%s' is not a value of the graph", it->string);
        g->outputs[g->n_outputs++] = v;
    }
    const struct json_node *quant = json_member(root, "quant");
    if (quant && (st = parse_quant(p, quant)))
        return st;
    p->where[0] = '\0';
    return QUANTA_OK;
}

enum quanta_status graph_parse(struct graph *g, const char *json, const struct st_file *file,
                               const char *source, struct quanta_error *err)
{
    struct parser p = {.g = g, .source = source ? source : "graph", .err = err};
    struct json_doc doc;
    enum quanta_status st;

    memset(g, 0, sizeof *g);
    enum json_error jerr = json_parse(&doc, json, json ? strlen(json) : 0, NULL);
    if (jerr == JSON_ERR_NOMEM)
        return nomem(&p);
    if (jerr != JSON_OK)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: the graph is not valid JSON (at byte %zu)",
                           p.source, doc.offset);
    st = parse_root(&p, doc.root, file);
    json_doc_free(&doc);
    if (!st)
        st = graph_validate(g, p.source, err);
    if (st)
        graph_free(g);
    return st;
}

enum quanta_status graph_load(struct graph *g, const struct st_file *file,
                              struct quanta_error *err)
{
    const char *source = file->path ? file->path : "model";
    for (size_t i = 0; i < file->n_meta; i++)
        if (strcmp(file->meta[i].key, "quanta.graph") == 0)
            return graph_parse(g, file->meta[i].value, file, source, err);
    memset(g, 0, sizeof *g);
    return quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph (no \"quanta.graph\" metadata)",
                       source);
}
