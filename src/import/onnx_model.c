/* Decoding an ONNX file into struct onnx_model (see onnx_model.h for the
 * fields read). Every length, count and size is checked against the bytes
 * that hold it; tensor payloads are checked against dims and data_type. */
#include "import/onnx_model.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/protobuf_wire.h"

#define WHERE_MAX 512

/* What every decoder needs: where the bytes came from, for messages. */
struct dec {
    const char *source;
    const char *dir;
    struct quanta_error *err;
    int depth;                  /* of graphs within node attributes */
};

/* Subgraphs (Loop, If, Scan bodies) deeper than this are refused. */
#define ONNX_MAX_GRAPH_DEPTH 8

static void graph_free_onnx(struct onnx_graph *g);
static enum quanta_status decode_graph(const struct dec *d, const struct pb_reader *parent,
                                       const struct pb_field *f, struct onnx_graph *g);

static enum quanta_status dec_fail(const struct dec *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum quanta_status dec_fail(const struct dec *d, const char *where, const char *fmt, ...)
{
    char msg[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return quanta_fail(d->err, QUANTA_ERR_INPUT, "%s: %s: %s", d->source, where, msg);
}

static enum quanta_status wire_fail(const struct dec *d, const char *where, enum pb_result r)
{
    return dec_fail(d, where, "%s", pb_result_string(r));
}

static enum quanta_status nomem(const struct dec *d)
{
    return quanta_fail(d->err, QUANTA_ERR_NOMEM, "%s: out of memory", d->source);
}

static enum quanta_status want_wire(const struct dec *d, const char *where,
                                    const struct pb_field *f, enum pb_wire wire,
                                    const char *field_name)
{
    if (f->wire == wire)
        return QUANTA_OK;
    return dec_fail(d, where, "field %u (%s) has wire type %d but %d is expected", f->number,
                    field_name, (int)f->wire, (int)wire);
}

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

/* ---- growable arrays ---------------------------------------------------- */

static bool grow(void **array, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return true;
    if (n >= INT_MAX / 2)
        return false;
    int c = *cap ? *cap * 2 : 4;
    void *p = realloc(*array, (size_t)c * elem);
    if (!p)
        return false;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
    *array = p;
    *cap = c;
    return true;
}

struct vec_i64 {
    int64_t *v;
    size_t n, cap;
};

struct vec_f64 {
    double *v;
    size_t n, cap;
};

static bool vec_i64_reserve(struct vec_i64 *a, size_t more)
{
    if (more > SIZE_MAX / 16 - a->n)
        return false;
    if (a->n + more <= a->cap)
        return true;
    size_t c = a->cap ? a->cap : 8;
    while (c < a->n + more)
        c *= 2;
    int64_t *p = realloc(a->v, c * sizeof *p);
    if (!p)
        return false;
    a->v = p;
    a->cap = c;
    return true;
}

static bool vec_f64_push(struct vec_f64 *a, double x)
{
    if (a->n == a->cap) {
        if (a->cap > SIZE_MAX / 32)
            return false;
        size_t c = a->cap ? a->cap * 2 : 8;
        double *p = realloc(a->v, c * sizeof *p);
        if (!p)
            return false;
        a->v = p;
        a->cap = c;
    }
    a->v[a->n++] = x;
    return true;
}

/* ---- scalar and repeated fields ---------------------------------------- */

bool onnx_text_valid(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || n - i < len)
            return false;
        uint32_t cp = c & (0x7fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* A string field: a NUL-terminated copy (a NUL inside is refused). */
static enum quanta_status get_string(const struct dec *d, const char *where,
                                     const struct pb_field *f, const char *field_name, char **out,
                                     size_t *size_out)
{
    enum quanta_status st = want_wire(d, where, f, PB_WIRE_LEN, field_name);
    if (st)
        return st;
    bool bytes = size_out != NULL;
    if (!bytes && !onnx_text_valid((const char *)f->data, f->size))
        return dec_fail(d, where, "%s is not UTF-8 text without control characters",
                        field_name);
    char *s = malloc(f->size + 1);
    if (!s)
        return nomem(d);
    if (f->size)
        memcpy(s, f->data, f->size);
    s[f->size] = '\0';
    free(*out);
    *out = s;
    if (size_out)
        *size_out = f->size;
    return QUANTA_OK;
}

static enum quanta_status get_varint(const struct dec *d, const char *where,
                                     const struct pb_field *f, const char *field_name,
                                     int64_t *out)
{
    enum quanta_status st = want_wire(d, where, f, PB_WIRE_VARINT, field_name);
    if (!st)
        *out = (int64_t)f->value;
    return st;
}

/* An int32 field (data_type, type, elem_type): a varint that fits. */
static enum quanta_status get_int32(const struct dec *d, const char *where,
                                    const struct pb_field *f, const char *field_name, int *out)
{
    int64_t v;
    enum quanta_status st = get_varint(d, where, f, field_name, &v);
    if (st)
        return st;
    if (v < INT32_MIN || v > INT32_MAX)
        return dec_fail(d, where, "%s %lld does not fit in 32 bits", field_name, (long long)v);
    *out = (int)v;
    return QUANTA_OK;
}

/* Repeated varints, packed (LEN) or not (VARINT); int32 fields are
 * sign-extended by the encoder to 64 bits, so both read the same. */
static enum quanta_status add_varints(const struct dec *d, const char *where,
                                      const struct pb_field *f, const char *field_name,
                                      struct vec_i64 *out)
{
    if (f->wire == PB_WIRE_VARINT) {
        if (!vec_i64_reserve(out, 1))
            return nomem(d);
        out->v[out->n++] = (int64_t)f->value;
        return QUANTA_OK;
    }
    enum quanta_status st = want_wire(d, where, f, PB_WIRE_LEN, field_name);
    if (st)
        return st;
    size_t n;
    enum pb_result r = pb_packed_varint_count(f->data, f->size, &n);
    if (r != PB_OK)
        return dec_fail(d, where, "%s: %s", field_name, pb_result_string(r));
    if (n == 0)
        return QUANTA_OK;
    if (!vec_i64_reserve(out, n))
        return nomem(d);
    pb_packed_varints(f->data, f->size, out->v + out->n, n);
    out->n += n;
    return QUANTA_OK;
}

/* Repeated float (width 4) or double (width 8), packed or not. */
static enum quanta_status add_fixed(const struct dec *d, const char *where,
                                    const struct pb_field *f, const char *field_name,
                                    size_t width, struct vec_f64 *out)
{
    enum pb_wire single = width == 4 ? PB_WIRE_I32 : PB_WIRE_I64;
    if (f->wire == single) {
        double x = width == 4 ? (double)pb_field_float(f) : pb_field_double(f);
        return vec_f64_push(out, x) ? QUANTA_OK : nomem(d);
    }
    enum quanta_status st = want_wire(d, where, f, PB_WIRE_LEN, field_name);
    if (st)
        return st;
    size_t n;
    if (pb_packed_fixed_count(f->data, f->size, width, &n) != PB_OK)
        return dec_fail(d, where, "%s: %zu bytes is not a whole number of %zu-byte values",
                        field_name, f->size, width);
    for (size_t i = 0; i < n; i++) {
        double x;
        if (width == 4) {
            float v;
            memcpy(&v, f->data + 4 * i, 4);
            x = v;
        } else {
            memcpy(&x, f->data + 8 * i, 8);
        }
        if (!vec_f64_push(out, x))
            return nomem(d);
    }
    return QUANTA_OK;
}

/* ---- tensors ------------------------------------------------------------ */

/* At least one byte, so that an empty tensor has non-NULL data too. */
static void *alloc_tensor_data(size_t size)
{
    return malloc(size ? size : 1);
}

static void tensor_free(struct onnx_tensor *t)
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
        return nomem(d);
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
    if ((st = want_wire(d, where, f, PB_WIRE_LEN, "external_data")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number == 1)
            st = get_string(d, where, &g, "external_data key", &key, NULL);
        else if (g.number == 2)
            st = get_string(d, where, &g, "external_data value", &value, NULL);
    }
    if (!st && res != PB_END)
        st = wire_fail(d, where, res);
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
        st = nomem(d);
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

static enum quanta_status decode_tensor(const struct dec *d, const char *where_in,
                                        const struct pb_reader *parent, const struct pb_field *f,
                                        struct onnx_tensor *t)
{
    char where[WHERE_MAX];
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
    if ((st = want_wire(d, where, f, PB_WIRE_LEN, "tensor")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        switch (g.number) {
        case 1: st = add_varints(d, where, &g, "dims", &dims); break;
        case 2: st = get_int32(d, where, &g, "data_type", &t->data_type); break;
        case 4: st = add_fixed(d, where, &g, "float_data", 4, &reals); typed_field = 4; break;
        case 5: st = add_varints(d, where, &g, "int32_data", &ints); typed_field = 5; break;
        case 7: st = add_varints(d, where, &g, "int64_data", &ints); typed_field = 7; break;
        case 8:
            st = get_string(d, where, &g, "name", &t->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "%.200s '%.200s'", where_in, t->name);
            break;
        case 9:
            if (!(st = want_wire(d, where, &g, PB_WIRE_LEN, "raw_data"))) {
                raw = g.data;
                raw_size = g.size;
                has_raw = true;
            }
            break;
        case 10: st = add_fixed(d, where, &g, "double_data", 8, &reals); typed_field = 10; break;
        case 11: st = add_varints(d, where, &g, "uint64_data", &ints); typed_field = 11; break;
        case 13: st = decode_ext_entry(d, where, &r, &g, &ext); break;
        case 14: st = get_varint(d, where, &g, "data_location", &location); break;
        case 3: st = dec_fail(d, where, "segmented tensors are not supported"); break;
        default: break;
        }
    }
    if (st)
        goto done;
    if (res != PB_END) {
        st = wire_fail(d, where, res);
        goto done;
    }
    if (!t->name && !(t->name = strdup(""))) {
        st = nomem(d);
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
            st = nomem(d);
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
        st = nomem(d);
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
        tensor_free(t);
    return st;
}

/* ---- attributes, nodes, value infos ------------------------------------ */

static void attr_free(struct onnx_attr *a)
{
    free(a->name);
    free(a->s);
    if (a->t) {
        tensor_free(a->t);
        free(a->t);
    }
    free(a->floats);
    free(a->ints);
    if (a->g) {
        graph_free_onnx(a->g);
        free(a->g);
    }
}

static enum quanta_status decode_attr(const struct dec *d, const char *where_in,
                                      const struct pb_reader *parent, const struct pb_field *f,
                                      struct onnx_attr *a)
{
    char where[WHERE_MAX];
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    struct vec_i64 ints = {0};
    struct vec_f64 floats = {0};

    snprintf(where, sizeof where, "%.200s attribute", where_in);
    if ((st = want_wire(d, where, f, PB_WIRE_LEN, "attribute")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        switch (g.number) {
        case 1:
            st = get_string(d, where, &g, "name", &a->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "%.200s attribute '%.200s'", where_in, a->name);
            break;
        case 2:
            if (!(st = want_wire(d, where, &g, PB_WIRE_I32, "f")))
                a->f = pb_field_float(&g);
            break;
        case 3: st = get_varint(d, where, &g, "i", &a->i); break;
        case 4: st = get_string(d, where, &g, "s", &a->s, &a->s_size); break;
        case 5:
            if (a->t) {
                st = dec_fail(d, where, "has two tensors");
                break;
            }
            if (!(a->t = calloc(1, sizeof *a->t))) {
                st = nomem(d);
                break;
            }
            st = decode_tensor(d, where, &r, &g, a->t);
            break;
        case 6: {
            struct dec sub = *d;
            if (a->g) {
                st = dec_fail(d, where, "has two graphs");
                break;
            }
            if (++sub.depth > ONNX_MAX_GRAPH_DEPTH) {
                st = dec_fail(d, where, "nests graphs more than %d deep", ONNX_MAX_GRAPH_DEPTH);
                break;
            }
            if (!(a->g = calloc(1, sizeof *a->g))) {
                st = nomem(d);
                break;
            }
            st = decode_graph(&sub, &r, &g, a->g);
            break;
        }
        case 7: st = add_fixed(d, where, &g, "floats", 4, &floats); break;
        case 8: st = add_varints(d, where, &g, "ints", &ints); break;
        case 20: st = get_int32(d, where, &g, "type", &a->type); break;
        default: break; /* graphs, strings, ...: the type tells what is there */
        }
    }
    if (!st && res != PB_END)
        st = wire_fail(d, where, res);
    if (!st && !a->name)
        st = dec_fail(d, where, "has no name");
    if (!st && (ints.n > INT_MAX || floats.n > INT_MAX))
        st = dec_fail(d, where, "has too many values");
    if (!st && ints.n) {
        a->ints = ints.v;
        a->n_ints = (int)ints.n;
        ints.v = NULL;
    }
    if (!st && floats.n) {
        a->floats = malloc(floats.n * sizeof *a->floats);
        if (!a->floats)
            st = nomem(d);
        for (size_t i = 0; !st && i < floats.n; i++)
            a->floats[i] = (float)floats.v[i];
        a->n_floats = (int)floats.n;
    }
    free(ints.v);
    free(floats.v);
    return st;
}

static void node_free(struct onnx_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    for (int i = 0; i < n->n_inputs; i++)
        free(n->inputs[i]);
    for (int i = 0; i < n->n_outputs; i++)
        free(n->outputs[i]);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        attr_free(&n->attrs[i]);
    free(n->attrs);
}

static enum quanta_status push_string(const struct dec *d, const char *where,
                                      const struct pb_field *f, const char *field_name,
                                      char ***list, int *n, int *cap)
{
    if (!grow((void **)list, cap, *n, sizeof **list))
        return nomem(d);
    enum quanta_status st = get_string(d, where, f, field_name, &(*list)[*n], NULL);
    if (!st)
        (*n)++;
    return st;
}

static enum quanta_status decode_node(const struct dec *d, int index,
                                      const struct pb_reader *parent, const struct pb_field *f,
                                      struct onnx_node *n)
{
    char where[WHERE_MAX];
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    int cap_in = 0, cap_out = 0, cap_attr = 0;

    snprintf(where, sizeof where, "node %d", index);
    if ((st = want_wire(d, where, f, PB_WIRE_LEN, "node")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        switch (g.number) {
        case 1: st = push_string(d, where, &g, "input", &n->inputs, &n->n_inputs, &cap_in); break;
        case 2:
            st = push_string(d, where, &g, "output", &n->outputs, &n->n_outputs, &cap_out);
            break;
        case 3:
            st = get_string(d, where, &g, "name", &n->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "node %d '%.200s'", index, n->name);
            break;
        case 4: st = get_string(d, where, &g, "op_type", &n->op_type, NULL); break;
        case 5:
            if (!grow((void **)&n->attrs, &cap_attr, n->n_attrs, sizeof *n->attrs)) {
                st = nomem(d);
                break;
            }
            st = decode_attr(d, where, &r, &g, &n->attrs[n->n_attrs]);
            n->n_attrs++; /* freed with the node even when half decoded */
            break;
        case 7: st = get_string(d, where, &g, "domain", &n->domain, NULL); break;
        default: break;
        }
    }
    if (!st && res != PB_END)
        st = wire_fail(d, where, res);
    if (!st && (!n->op_type || !n->op_type[0]))
        st = dec_fail(d, where, "has no op_type");
    if (!st && !n->name && !(n->name = strdup("")))
        st = nomem(d);
    if (!st && !n->domain && !(n->domain = strdup("")))
        st = nomem(d);
    return st;
}

static void value_info_free(struct onnx_value_info *v)
{
    free(v->name);
    free(v->dim0_param);
}

/* TypeProto -> tensor_type -> elem_type, shape -> dim -> value/param. */
static enum quanta_status decode_shape(const struct dec *d, const char *where,
                                       const struct pb_reader *parent, const struct pb_field *f,
                                       struct onnx_value_info *v)
{
    struct pb_reader r, rd;
    struct pb_field g, h;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    if ((st = want_wire(d, where, f, PB_WIRE_LEN, "shape")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, where, res);
    v->has_shape = true;
    v->rank = 0;
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number != 1)
            continue;
        if ((st = want_wire(d, where, &g, PB_WIRE_LEN, "dim")))
            break;
        if ((res = pb_enter(&r, &g, &rd)) != PB_OK)
            break;
        int64_t dim = -1;
        char *param = NULL;
        while (!st && (res = pb_next(&rd, &h)) == PB_OK) {
            if (h.number == 1)
                st = get_varint(d, where, &h, "dim_value", &dim);
            else if (h.number == 2)
                st = get_string(d, where, &h, "dim_param", &param, NULL);
        }
        if (!st && res != PB_END)
            st = wire_fail(d, where, res);
        if (!st && v->rank == 0 && param) {
            v->dim0_param = param;
            param = NULL;
        }
        free(param);
        if (st)
            break;
        res = PB_OK;
        if (v->rank < QUANTA_MAX_RANK)
            v->dims[v->rank] = dim < 0 ? -1 : dim;
        if (v->rank < INT_MAX)
            v->rank++;
    }
    if (!st && res != PB_END)
        st = wire_fail(d, where, res);
    return st;
}

static enum quanta_status decode_type(const struct dec *d, const char *where,
                                      const struct pb_reader *parent, const struct pb_field *f,
                                      struct onnx_value_info *v)
{
    struct pb_reader r, rt;
    struct pb_field g, h;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    if ((st = want_wire(d, where, f, PB_WIRE_LEN, "type")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number != 1)
            continue; /* sequence, map, ...: elem_type stays 0 */
        if ((st = want_wire(d, where, &g, PB_WIRE_LEN, "tensor_type")))
            break;
        if ((res = pb_enter(&r, &g, &rt)) != PB_OK)
            break;
        while (!st && (res = pb_next(&rt, &h)) == PB_OK) {
            if (h.number == 1)
                st = get_int32(d, where, &h, "elem_type", &v->elem_type);
            else if (h.number == 2)
                st = decode_shape(d, where, &rt, &h, v);
        }
        if (!st && res != PB_END)
            st = wire_fail(d, where, res);
        if (st)
            break;
        res = PB_OK;
    }
    if (!st && res != PB_END)
        st = wire_fail(d, where, res);
    return st;
}

static enum quanta_status decode_value_info(const struct dec *d, const char *what, int index,
                                            const struct pb_reader *parent,
                                            const struct pb_field *f, struct onnx_value_info *v)
{
    char where[WHERE_MAX];
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    snprintf(where, sizeof where, "%s %d", what, index);
    if ((st = want_wire(d, where, f, PB_WIRE_LEN, what)))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number == 1) {
            st = get_string(d, where, &g, "name", &v->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "%s '%.200s'", what, v->name);
        } else if (g.number == 2) {
            st = decode_type(d, where, &r, &g, v);
        }
    }
    if (!st && res != PB_END)
        st = wire_fail(d, where, res);
    if (!st && (!v->name || !v->name[0]))
        st = dec_fail(d, where, "has no name");
    return st;
}

/* ---- graph and model ---------------------------------------------------- */

static void graph_free_onnx(struct onnx_graph *g)
{
    free(g->name);
    for (int i = 0; i < g->n_nodes; i++)
        node_free(&g->nodes[i]);
    for (int i = 0; i < g->n_initializers; i++)
        tensor_free(&g->initializers[i]);
    for (int i = 0; i < g->n_inputs; i++)
        value_info_free(&g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++)
        value_info_free(&g->outputs[i]);
    for (int i = 0; i < g->n_value_info; i++)
        value_info_free(&g->value_info[i]);
    free(g->nodes);
    free(g->initializers);
    free(g->inputs);
    free(g->outputs);
    free(g->value_info);
    memset(g, 0, sizeof *g);
}

static enum quanta_status decode_graph(const struct dec *d, const struct pb_reader *parent,
                                       const struct pb_field *f, struct onnx_graph *g)
{
    struct pb_reader r;
    struct pb_field h;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    int cap_nodes = 0, cap_init = 0, cap_in = 0, cap_out = 0, cap_vi = 0;
    char where[WHERE_MAX];

    if ((st = want_wire(d, "graph", f, PB_WIRE_LEN, "graph")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, "graph", res);
    while (!st && (res = pb_next(&r, &h)) == PB_OK) {
        switch (h.number) {
        case 1:
            if (!grow((void **)&g->nodes, &cap_nodes, g->n_nodes, sizeof *g->nodes)) {
                st = nomem(d);
                break;
            }
            st = decode_node(d, g->n_nodes, &r, &h, &g->nodes[g->n_nodes]);
            g->n_nodes++;
            break;
        case 2: st = get_string(d, "graph", &h, "name", &g->name, NULL); break;
        case 5:
            if (!grow((void **)&g->initializers, &cap_init, g->n_initializers,
                      sizeof *g->initializers)) {
                st = nomem(d);
                break;
            }
            snprintf(where, sizeof where, "initializer %d", g->n_initializers);
            st = decode_tensor(d, where, &r, &h, &g->initializers[g->n_initializers]);
            if (!st)
                g->n_initializers++;
            break;
        case 11:
            if (!grow((void **)&g->inputs, &cap_in, g->n_inputs, sizeof *g->inputs)) {
                st = nomem(d);
                break;
            }
            st = decode_value_info(d, "input", g->n_inputs, &r, &h, &g->inputs[g->n_inputs]);
            g->n_inputs++;
            break;
        case 12:
            if (!grow((void **)&g->outputs, &cap_out, g->n_outputs, sizeof *g->outputs)) {
                st = nomem(d);
                break;
            }
            st = decode_value_info(d, "output", g->n_outputs, &r, &h,
                                   &g->outputs[g->n_outputs]);
            g->n_outputs++;
            break;
        case 13:
            if (!grow((void **)&g->value_info, &cap_vi, g->n_value_info,
                      sizeof *g->value_info)) {
                st = nomem(d);
                break;
            }
            st = decode_value_info(d, "value_info", g->n_value_info, &r, &h,
                                   &g->value_info[g->n_value_info]);
            g->n_value_info++;
            break;
        case 15:
            st = dec_fail(d, "graph", "sparse initializers are not supported");
            break;
        default: break;
        }
    }
    if (!st && res != PB_END)
        st = wire_fail(d, "graph", res);
    if (!st && !g->name && !(g->name = strdup("")))
        st = nomem(d);
    return st;
}

static enum quanta_status decode_opset(const struct dec *d, const struct pb_reader *parent,
                                       const struct pb_field *f, struct onnx_model *m)
{
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    char *domain = NULL;
    int64_t version = 0;
    if ((st = want_wire(d, "opset_import", f, PB_WIRE_LEN, "opset_import")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return wire_fail(d, "opset_import", res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number == 1)
            st = get_string(d, "opset_import", &g, "domain", &domain, NULL);
        else if (g.number == 2)
            st = get_varint(d, "opset_import", &g, "version", &version);
    }
    if (!st && res != PB_END)
        st = wire_fail(d, "opset_import", res);
    if (!st && (!domain || !domain[0] || strcmp(domain, "ai.onnx") == 0))
        m->opset = version;
    free(domain);
    return st;
}

enum quanta_status onnx_model_decode(struct onnx_model *m, const void *bytes, size_t size,
                                     const char *source, const char *dir,
                                     struct quanta_error *err)
{
    struct dec d = {source ? source : "model", dir, err, 0};
    struct pb_reader r;
    struct pb_field f;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;

    memset(m, 0, sizeof *m);
    pb_reader_init(&r, bytes, size);
    while (!st && (res = pb_next(&r, &f)) == PB_OK) {
        switch (f.number) {
        case 1: st = get_varint(&d, "model", &f, "ir_version", &m->ir_version); break;
        case 2: st = get_string(&d, "model", &f, "producer_name", &m->producer_name, NULL); break;
        case 3:
            st = get_string(&d, "model", &f, "producer_version", &m->producer_version, NULL);
            break;
        case 7:
            if (m->has_graph) {
                st = dec_fail(&d, "model", "has two graphs");
                break;
            }
            m->has_graph = true;
            st = decode_graph(&d, &r, &f, &m->graph);
            break;
        case 8: st = decode_opset(&d, &r, &f, m); break;
        default: break;
        }
    }
    if (!st && res != PB_END)
        st = wire_fail(&d, "model", res);
    if (!st && !m->has_graph)
        st = dec_fail(&d, "model", "has no graph (not an ONNX model?)");
    if (st)
        onnx_model_free(m);
    return st;
}

/* All of the regular file path (at most ONNX_MAX_FILE_SIZE bytes). */
static enum quanta_status read_whole(const char *path, uint8_t **out, size_t *out_size,
                                     struct quanta_error *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    uint8_t *buf = NULL;
    enum quanta_status st = QUANTA_OK;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: not a regular file", path);
        goto done;
    }
    if ((uint64_t)sb.st_size > ONNX_MAX_FILE_SIZE) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: %lld bytes is beyond the 2 GiB limit of "
                                                "protobuf files",
                         path, (long long)sb.st_size);
        goto done;
    }
    size_t size = (size_t)sb.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(buf, 1, size, fp) != size) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: read error", path);
        goto done;
    }
    *out = buf;
    *out_size = size;
    buf = NULL;
done:
    fclose(fp);
    free(buf);
    return st;
}

enum quanta_status onnx_model_load(struct onnx_model *m, const char *path,
                                   struct quanta_error *err)
{
    memset(m, 0, sizeof *m);
    uint8_t *buf;
    size_t size;
    enum quanta_status st = read_whole(path, &buf, &size, err);
    if (st)
        return st;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!dir)
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    else
        st = onnx_model_decode(m, buf, size, path, dir, err);
    free(buf);
    free(dir);
    return st;
}

