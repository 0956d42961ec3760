/* quanta export: constants as ONNX initializers (laid out, converted,
 * read through DequantizeLinear or Cast) and the float value of every node
 * input; see onnx_export_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "export/onnx_export_internal.h"
#include "quanta/quanta.h"

enum onnx_type ox_onnx_type(enum quanta_dtype t)
{
    switch (t) {
    case QUANTA_F32: return ONNX_FLOAT;
    case QUANTA_F16: return ONNX_FLOAT16;
    case QUANTA_BF16: return ONNX_BFLOAT16;
    case QUANTA_F64: return ONNX_DOUBLE;
    case QUANTA_I8: return ONNX_INT8;
    case QUANTA_U8: return ONNX_UINT8;
    case QUANTA_I16: return ONNX_INT16;
    case QUANTA_I32: return ONNX_INT32;
    case QUANTA_I64: return ONNX_INT64;
    case QUANTA_BOOL: return ONNX_BOOL;
    default: return 0;
    }
}

/* Copies src (shape s, es bytes an element) to dst with its axes permuted:
 * axis k of dst is axis perm[k] of src. */
static void permute(void *dst, const void *src, const struct quanta_shape *s, const int *perm,
                    size_t es)
{
    int r = s->rank;
    int64_t n = quanta_shape_numel(s), stride[QUANTA_MAX_RANK], idx[QUANTA_MAX_RANK] = {0};
    for (int d = r - 1, acc = 1; d >= 0; d--) {
        stride[d] = acc;
        acc *= (int)s->dims[d];
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int k = 0; k < r; k++)
            off += idx[k] * stride[perm[k]];
        memcpy((char *)dst + (size_t)i * es, (const char *)src + (size_t)off * es, es);
        for (int k = r - 1; k >= 0; k--) {
            if (++idx[k] < s->dims[perm[k]])
                break;
            idx[k] = 0;
        }
    }
}

/* Q/DQ parameters of a quantized value: scale F32 and zero point of the
 * value's dtype, scalars (per tensor) or [n] (per channel). */
static void quant_params(struct ox *x, int v, bool to_u8, const char **scale, const char **zero)
{
    const struct graph_value *val = &x->g->values[v];
    const struct graph_quant *q = &val->quant;
    bool per_tensor = q->axis < 0;
    if (x->act_u8 && val->kind != GRAPH_VALUE_CONST && q->dtype == QUANTA_I8)
        to_u8 = true; /* --uint8: q + 128, zero point + 128 */
    if (per_tensor && x->q_scale[v]) {
        *scale = x->q_scale[v];
        *zero = x->q_zero[v];
        return;
    }
    int n = per_tensor ? 1 : q->n;
    int64_t dims[1] = {n};
    /* I4 tables go out as I8 (unpack_i4) */
    enum quanta_dtype qt = q->dtype == QUANTA_I4 ? QUANTA_I8 : q->dtype;
    enum onnx_type zt = to_u8 ? ONNX_UINT8 : ox_onnx_type(qt);
    size_t zs = quanta_dtype_size(q->dtype);
    unsigned char *zp = calloc((size_t)n, zs);
    if (!zp) {
        ox_fail_nomem(x);
        *scale = *zero = NULL;
        return;
    }
    for (int i = 0; i < n; i++) {
        int32_t z = (q->zero_points ? q->zero_points[i] : 0) + (to_u8 ? 128 : 0);
        if (to_u8)
            zp[i] = (unsigned char)z;
        else if (zs == 1)
            zp[i] = (unsigned char)(qt == QUANTA_I8 ? (unsigned char)(int8_t)z : (uint8_t)z);
        else
            memcpy(zp + (size_t)i * 4, &z, 4);
    }
    *scale = ox_init(x, val->name, ONNX_FLOAT, dims, per_tensor ? 0 : 1, q->scales,
                     (size_t)n * 4);
    *zero = ox_init(x, val->name, zt, dims, per_tensor ? 0 : 1, zp, (size_t)n * zs);
    free(zp);
    if (per_tensor) {
        x->q_scale[v] = (char *)*scale;
        x->q_zero[v] = (char *)*zero;
    }
}

static const char *qdq_as(struct ox *x, const char *op, const char *in, int v, int axis,
                          bool to_u8, const char *out)
{
    const char *scale, *zero;
    quant_params(x, v, to_u8, &scale, &zero);
    const char *ins[3] = {in, scale, zero};
    out = ox_fresh_or(x, out, in ? in : "t", op[0] == 'Q' ? "q" : "dq");
    ox_node_begin(x, op, ins, 3, &out, 1);
    if (axis >= 0)
        ox_attr_int(x, "axis", axis);
    ox_node_end(x);
    return x->failed ? NULL : out;
}

