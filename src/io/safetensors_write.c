/* safetensors writer. The header is built by hand, not by a JSON library,
 * so that it is byte-for-byte deterministic and integers are never written
 * in exponent form:
 *   {"__metadata__":{"k":"v"},"name":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}
 * compact, keys in the order given, then spaces up to a multiple of 8 bytes
 * so the data buffer starts 8-byte aligned. */
#include "quanta/safetensors.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "quanta/safe_file.h"

struct st_writer {
    struct safe_file out;
    size_t n_tensors;
    char **names;       /* copies, for messages */
    uint64_t *ends;     /* end offset of each tensor */
    uint64_t total;     /* bytes of the data buffer */
    uint64_t written;   /* data bytes written so far */
};

struct text {
    char *buf;
    size_t len, cap;
    bool nomem;
};

static void text_put(struct text *t, const char *s, size_t n)
{
    if (t->nomem)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *bigger = realloc(t->buf, cap);
        if (!bigger) {
            t->nomem = true;
            return;
        }
        t->buf = bigger;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_cstr(struct text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

static void text_u64(struct text *t, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64, v);
    text_put(t, num, (size_t)n);
}

/* A JSON string: quotes, backslash and control characters escaped, other
 * bytes (UTF-8, already checked) as they are. */
static void text_json_string(struct text *t, const char *s)
{
    text_put(t, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': text_put(t, "\\\"", 2); break;
        case '\\': text_put(t, "\\\\", 2); break;
        case '\b': text_put(t, "\\b", 2); break;
        case '\f': text_put(t, "\\f", 2); break;
        case '\n': text_put(t, "\\n", 2); break;
        case '\r': text_put(t, "\\r", 2); break;
        case '\t': text_put(t, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                text_put(t, esc, 6);
            } else {
                text_put(t, (const char *)p, 1);
            }
        }
    }
    text_put(t, "\"", 1);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a repeated string among n; NULL if none. keys is reordered. */
static const char *repeated(const char **keys, size_t n)
{
    qsort(keys, n, sizeof *keys, compare_strings);
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return keys[i];
    return NULL;
}

static bool utf8_ok(const char *s)
{
    return io_utf8_valid((const unsigned char *)s, strlen(s), NULL);
}

/* Checks the descriptions and computes each tensor's size. */
static enum quanta_status check_input(const char *path, const struct st_tensor_desc *tensors,
                                      size_t n_tensors, const struct st_meta *meta, size_t n_meta,
                                      uint64_t *sizes, struct quanta_error *err)
{
    size_t n_keys = n_tensors > n_meta ? n_tensors : n_meta;
    const char **keys = malloc((n_keys ? n_keys : 1) * sizeof *keys);
    if (!keys)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    enum quanta_status st = QUANTA_OK;
    const char *dup;
    uint64_t total = 0;
    for (size_t i = 0; i < n_tensors && st == QUANTA_OK; i++) {
        const struct st_tensor_desc *d = &tensors[i];
        size_t len = d->name ? strlen(d->name) : 0;
        int64_t numel = d->shape.rank >= 0 && d->shape.rank <= QUANTA_MAX_RANK
                            ? quanta_shape_numel(&d->shape)
                            : -1;
        size_t esize = quanta_dtype_size(d->dtype);
        if (len == 0 || len > ST_MAX_NAME_LEN || !utf8_ok(d->name) ||
            strcmp(d->name, "__metadata__") == 0)
            st = quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: tensor %zu: invalid name", path, i);
        else if (esize == 0)
            st = quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: tensor '%s': invalid dtype", path,
                             d->name);
        else if (numel < 0 || (uint64_t)numel > (UINT64_MAX >> 12) / esize ||
                 (uint64_t)numel * esize > (UINT64_MAX >> 12) - total)
            st = quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: tensor '%s': invalid shape", path,
                             d->name);
        else {
            sizes[i] = (uint64_t)numel * esize;
            total += sizes[i];
            keys[i] = d->name;
        }
    }
    if (st == QUANTA_OK && (dup = repeated(keys, n_tensors)))
        st = quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: tensor name '%s' given twice", path, dup);
    for (size_t i = 0; i < n_meta && st == QUANTA_OK; i++) {
        if (!meta[i].key || !meta[i].value || !utf8_ok(meta[i].key) || !utf8_ok(meta[i].value))
            st = quanta_fail(err, QUANTA_ERR_INTERNAL,
                             "%s: metadata entry %zu is missing or not UTF-8", path, i);
        else
            keys[i] = meta[i].key;
    }
    if (st == QUANTA_OK && (dup = repeated(keys, n_meta)))
        st = quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: metadata key '%s' given twice", path,
                         dup);
    free(keys);
    return st;
}

static void writer_free(struct st_writer *w)
{
    if (!w)
        return;
    if (w->names)
        for (size_t i = 0; i < w->n_tensors; i++)
            free(w->names[i]);
    free(w->names);
    free(w->ends);
    free(w);
}

