/* Decoding ONNX TensorProtos, with their data inline (raw or typed
 * fields) or in external files; the payload is checked against dims and
 * data_type. */
#include "import/onnx_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/onnx_decode.h"

const char *onnx_data_type_name(int t)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
        "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
    };
    return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

/* Bytes per element in raw_data; 0 for types quanta does not take. */
static size_t raw_width(int t)
{
    switch (t) {
    case ONNX_FLOAT: case ONNX_INT32: case ONNX_UINT32: return 4;
    case ONNX_UINT8: case ONNX_INT8: case ONNX_BOOL: return 1;
    case ONNX_UINT16: case ONNX_INT16: case ONNX_FLOAT16: case ONNX_BFLOAT16: return 2;
    case ONNX_INT64: case ONNX_UINT64: case ONNX_DOUBLE: return 8;
    default: return 0;
    }
}

static bool is_float_type(int t)
{
    return t == ONNX_FLOAT || t == ONNX_DOUBLE || t == ONNX_FLOAT16 || t == ONNX_BFLOAT16;
}

/* ---- tensors ------------------------------------------------------------ */

/* At least one byte, so that an empty tensor has non-NULL data too. */
static void *alloc_tensor_data(size_t size)
{
    return malloc(size ? size : 1);
}

void dec_tensor_free(struct onnx_tensor *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

/* Converts numel raw little-endian elements of ONNX type t into out. */
static void convert_raw(int t, const uint8_t *src, int64_t numel, void *out)
{
    float *f = out;
    int64_t *q = out;
    for (int64_t k = 0; k < numel; k++) {
        switch (t) {
        case ONNX_FLOAT: quanta_convert_to_f32(QUANTA_F32, src + 4 * k, &f[k], 1); break;
        case ONNX_DOUBLE: quanta_convert_to_f32(QUANTA_F64, src + 8 * k, &f[k], 1); break;
        case ONNX_FLOAT16: quanta_convert_to_f32(QUANTA_F16, src + 2 * k, &f[k], 1); break;
        case ONNX_BFLOAT16: quanta_convert_to_f32(QUANTA_BF16, src + 2 * k, &f[k], 1); break;
        case ONNX_UINT8: case ONNX_BOOL: q[k] = src[k]; break;
        case ONNX_INT8: q[k] = (int8_t)src[k]; break;
        case ONNX_UINT16: q[k] = (uint16_t)(src[2 * k] | src[2 * k + 1] << 8); break;
        case ONNX_INT16: q[k] = (int16_t)(uint16_t)(src[2 * k] | src[2 * k + 1] << 8); break;
        case ONNX_INT32: case ONNX_UINT32: {
            uint32_t u = 0;
            for (int b = 3; b >= 0; b--)
                u = u << 8 | src[4 * k + b];
            q[k] = t == ONNX_INT32 ? (int64_t)(int32_t)u : (int64_t)u;
            break;
        }
        case ONNX_INT64: case ONNX_UINT64: {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--)
                u = u << 8 | src[8 * k + b];
            q[k] = (int64_t)u;
            break;
        }
        default: break;
        }
    }
}

/* Does path (relative to dir) stay inside dir? Checked on the text (no
 * absolute path, no ".." component) and on the resolved file. */
static enum quanta_status external_path(const struct dec *d, const char *where,
                                        const char *location, char **out)
{
    if (!d->dir)
        return dec_fail(d, where, "external data '%s' cannot be read here", location);
    if (!location[0] || location[0] == '/')
        return dec_fail(d, where, "external data location '%s' must be a relative path",
                        location);
    for (const char *p = location; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return dec_fail(d, where, "external data location '%s' leaves the model's folder",
                            location);
        p += len + (slash != NULL);
    }
    size_t n = strlen(d->dir) + strlen(location) + 2;
    char *joined = malloc(n);
    if (!joined)
        return dec_nomem(d);
    snprintf(joined, n, "%s/%s", d->dir, location);
    char *real_dir = realpath(d->dir, NULL);
    char *real_file = realpath(joined, NULL);
    enum quanta_status st = QUANTA_OK;
    if (!real_dir || !real_file) {
        st = dec_fail(d, where, "external data '%s': %s", location, strerror(errno));
    } else {
        size_t k = strlen(real_dir);
        bool inside = strncmp(real_file, real_dir, k) == 0 &&
                      (real_file[k] == '/' || (k == 1 && real_dir[0] == '/'));
        if (!inside)
            st = dec_fail(d, where, "external data location '%s' resolves outside the "
                                    "model's folder",
                          location);
    }
    free(real_dir);
    free(real_file);
    if (st) {
        free(joined);
        return st;
    }
    *out = joined;
    return QUANTA_OK;
}

struct ext_data {
    char *location;
    int64_t offset, length;  /* length -1: not given */
};

static enum quanta_status parse_decimal(const struct dec *d, const char *where, const char *key,
                                        const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!text[0] || *end || errno || v < 0)
        return dec_fail(d, where, "external data %s '%s' is not a number >= 0", key, text);
    *out = v;
    return QUANTA_OK;
}

