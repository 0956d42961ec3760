/* NPY files, versions 1.0, 2.0 and 3.0.
 *
 * Layout: "\x93NUMPY", major, minor (0), header length (uint16 LE in 1.0,
 * uint32 LE in 2.0/3.0), then the header: a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (10, 28, 28), }
 * padded with spaces and a newline, then the data. The header is parsed
 * strictly: exactly those three keys, each once; string values in single or
 * double quotes without escapes; a one-element shape needs its trailing
 * comma as in Python. Big-endian data and Fortran order are refused; '='
 * (native order) is taken as little-endian. The file size must equal the
 * header plus prod(shape) elements. */
#include "quanta/data.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"

#define NPY_MAX_HEADER (1u << 20)

static const struct {
    const char *descr;
    enum quanta_dtype dtype;
} npy_types[] = {
    {"<f4", QUANTA_F32}, {"=f4", QUANTA_F32}, {"<f8", QUANTA_F64}, {"=f8", QUANTA_F64},
    {"|u1", QUANTA_U8},  {"<u1", QUANTA_U8},  {"=u1", QUANTA_U8},  {"|i1", QUANTA_I8},
    {"<i1", QUANTA_I8},  {"=i1", QUANTA_I8},  {"<i4", QUANTA_I32}, {"=i4", QUANTA_I32},
    {"<i8", QUANTA_I64}, {"=i8", QUANTA_I64}, {"<f2", QUANTA_F16}, {"=f2", QUANTA_F16},
    {"<i2", QUANTA_I16}, {"=i2", QUANTA_I16}, {"|b1", QUANTA_BOOL}, {"<b1", QUANTA_BOOL},
    {"=b1", QUANTA_BOOL}, {"<u2", QUANTA_U16}, {"=u2", QUANTA_U16}, {"<u4", QUANTA_U32},
    {"=u4", QUANTA_U32},  {"<u8", QUANTA_U64},  {"=u8", QUANTA_U64},
};

const char *io_npy_descr(enum quanta_dtype dtype)
{
    switch (dtype) {
    case QUANTA_F32: return "<f4";
    case QUANTA_F64: return "<f8";
    case QUANTA_U8: return "|u1";
    case QUANTA_I8: return "|i1";
    case QUANTA_I32: return "<i4";
    case QUANTA_I64: return "<i8";
    case QUANTA_F16: return "<f2";
    case QUANTA_I16: return "<i2";
    case QUANTA_BOOL: return "|b1";
    case QUANTA_U16: return "<u2";
    case QUANTA_U32: return "<u4";
    case QUANTA_U64: return "<u8";
    default: return NULL;
    }
}

struct npy_source {
    struct dataset_source base;
    FILE *fp;
    uint64_t data_offset;
    size_t sample_bytes;
};

static void npy_close(struct dataset_source *base)
{
    struct npy_source *s = (struct npy_source *)base;
    if (s->fp)
        fclose(s->fp);
    free(s);
}

static enum quanta_status npy_read(struct dataset_source *base, const struct dataset *ds,
                                   int64_t start, int64_t count, void *raw,
                                   struct quanta_error *err)
{
    struct npy_source *s = (struct npy_source *)base;
    size_t n = (size_t)count * s->sample_bytes;
    if (fseeko(s->fp, (off_t)(s->data_offset + (uint64_t)start * s->sample_bytes), SEEK_SET) != 0)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot seek: %s", ds->path,
                           strerror(errno));
    if (fread(raw, 1, n, s->fp) != n)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: data ends early (file changed?)",
                           ds->path);
    return QUANTA_OK;
}

/* ---- the header dict ---- */

struct cursor {
    const char *p, *end;
};

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool take(struct cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes into buf. */
static bool parse_string(struct cursor *c, char *buf, size_t size)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || n + 1 >= size)
            return false;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    buf[n] = '\0';
    return true;
}

static bool parse_word(struct cursor *c, const char *word)
{
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    if (c->p + n < c->end && (isalnum((unsigned char)c->p[n]) || c->p[n] == '_'))
        return false;
    c->p += n;
    return true;
}

static bool parse_shape(struct cursor *c, struct quanta_shape *shape, int max_rank)
{
    if (!take(c, '('))
        return false;
    shape->rank = 0;
    bool comma_after_last = false;
    for (;;) {
        skip_space(c);
        if (take(c, ')'))
            break;
        if (shape->rank > 0 && !comma_after_last)
            return false;
        if (c->p >= c->end || !isdigit((unsigned char)*c->p) || shape->rank >= max_rank)
            return false;
        int64_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            int digit = *c->p++ - '0';
            if (v > (INT64_MAX - digit) / 10)
                return false;
            v = v * 10 + digit;
        }
        shape->dims[shape->rank++] = v;
        comma_after_last = take(c, ',');
    }
    /* Python: (3) is not a tuple */
    return shape->rank != 1 || comma_after_last;
}