const char *ox_qdq(struct ox *x, const char *op, const char *in, int v, int axis,
                       const char *out)
{
    return qdq_as(x, op, in, v, axis, false, out);
}

/* An I4 table [V, D] as I8 [V, D] (quanta's own dtype has no ONNX type
 * before opset 21; the values are the same). */
static int8_t *unpack_i4(const struct graph_value *val)
{
    int64_t d = val->shape.dims[val->shape.rank - 1], rows = quanta_shape_numel(&val->shape) / d;
    int8_t *out = malloc((size_t)(rows * d));
    uint64_t row_bytes = quanta_dtype_row_bytes(QUANTA_I4, d);
    for (int64_t r = 0; out && r < rows; r++)
        for (int64_t i = 0; i < d; i++)
            out[r * d + i] = (int8_t)quanta_i4_get((const char *)val->data + r * row_bytes, i);
    return out;
}

const char *ox_const_float(struct ox *x, int v, const int *perm)
{
    if (x->failed)
        return NULL;
    if (!perm && x->float_const[v] && !x->weights_u8)
        return x->float_const[v];
    const struct graph_value *val = &x->g->values[v];
    int r = val->shape.rank;
    enum quanta_dtype t = val->dtype;
    const void *data = val->data;
    void *owned = NULL, *moved = NULL;
    const char *name = NULL;
    bool to_u8 = x->weights_u8 && t == QUANTA_I8 && val->quant.dtype == QUANTA_I8;
    if (t == QUANTA_I4) {
        data = owned = unpack_i4(val);
        t = QUANTA_I8;
    } else if (to_u8) {
        /* q + 128 with zero point z + 128: the same real values */
        size_t n = (size_t)quanta_shape_numel(&val->shape);
        uint8_t *u = owned = malloc(n + 1);
        for (size_t i = 0; u && i < n; i++)
            u[i] = (uint8_t)(((const uint8_t *)val->data)[i] ^ 0x80u);
        data = owned;
        t = QUANTA_U8;
    } else if (val->quant.dtype == QUANTA_DTYPE_INVALID && t != QUANTA_F32 && t != QUANTA_F16 &&
               t != QUANTA_BF16) {
        /* integer or F64 constants read as numbers */
        data = owned = malloc((size_t)quanta_shape_numel(&val->shape) * 4 + 4);
        if (owned)
            quanta_convert_to_f32(t, val->data, owned, (size_t)quanta_shape_numel(&val->shape));
        t = QUANTA_F32;
    }
    if (!data)
        goto nomem;
    int64_t dims[QUANTA_MAX_RANK];
    size_t es = quanta_dtype_size(t), bytes = (size_t)quanta_shape_numel(&val->shape) * es;
    for (int i = 0; i < r; i++)
        dims[i] = val->shape.dims[perm ? perm[i] : i];
    if (perm) {
        data = moved = malloc(bytes + 1);
        if (!moved)
            goto nomem;
        permute(moved, owned ? owned : val->data, &val->shape, perm, es);
    }
    name = ox_init(x, val->name, ox_onnx_type(t), dims, r, data, bytes);
    if (val->quant.dtype != QUANTA_DTYPE_INVALID) {
        int axis = val->quant.axis;
        for (int i = 0; perm && axis >= 0 && i < r; i++)
            if (perm[i] == val->quant.axis)
                axis = i;
        name = qdq_as(x, "DequantizeLinear", name, v, axis, to_u8, NULL);
    } else if (t == QUANTA_F16 || t == QUANTA_BF16) {
        const char *out = ox_name(x, val->name, "cast");
        ox_node_begin(x, "Cast", &name, 1, &out, 1);
        ox_attr_int(x, "to", ONNX_FLOAT);
        ox_node_end(x);
        name = out;
    }
    free(owned);
    free(moved);
    if (!perm && name && !x->weights_u8)
        x->float_const[v] = (char *)name;
    return x->failed ? NULL : name;
nomem:
    free(owned);
    ox_fail_nomem(x);
    return NULL;
}

static bool is_identity(const int *perm, int rank)
{
    for (int i = 0; perm && i < rank; i++)
        if (perm[i] != i)
            return false;
    return true;
}

const char *ox_input(struct ox *x, int v, const int *perm)
{
    if (x->failed)
        return NULL;
    const struct graph_value *val = &x->g->values[v];
    if (is_identity(perm, val->shape.rank))
        perm = NULL;
    if (val->kind == GRAPH_VALUE_CONST)
        return ox_const_float(x, v, perm);
    const char *t = x->value_name[v];
    if (perm)
        t = ox_transpose(x, t, perm, val->shape.rank, NULL);
    if (val->quant.dtype != QUANTA_DTYPE_INVALID)
        t = ox_qdq(x, "DequantizeLinear", t, v, -1, NULL);
    return t;
}