static enum quanta_status decode_ext_entry(const struct dec *d, const char *where,
                                           const struct pb_reader *parent,
                                           const struct pb_field *f, struct ext_data *ext)
{
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    char *key = NULL, *value = NULL;
    if ((st = dec_want_wire(d, where, f, PB_WIRE_LEN, "external_data")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number == 1)
            st = dec_string(d, where, &g, "external_data key", &key, NULL);
        else if (g.number == 2)
            st = dec_string(d, where, &g, "external_data value", &value, NULL);
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, where, res);
    if (!st && key && value) {
        if (strcmp(key, "location") == 0) {
            free(ext->location);
            ext->location = value;
            value = NULL;
        } else if (strcmp(key, "offset") == 0) {
            st = parse_decimal(d, where, key, value, &ext->offset);
        } else if (strcmp(key, "length") == 0) {
            st = parse_decimal(d, where, key, value, &ext->length);
        }
    }
    free(key);
    free(value);
    return st;
}

static enum quanta_status read_external(const struct dec *d, const char *where,
                                        const struct ext_data *ext, size_t need, uint8_t **out)
{
    char *path = NULL;
    enum quanta_status st;
    if (!ext->location)
        return dec_fail(d, where, "external data has no location");
    if (ext->length >= 0 && (uint64_t)ext->length != need)
        return dec_fail(d, where, "external data length %lld but the tensor needs %zu bytes",
                        (long long)ext->length, need);
    if ((st = external_path(d, where, ext->location, &path)))
        return st;
    FILE *fp = fopen(path, "rb");
    struct stat sb;
    uint8_t *buf = NULL;
    if (!fp || fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = dec_fail(d, where, "external data '%s' cannot be read", ext->location);
        goto done;
    }
    if ((uint64_t)ext->offset > (uint64_t)sb.st_size ||
        need > (uint64_t)sb.st_size - (uint64_t)ext->offset) {
        st = dec_fail(d, where, "external data '%s': offset %lld + %zu bytes is beyond its "
                                "size %lld",
                      ext->location, (long long)ext->offset, need, (long long)sb.st_size);
        goto done;
    }
    buf = malloc(need ? need : 1);
    if (!buf) {
        st = dec_nomem(d);
        goto done;
    }
    if (fseeko(fp, (off_t)ext->offset, SEEK_SET) != 0 || fread(buf, 1, need, fp) != need) {
        st = dec_fail(d, where, "external data '%s' cannot be read", ext->location);
        goto done;
    }
    *out = buf;
    buf = NULL;
done:
    if (fp)
        fclose(fp);
    free(buf);
    free(path);
    return st;
}

enum quanta_status dec_tensor(const struct dec *d, const char *where_in,
                              const struct pb_reader *parent, const struct pb_field *f,
                              struct onnx_tensor *t)
{
    char where[DEC_WHERE_MAX];
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    struct vec_i64 dims = {0}, ints = {0};
    struct vec_f64 reals = {0};
    const uint8_t *raw = NULL;
    size_t raw_size = 0;
    bool has_raw = false;
    int64_t location = 0;
    struct ext_data ext = {NULL, 0, -1};
    uint8_t *ext_bytes = NULL;
    int typed_field = 0;        /* field number of the typed data seen, 0 none */