enum quanta_status st_writer_open(struct st_writer **writer, const char *path,
                                  const struct st_tensor_desc *tensors, size_t n_tensors,
                                  const struct st_meta *meta, size_t n_meta,
                                  struct quanta_error *err)
{
    *writer = NULL;
    struct text h = {0};
    enum quanta_status st;
    struct st_writer *w = calloc(1, sizeof *w);
    if (!w)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    w->n_tensors = n_tensors;
    w->names = calloc(n_tensors ? n_tensors : 1, sizeof *w->names);
    w->ends = calloc(n_tensors ? n_tensors : 1, sizeof *w->ends);
    if (!w->names || !w->ends) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    st = check_input(path, tensors, n_tensors, meta, n_meta, w->ends, err);
    if (st != QUANTA_OK)
        goto fail;

    text_put(&h, "{", 1);
    if (n_meta > 0) {
        text_cstr(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i)
                text_put(&h, ",", 1);
            text_json_string(&h, meta[i].key);
            text_put(&h, ":", 1);
            text_json_string(&h, meta[i].value);
        }
        text_put(&h, "}", 1);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        const struct st_tensor_desc *d = &tensors[i];
        uint64_t size = w->ends[i];
        if (i || n_meta)
            text_put(&h, ",", 1);
        text_json_string(&h, d->name);
        text_cstr(&h, ":{\"dtype\":\"");
        text_cstr(&h, quanta_dtype_name(d->dtype));
        text_cstr(&h, "\",\"shape\":[");
        for (int k = 0; k < d->shape.rank; k++) {
            if (k)
                text_put(&h, ",", 1);
            text_u64(&h, (uint64_t)d->shape.dims[k]);
        }
        text_cstr(&h, "],\"data_offsets\":[");
        text_u64(&h, offset);
        text_put(&h, ",", 1);
        text_u64(&h, offset + size);
        text_cstr(&h, "]}");
        offset += size;
        w->ends[i] = offset;
        w->names[i] = strdup(d->name);
        if (!w->names[i])
            h.nomem = true;
    }
    text_put(&h, "}", 1);
    while (h.len % 8 != 0)
        text_put(&h, " ", 1);
    if (h.nomem) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for the header", path);
        goto fail;
    }
    if (h.len > ST_MAX_HEADER_SIZE) {
        st = quanta_fail(err, QUANTA_ERR_INTERNAL,
                         "%s: header of %zu bytes exceeds the limit of %llu", path, h.len,
                         ST_MAX_HEADER_SIZE);
        goto fail;
    }
    w->total = offset;

    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    st = safe_file_open(&w->out, path, err);
    if (st != QUANTA_OK)
        goto fail;
    st = safe_file_write(&w->out, len_bytes, sizeof len_bytes, err);
    if (st == QUANTA_OK)
        st = safe_file_write(&w->out, h.buf, h.len, err);
    if (st != QUANTA_OK) {
        safe_file_abort(&w->out);
        goto fail;
    }
    free(h.buf);
    *writer = w;
    return QUANTA_OK;
fail:
    free(h.buf);
    writer_free(w);
    return st;
}

enum quanta_status st_writer_put(struct st_writer *w, const void *bytes, size_t size,
                                 struct quanta_error *err)
{
    if (size == 0)
        return QUANTA_OK;
    if (size > w->total - w->written)
        return quanta_fail(err, QUANTA_ERR_INTERNAL,
                           "%s: %zu bytes given but the tensors have only %" PRIu64
                           " bytes left",
                           w->out.path, size, w->total - w->written);
    if (!bytes)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: no bytes given", w->out.path);
    enum quanta_status st = safe_file_write(&w->out, bytes, size, err);
    if (st == QUANTA_OK)
        w->written += size;
    return st;
}

enum quanta_status st_writer_commit(struct st_writer *w, struct quanta_error *err)
{
    enum quanta_status st;
    if (w->written != w->total) {
        size_t i = 0;
        while (i + 1 < w->n_tensors && w->ends[i] <= w->written)
            i++;
        uint64_t begin = i ? w->ends[i - 1] : 0;
        st = quanta_fail(err, QUANTA_ERR_INTERNAL,
                         "%s: tensor '%s' is incomplete: %" PRIu64 " of %" PRIu64
                         " bytes written",
                         w->out.path, w->names[i], w->written - begin, w->ends[i] - begin);
        safe_file_abort(&w->out);
    } else {
        st = safe_file_commit(&w->out, err);
    }
    writer_free(w);
    return st;
}

void st_writer_abort(struct st_writer *w)
{
    if (!w)
        return;
    safe_file_abort(&w->out);
    writer_free(w);
}

enum quanta_status st_write_file(const char *path, const struct st_tensor_desc *tensors,
                                 size_t n_tensors, const struct st_meta *meta, size_t n_meta,
                                 struct quanta_error *err)
{
    for (size_t i = 0; i < n_tensors; i++) {
        int64_t numel = quanta_shape_numel(&tensors[i].shape);
        if (!tensors[i].data && numel != 0)
            return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: tensor %zu has no data", path, i);
    }
    struct st_writer *w;
    enum quanta_status st = st_writer_open(&w, path, tensors, n_tensors, meta, n_meta, err);
    if (st != QUANTA_OK)
        return st;
    for (size_t i = 0; i < n_tensors; i++) {
        uint64_t begin = i ? w->ends[i - 1] : 0;
        st = st_writer_put(w, tensors[i].data, (size_t)(w->ends[i] - begin), err);
        if (st != QUANTA_OK) {
            st_writer_abort(w);
            return st;
        }
    }
    return st_writer_commit(w, err);
}