static enum quanta_status parse_header(const char *path, const char *h, size_t n,
                                       enum quanta_dtype *dtype, struct quanta_shape *shape,
                                       struct quanta_error *err)
{
    struct cursor c = {h, h + n};
    char key[32], descr[32] = "";
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    if (!take(&c, '{'))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY header is not a dict", path);
    for (;;) {
        if (take(&c, '}'))
            break;
        if (!parse_string(&c, key, sizeof key) || !take(&c, ':'))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY header is not a valid dict",
                               path);
        bool ok;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            ok = have_descr = parse_string(&c, descr, sizeof descr);
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            fortran = parse_word(&c, "True");
            ok = have_order = fortran || parse_word(&c, "False");
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            ok = have_shape = parse_shape(&c, shape, QUANTA_MAX_RANK);
        } else {
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY header has %s key '%s'", path,
                               strcmp(key, "descr") && strcmp(key, "fortran_order") &&
                                       strcmp(key, "shape")
                                   ? "an unexpected"
                                   : "a repeated",
                               key);
        }
        if (!ok)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: NPY header has an invalid value for '%s'", path, key);
        if (!take(&c, ',')) {
            if (!take(&c, '}'))
                return quanta_fail(err, QUANTA_ERR_INPUT,
                                   "%s: NPY header is not a valid dict", path);
            break;
        }
    }
    skip_space(&c);
    if (c.p != c.end)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY header has bytes after the dict",
                           path);
    if (!have_descr || !have_order || !have_shape)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY header lacks '%s'", path,
                           !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (descr[0] == '>')
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: big-endian NPY data ('%s') is not supported", path, descr);
    *dtype = QUANTA_DTYPE_INVALID;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (strcmp(descr, npy_types[i].descr) == 0)
            *dtype = npy_types[i].dtype;
    if (*dtype == QUANTA_DTYPE_INVALID)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: NPY dtype '%s' is not supported (<f4 <f8 <f2 |u1 |i1 <i2 <i4 <i8 |b1 are)",
                           path, descr);
    if (fortran)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: NPY data in Fortran order is not supported", path);
    if (shape->rank == 0)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY array has no sample axis (shape ())",
                           path);
    return QUANTA_OK;
}

enum quanta_status dataset_open_npy(struct dataset *ds, struct dataset_source **out,
                                    struct quanta_error *err)
{
    const char *path = ds->path;
    enum quanta_status st;
    char *header = NULL;
    *out = NULL;
    struct npy_source *s = calloc(1, sizeof *s);
    if (!s)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    s->base.read = npy_read;
    s->base.close = npy_close;
    s->fp = fopen(path, "rb");
    if (!s->fp) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fileno(s->fp), &sb) != 0) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t file_size = (uint64_t)sb.st_size;
    unsigned char pre[12];
    if (fread(pre, 1, 8, s->fp) != 8) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY file is truncated", path);
        goto fail;
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY version %d.%d is not supported", path,
                         major, minor);
        goto fail;
    }
    size_t len_bytes = major == 1 ? 2 : 4;
    if (fread(pre + 8, 1, len_bytes, s->fp) != len_bytes) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY file is truncated", path);
        goto fail;
    }
    uint64_t hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    if (major > 1)
        hlen |= (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
    if (hlen > NPY_MAX_HEADER) {
        st = quanta_fail(err, QUANTA_ERR_INPUT,
                         "%s: NPY header of %" PRIu64 " bytes exceeds the limit of %u", path,
                         hlen, NPY_MAX_HEADER);
        goto fail;
    }
    header = malloc(hlen + 1);
    if (!header) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (fread(header, 1, hlen, s->fp) != hlen) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY header is truncated", path);
        goto fail;
    }
    header[hlen] = '\0';
    if (major < 3) {
        for (uint64_t i = 0; i < hlen; i++) {
            if ((unsigned char)header[i] >= 0x80) {
                st = quanta_fail(err, QUANTA_ERR_INPUT,
                                 "%s: NPY %d.0 header is not ASCII", path, major);
                goto fail;
            }
        }
    } else if (!io_utf8_valid((unsigned char *)header, hlen, NULL)) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY 3.0 header is not UTF-8", path);
        goto fail;
    }
    struct quanta_shape shape;
    st = parse_header(path, header, hlen, &ds->dtype, &shape, err);
    if (st != QUANTA_OK)
        goto fail;
    char shape_text[128];
    quanta_shape_format(&shape, shape_text, sizeof shape_text);
    int64_t numel = quanta_shape_numel(&shape);
    size_t esize = quanta_dtype_size(ds->dtype);
    uint64_t data_offset = 8 + len_bytes + hlen;
    if (numel < 0 || (uint64_t)numel > (UINT64_MAX - data_offset) / esize) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: NPY shape %s is too large", path,
                         shape_text);
        goto fail;
    }
    uint64_t promised = data_offset + (uint64_t)numel * esize;
    if (promised != file_size) {
        st = quanta_fail(err, QUANTA_ERR_INPUT,
                         "%s: file is %" PRIu64 " bytes but the NPY header (%s %s) promises %" PRIu64,
                         path, file_size, quanta_dtype_name(ds->dtype), shape_text, promised);
        goto fail;
    }
    ds->n_samples = shape.dims[0];
    ds->sample_shape.rank = shape.rank - 1;
    for (int i = 1; i < shape.rank; i++)
        ds->sample_shape.dims[i - 1] = shape.dims[i];
    int64_t sample_numel = quanta_shape_numel(&ds->sample_shape);
    s->sample_bytes = sample_numel < 0 ? 0 : (size_t)sample_numel * esize;
    s->data_offset = data_offset;
    free(header);
    *out = &s->base;
    return QUANTA_OK;
fail:
    free(header);
    npy_close(&s->base);
    return st;
}