enum quanta_status onnx_tensor_decode(struct onnx_tensor *t, const void *bytes, size_t size,
                                      const char *source, struct quanta_error *err)
{
    struct dec d = {source ? source : "tensor", NULL, err, 0};
    struct pb_reader top;
    pb_reader_init(&top, bytes, size);
    /* decode_tensor reads the payload of a LEN field: the whole buffer */
    struct pb_field f = {.number = 1, .wire = PB_WIRE_LEN, .data = top.pos, .size = size};
    return decode_tensor(&d, "tensor", &top, &f, t);
}

enum quanta_status onnx_tensor_load(struct onnx_tensor *t, const char *path,
                                    struct quanta_error *err)
{
    memset(t, 0, sizeof *t);
    uint8_t *buf;
    size_t size;
    enum quanta_status st = read_whole(path, &buf, &size, err);
    if (st)
        return st;
    st = onnx_tensor_decode(t, buf, size, path, err);
    free(buf);
    return st;
}

void onnx_tensor_free(struct onnx_tensor *t)
{
    tensor_free(t);
}

void onnx_model_free(struct onnx_model *m)
{
    if (!m)
        return;
    free(m->producer_name);
    free(m->producer_version);
    graph_free_onnx(&m->graph);
    memset(m, 0, sizeof *m);
}

const struct onnx_attr *onnx_node_attr(const struct onnx_node *node, const char *name)
{
    for (int i = 0; i < node->n_attrs; i++)
        if (node->attrs[i].name && strcmp(node->attrs[i].name, name) == 0)
            return &node->attrs[i];
    return NULL;
}
