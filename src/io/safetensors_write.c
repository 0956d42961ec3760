/* safetensors writer. The header is built by hand, not by a JSON library,
 * so that it is byte-for-byte deterministic and integers are never written
 * in exponent form:
 *   {"__metadata__":{"k":"v"},"name":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}
 * compact, keys in the order given, then spaces up to a multiple of 8 bytes
 * so the data buffer starts 8-byte aligned.
 *
 * The writer remembers where each metadata value sits in the file, so that
 * st_writer_set_meta can overwrite one in place (same length) with pwrite
 * once the data is written. Write-behind (st_writer_write_behind) flushes
 * and drops the output in steps with sync_file_range and posix_fadvise. */
#include "quanta/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_internal.h"
#include "quanta/safe_file.h"

struct st_writer {
    struct safe_file out;
    size_t n_tensors;
    char **names;       /* copies, for messages */
    uint64_t *ends;     /* end offset of each tensor */
    uint64_t total;     /* bytes of the data buffer */
    uint64_t written;   /* data bytes written so far */
    uint64_t data_at;   /* file offset of the data buffer: 8 + header */
    size_t n_meta;
    char **meta_keys;   /* copies */
    uint64_t *meta_at;  /* file offset of each value's JSON text */
    size_t *meta_len;   /* and its length, quotes included */
    bool write_behind;
    uint64_t wb_started; /* writeback started up to here (file offset) */
    uint64_t wb_dropped; /* dropped from the page cache up to here */
};

#define WRITE_BEHIND_BYTES ((uint64_t)32 << 20)

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
            sizes[i] = quanta_dtype_bytes(d->dtype, &d->shape);
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
    if (w->meta_keys)
        for (size_t i = 0; i < w->n_meta; i++)
            free(w->meta_keys[i]);
    free(w->meta_keys);
    free(w->meta_at);
    free(w->meta_len);
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
    w->n_meta = n_meta;
    w->meta_keys = calloc(n_meta ? n_meta : 1, sizeof *w->meta_keys);
    w->meta_at = calloc(n_meta ? n_meta : 1, sizeof *w->meta_at);
    w->meta_len = calloc(n_meta ? n_meta : 1, sizeof *w->meta_len);
    if (!w->names || !w->ends || !w->meta_keys || !w->meta_at || !w->meta_len) {
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
            size_t at = h.len;
            text_json_string(&h, meta[i].value);
            w->meta_at[i] = 8 + (uint64_t)at; /* after the 8-byte length */
            w->meta_len[i] = h.len - at;
            if (!(w->meta_keys[i] = strdup(meta[i].key)))
                h.nomem = true;
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
    w->data_at = 8 + (uint64_t)h.len;

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

/* A failed sync_file_range is a write error, unless the file system cannot
 * do it (then write-behind just stops): its wait may consume the error
 * that the fsync of commit would otherwise report. */
static enum quanta_status range_failed(struct st_writer *w, struct quanta_error *err)
{
    int e = errno;
    if (e == EINVAL || e == ENOSYS || e == ESPIPE || e == EOPNOTSUPP) {
        w->write_behind = false;
        return QUANTA_OK;
    }
    return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot write: %s", w->out.path,
                       strerror(e ? e : EIO));
}

/* Every WRITE_BEHIND_BYTES: start writeback of the new bytes, wait for the
 * previous step's to finish and drop those pages, so the kernel recycles
 * them for the next ones. Steps end on 64 KiB boundaries so that no page
 * straddles two. */
static enum quanta_status write_behind_step(struct st_writer *w, struct quanta_error *err)
{
    uint64_t end = (w->data_at + w->written) & ~(uint64_t)0xffff;
    if (end < w->wb_started + WRITE_BEHIND_BYTES)
        return QUANTA_OK;
    errno = 0;
    if (fflush(w->out.fp) != 0)
        return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot write: %s", w->out.path,
                           strerror(errno ? errno : EIO));
    int fd = fileno(w->out.fp);
    if (sync_file_range(fd, (off_t)w->wb_started, (off_t)(end - w->wb_started),
                        SYNC_FILE_RANGE_WRITE) != 0)
        return range_failed(w, err);
    if (w->wb_started > w->wb_dropped) {
        off_t at = (off_t)w->wb_dropped, n = (off_t)(w->wb_started - w->wb_dropped);
        if (sync_file_range(fd, at, n, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                           SYNC_FILE_RANGE_WAIT_AFTER) != 0)
            return range_failed(w, err);
        posix_fadvise(fd, at, n, POSIX_FADV_DONTNEED); /* advice: may keep some */
        w->wb_dropped = w->wb_started;
    }
    w->wb_started = end;
    return QUANTA_OK;
}

void st_writer_write_behind(struct st_writer *w)
{
    w->write_behind = true;
}

enum quanta_status st_writer_set_meta(struct st_writer *w, const char *key, const char *value,
                                      struct quanta_error *err)
{
    size_t i = 0;
    while (i < w->n_meta && strcmp(w->meta_keys[i], key) != 0)
        i++;
    if (i == w->n_meta)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: no metadata key '%s' to set",
                           w->out.path, key);
    if (!utf8_ok(value))
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: metadata '%s': value is not UTF-8",
                           w->out.path, key);
    struct text t = {0};
    text_json_string(&t, value);
    if (t.nomem)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", w->out.path);
    enum quanta_status st = QUANTA_OK;
    if (t.len != w->meta_len[i]) {
        st = quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: metadata '%s': the new value is %zu "
                                                   "bytes of JSON, the one written %zu",
                         w->out.path, key, t.len, w->meta_len[i]);
        goto done;
    }
    /* the header may still sit in the stdio buffer: flush it first, or it
     * would later overwrite the new bytes */
    errno = 0;
    if (fflush(w->out.fp) != 0) {
        st = quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot write: %s", w->out.path,
                         strerror(errno ? errno : EIO));
        goto done;
    }
    for (size_t done = 0; done < t.len;) {
        ssize_t n = pwrite(fileno(w->out.fp), t.buf + done, t.len - done,
                           (off_t)(w->meta_at[i] + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            st = quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot write: %s", w->out.path,
                             strerror(n < 0 ? errno : EIO));
            goto done;
        }
        done += (size_t)n;
    }
done:
    free(t.buf);
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
    if (st != QUANTA_OK)
        return st;
    w->written += size;
    return w->write_behind ? write_behind_step(w, err) : QUANTA_OK;
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
