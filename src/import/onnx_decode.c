/* What the ONNX decoders share (onnx_decode.h): messages naming the
 * field that is wrong, checked reads of scalar and repeated protobuf
 * fields, and reading a whole file. */
#include "import/onnx_decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum quanta_status dec_fail(const struct dec *d, const char *where, const char *fmt, ...)
{
    char msg[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return quanta_fail(d->err, QUANTA_ERR_INPUT, "%s: %s: %s", d->source, where, msg);
}

enum quanta_status dec_wire_fail(const struct dec *d, const char *where, enum pb_result r)
{
    return dec_fail(d, where, "%s", pb_result_string(r));
}

enum quanta_status dec_nomem(const struct dec *d)
{
    return quanta_fail(d->err, QUANTA_ERR_NOMEM, "%s: out of memory", d->source);
}

enum quanta_status dec_want_wire(const struct dec *d, const char *where,
                                 const struct pb_field *f, enum pb_wire wire,
                                 const char *field_name)
{
    if (f->wire == wire)
        return QUANTA_OK;
    return dec_fail(d, where, "field %u (%s) has wire type %d but %d is expected", f->number,
                    field_name, (int)f->wire, (int)wire);
}

/* ---- growable arrays ---------------------------------------------------- */

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

enum quanta_status dec_string(const struct dec *d, const char *where,
                              const struct pb_field *f, const char *field_name, char **out,
                              size_t *size_out)
{
    enum quanta_status st = dec_want_wire(d, where, f, PB_WIRE_LEN, field_name);
    if (st)
        return st;
    bool bytes = size_out != NULL;
    if (!bytes && !onnx_text_valid((const char *)f->data, f->size))
        return dec_fail(d, where, "%s is not UTF-8 text without control characters",
                        field_name);
    char *s = malloc(f->size + 1);
    if (!s)
        return dec_nomem(d);
    if (f->size)
        memcpy(s, f->data, f->size);
    s[f->size] = '\0';
    free(*out);
    *out = s;
    if (size_out)
        *size_out = f->size;
    return QUANTA_OK;
}

enum quanta_status dec_varint(const struct dec *d, const char *where,
                              const struct pb_field *f, const char *field_name,
                              int64_t *out)
{
    enum quanta_status st = dec_want_wire(d, where, f, PB_WIRE_VARINT, field_name);
    if (!st)
        *out = (int64_t)f->value;
    return st;
}

enum quanta_status dec_int32(const struct dec *d, const char *where,
                             const struct pb_field *f, const char *field_name, int *out)
{
    int64_t v;
    enum quanta_status st = dec_varint(d, where, f, field_name, &v);
    if (st)
        return st;
    if (v < INT32_MIN || v > INT32_MAX)
        return dec_fail(d, where, "%s %lld does not fit in 32 bits", field_name, (long long)v);
    *out = (int)v;
    return QUANTA_OK;
}

enum quanta_status dec_varints(const struct dec *d, const char *where,
                               const struct pb_field *f, const char *field_name,
                               struct vec_i64 *out)
{
    if (f->wire == PB_WIRE_VARINT) {
        if (!vec_i64_reserve(out, 1))
            return dec_nomem(d);
        out->v[out->n++] = (int64_t)f->value;
        return QUANTA_OK;
    }
    enum quanta_status st = dec_want_wire(d, where, f, PB_WIRE_LEN, field_name);
    if (st)
        return st;
    size_t n;
    enum pb_result r = pb_packed_varint_count(f->data, f->size, &n);
    if (r != PB_OK)
        return dec_fail(d, where, "%s: %s", field_name, pb_result_string(r));
    if (n == 0)
        return QUANTA_OK;
    if (!vec_i64_reserve(out, n))
        return dec_nomem(d);
    pb_packed_varints(f->data, f->size, out->v + out->n, n);
    out->n += n;
    return QUANTA_OK;
}

enum quanta_status dec_fixed(const struct dec *d, const char *where,
                             const struct pb_field *f, const char *field_name,
                             size_t width, struct vec_f64 *out)
{
    enum pb_wire single = width == 4 ? PB_WIRE_I32 : PB_WIRE_I64;
    if (f->wire == single) {
        double x = width == 4 ? (double)pb_field_float(f) : pb_field_double(f);
        return vec_f64_push(out, x) ? QUANTA_OK : dec_nomem(d);
    }
    enum quanta_status st = dec_want_wire(d, where, f, PB_WIRE_LEN, field_name);
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
            return dec_nomem(d);
    }
    return QUANTA_OK;
}

enum quanta_status dec_read_file(const char *path, uint8_t **out, size_t *out_size,
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