    memset(t, 0, sizeof *t);
    snprintf(where, sizeof where, "%.300s", where_in);
    if ((st = dec_want_wire(d, where, f, PB_WIRE_LEN, "tensor")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        switch (g.number) {
        case 1: st = dec_varints(d, where, &g, "dims", &dims); break;
        case 2: st = dec_int32(d, where, &g, "data_type", &t->data_type); break;
        case 4: st = dec_fixed(d, where, &g, "float_data", 4, &reals); typed_field = 4; break;
        case 5: st = dec_varints(d, where, &g, "int32_data", &ints); typed_field = 5; break;
        case 7: st = dec_varints(d, where, &g, "int64_data", &ints); typed_field = 7; break;
        case 8:
            st = dec_string(d, where, &g, "name", &t->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "%.200s '%.200s'", where_in, t->name);
            break;
        case 9:
            if (!(st = dec_want_wire(d, where, &g, PB_WIRE_LEN, "raw_data"))) {
                raw = g.data;
                raw_size = g.size;
                has_raw = true;
            }
            break;
        case 10: st = dec_fixed(d, where, &g, "double_data", 8, &reals); typed_field = 10; break;
        case 11: st = dec_varints(d, where, &g, "uint64_data", &ints); typed_field = 11; break;
        case 13: st = decode_ext_entry(d, where, &r, &g, &ext); break;
        case 14: st = dec_varint(d, where, &g, "data_location", &location); break;
        case 3: st = dec_fail(d, where, "segmented tensors are not supported"); break;
        default: break;
        }
    }
    if (st)
        goto done;
    if (res != PB_END) {
        st = dec_wire_fail(d, where, res);
        goto done;
    }
    if (!t->name && !(t->name = strdup(""))) {
        st = dec_nomem(d);
        goto done;
    }
    if (dims.n > QUANTA_MAX_RANK) {
        st = dec_fail(d, where, "has %zu dims but at most %d are supported", dims.n,
                      QUANTA_MAX_RANK);
        goto done;
    }
    t->shape.rank = (int)dims.n;
    for (size_t i = 0; i < dims.n; i++) {
        if (dims.v[i] < 0) {
            st = dec_fail(d, where, "dim %zu is %lld", i, (long long)dims.v[i]);
            goto done;
        }
        t->shape.dims[i] = dims.v[i];
    }
    t->numel = quanta_shape_numel(&t->shape);
    size_t width = raw_width(t->data_type);
    if (t->numel < 0 || (uint64_t)t->numel > SIZE_MAX / 8) {
        st = dec_fail(d, where, "element count overflows");
        goto done;
    }
    if (width == 0) {
        st = dec_fail(d, where, "data type %s (%d) is not supported",
                      onnx_data_type_name(t->data_type), t->data_type);
        goto done;
    }
    t->dtype = is_float_type(t->data_type) ? QUANTA_F32 : QUANTA_I64;
    size_t need = (size_t)t->numel * width;
    if (location == 1) {
        if ((st = read_external(d, where, &ext, need, &ext_bytes)))
            goto done;
        raw = ext_bytes;
        raw_size = need;
        has_raw = true;
    } else if (location != 0) {
        st = dec_fail(d, where, "data_location %lld is not 0 (default) or 1 (external)",
                      (long long)location);
        goto done;
    }
    /* The element count comes from dims alone: check that the file holds
     * that many values before allocating for them. */
    size_t out_size = (size_t)t->numel * (t->dtype == QUANTA_F32 ? 4 : 8);
    if (has_raw) {
        if (raw_size != need) {
            st = dec_fail(d, where, "raw_data has %zu bytes but %s %lld elements need %zu",
                          raw_size, onnx_data_type_name(t->data_type), (long long)t->numel,
                          need);
            goto done;
        }
        if (!(t->data = alloc_tensor_data(out_size))) {
            st = dec_nomem(d);
            goto done;
        }
        convert_raw(t->data_type, raw, t->numel, t->data);
        goto done;
    }
    /* Typed fields: float_data for FLOAT; int32_data for the small integer
     * types, BOOL and (as bit patterns) FLOAT16/BFLOAT16; int64_data for
     * INT64; double_data for DOUBLE; uint64_data for UINT32/UINT64. */
    int expect;
    switch (t->data_type) {
    case ONNX_FLOAT: expect = 4; break;
    case ONNX_DOUBLE: expect = 10; break;
    case ONNX_INT64: expect = 7; break;
    case ONNX_UINT32: case ONNX_UINT64: expect = 11; break;
    default: expect = 5; break;
    }
    size_t have = expect == 4 || expect == 10 ? reals.n : ints.n;
    if ((typed_field && typed_field != expect) || have != (size_t)t->numel) {
        st = dec_fail(d, where, "holds %zu values but %s %lld elements are needed "
                                "(in raw_data or the typed field %d)",
                      typed_field == expect ? have : 0, onnx_data_type_name(t->data_type),
                      (long long)t->numel, expect);
        goto done;
    }
    if (!(t->data = alloc_tensor_data(out_size))) {
        st = dec_nomem(d);
        goto done;
    }
    for (int64_t k = 0; k < t->numel; k++) {
        if (t->dtype == QUANTA_F32) {
            float *out = t->data;
            if (t->data_type == ONNX_FLOAT16 || t->data_type == ONNX_BFLOAT16) {
                uint16_t bits = (uint16_t)ints.v[k];
                out[k] = t->data_type == ONNX_FLOAT16 ? quanta_f16_to_f32(bits)
                                                      : quanta_bf16_to_f32(bits);
            } else {
                out[k] = (float)reals.v[k];
            }
        } else {
            ((int64_t *)t->data)[k] = ints.v[k];
        }
    }
done:
    free(dims.v);
    free(ints.v);
    free(reals.v);
    free(ext.location);
    free(ext_bytes);
    if (st)
        dec_tensor_free(t);
    return st;
}

enum quanta_status onnx_tensor_decode(struct onnx_tensor *t, const void *bytes, size_t size,
                                      const char *source, struct quanta_error *err)
{
    struct dec d = {source ? source : "tensor", NULL, err, 0};
    struct pb_reader top;
    pb_reader_init(&top, bytes, size);
    /* dec_tensor reads the payload of a LEN field: the whole buffer */
    struct pb_field f = {.number = 1, .wire = PB_WIRE_LEN, .data = top.pos, .size = size};
    return dec_tensor(&d, "tensor", &top, &f, t);
}

enum quanta_status onnx_tensor_load(struct onnx_tensor *t, const char *path,
                                    struct quanta_error *err)
{
    memset(t, 0, sizeof *t);
    uint8_t *buf;
    size_t size;
    enum quanta_status st = dec_read_file(path, &buf, &size, err);
    if (st)
        return st;
    st = onnx_tensor_decode(t, buf, size, path, err);
    free(buf);
    return st;
}

void onnx_tensor_free(struct onnx_tensor *t)
{
    dec_tensor_free(t);
}
