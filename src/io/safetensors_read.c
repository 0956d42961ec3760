/* safetensors reader: maps the file read-only and checks every rule of
 * model-format.md section 1 before handing out tensors that point into the
 * mapping (zero copy; tensor data is not necessarily aligned for its type).
 *
 * Choices where the format is silent (see man/quanta-format.5):
 * - JSON whitespace may precede the object; only spaces (0x20) may follow.
 * - Integers in shape and data_offsets must be exact in a double: at most
 *   2^53. Unknown keys inside a tensor entry are ignored; a repeated key is
 *   refused anywhere.
 * - A tensor of 0 bytes counts as placed at its offset: like every other
 *   tensor it must start where the previous one ended. */
#include "quanta/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json_read.h"
#include "io/io_internal.h"

#define EXACT_INT_MAX 9007199254740992.0 /* 2^53 */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a key that occurs twice among obj's members. Returns 1 and sets
 * *dup when there is one, 0 when none, -1 when out of memory. */
static int find_duplicate_key(const struct json_node *obj, const char **dup)
{
    size_t n = 0;
    for (const struct json_node *c = obj->child; c; c = c->next)
        n++;
    if (n < 2)
        return 0;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys)
        return -1;
    size_t i = 0;
    for (const struct json_node *c = obj->child; c; c = c->next)
        keys[i++] = c->key;
    qsort(keys, n, sizeof *keys, compare_strings);
    int found = 0;
    for (i = 1; i < n && !found; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            *dup = keys[i];
            found = 1;
        }
    }
    free(keys);
    return found;
}

/* Member of an entry, refusing repeats. */
static const struct json_node *entry_member(const struct json_node *entry, const char *key,
                                           bool *repeated)
{
    const struct json_node *found = NULL;
    for (const struct json_node *c = entry->child; c; c = c->next) {
        if (strcmp(c->key, key) == 0) {
            if (found)
                *repeated = true;
            found = c;
        }
    }
    return found;
}

struct order_item {
    uint64_t begin, end;
    size_t index;
};

static int compare_order(const void *a, const void *b)
{
    const struct order_item *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Fills t (except name and data) from a tensor entry. */
static enum quanta_status parse_entry(const char *path, const char *name,
                                      const struct json_node *entry, uint64_t data_size,
                                      struct st_tensor *t, struct quanta_error *err)
{
    if (!json_is_object(entry))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': entry is not an object",
                           path, name);
    bool repeated = false;
    const struct json_node *dtype = entry_member(entry, "dtype", &repeated);
    const struct json_node *shape = entry_member(entry, "shape", &repeated);
    const struct json_node *offsets = entry_member(entry, "data_offsets", &repeated);
    if (repeated)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': duplicate key in entry",
                           path, name);
    if (!dtype)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': missing dtype", path, name);
    if (!json_is_string(dtype))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': dtype is not a string",
                           path, name);
    t->dtype = quanta_dtype_parse(dtype->string);
    if (t->dtype == QUANTA_DTYPE_INVALID)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': unknown dtype '%s'", path,
                           name, dtype->string);

    if (!shape)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': missing shape", path, name);
    if (!json_is_array(shape))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': shape is not an array",
                           path, name);
    size_t rank = json_size(shape);
    if (rank > QUANTA_MAX_RANK)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: tensor '%s': shape has rank %zu, more than %d", path, name, rank,
                           QUANTA_MAX_RANK);
    t->shape.rank = (int)rank;
    int k = 0;
    for (const struct json_node *d = shape->child; d; d = d->next, k++) {
        if (!json_is_number(d) || d->number != floor(d->number))
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: tensor '%s': dimension %d is not an integer", path, name, k);
        if (d->number < 0)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: tensor '%s': dimension %d is negative (%.0f)", path, name, k,
                               d->number);
        if (d->number > EXACT_INT_MAX)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: tensor '%s': dimension %d is too large (%g)", path, name, k,
                               d->number);
        t->shape.dims[k] = (int64_t)d->number;
    }
    char shape_text[128];
    quanta_shape_format(&t->shape, shape_text, sizeof shape_text);
    int64_t numel = quanta_shape_numel(&t->shape);
    size_t esize = quanta_dtype_size(t->dtype);
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / esize)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: tensor '%s': shape %s has too many elements (overflow)", path,
                           name, shape_text);
    uint64_t nbytes = quanta_dtype_bytes(t->dtype, &t->shape);

    if (!offsets)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s': missing data_offsets", path,
                           name);
    const struct json_node *b = json_is_array(offsets) ? offsets->child : NULL;
    const struct json_node *e = b ? b->next : NULL;
    if (!b || !e || e->next)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: tensor '%s': data_offsets is not an array of two integers", path,
                           name);
    for (const struct json_node *o = b; o; o = o->next) {
        if (!json_is_number(o) || o->number != floor(o->number) ||
            o->number < 0 || o->number > EXACT_INT_MAX)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: tensor '%s': data_offsets holds something other than an "
                               "integer in [0, 2^53]",
                               path, name);
    }
    t->begin = (uint64_t)b->number;
    t->end = (uint64_t)e->number;
    if (t->begin > t->end)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                           "] begin after end",
                           path, name, t->begin, t->end);
    if (t->end > data_size)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                           "] end beyond the data buffer of %" PRIu64 " bytes",
                           path, name, t->begin, t->end, data_size);
    if (t->end - t->begin != nbytes)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                           " bytes but %s %s needs %" PRIu64,
                           path, name, t->begin, t->end, t->end - t->begin,
                           quanta_dtype_name(t->dtype), shape_text, nbytes);
    return QUANTA_OK;
}

/* Tensors must tile the data buffer: sorted by offset, each starts where
 * the previous ended, and the last ends at the end of the buffer. */
static enum quanta_status check_layout(const char *path, const struct st_file *f,
                                       struct quanta_error *err)
{
    size_t n = f->n_tensors;
    struct order_item *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++)
        order[i] = (struct order_item){f->tensors[i].begin, f->tensors[i].end, i};
    qsort(order, n, sizeof *order, compare_order);
    enum quanta_status st = QUANTA_OK;
    uint64_t expected = 0;
    for (size_t i = 0; i < n && st == QUANTA_OK; i++) {
        const struct st_tensor *t = &f->tensors[order[i].index];
        if (t->begin < expected) {
            const struct st_tensor *prev = &f->tensors[order[i - 1].index];
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                             "] overlap tensor '%s' [%" PRIu64 ", %" PRIu64 "]",
                             path, t->name, t->begin, t->end, prev->name, prev->begin, prev->end);
        } else if (t->begin > expected) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                             "] leave a gap of %" PRIu64 " bytes before it",
                             path, t->name, t->begin, t->end, t->begin - expected);
        }
        expected = t->end;
    }
    if (st == QUANTA_OK && expected != f->data_size)
        st = quanta_fail(err, QUANTA_ERR_INPUT,
                         "%s: data buffer has %" PRIu64 " bytes after the last tensor", path,
                         f->data_size - expected);
    free(order);
    return st;
}

static char *copy_string(char **cursor, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = *cursor;
    memcpy(dst, s, n);
    *cursor += n;
    return dst;
}

/* Parses and checks the header of a mapped file; fills tensors and meta. */
static enum quanta_status parse_header(struct st_file *f, struct quanta_error *err)
{
    const char *path = f->path;
    const char *header = (const char *)f->map + 8;
    size_t n = (size_t)f->header_size;
    enum quanta_status st = QUANTA_OK;
    struct json_doc doc;

    size_t offset = 0;
    const char *problem = io_json_prescan(header, n, ST_MAX_JSON_DEPTH, &offset);
    if (problem) {
        if (strstr(problem, "deeply"))
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: header nests objects or arrays deeper than %d levels", path,
                               ST_MAX_JSON_DEPTH);
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: header %s (byte %zu)", path, problem,
                           offset);
    }
    /* the prescan has bounded the depth; the rest must be spaces (below) */
    const struct json_options options = {.max_depth = ST_MAX_JSON_DEPTH, .allow_trailing = true};
    enum json_error jerr = json_parse(&doc, header, n, &options);
    if (jerr == JSON_ERR_NOMEM)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for the header", path);
    if (jerr != JSON_OK)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: header is not valid JSON (near byte %zu)",
                           path, doc.offset);
    const struct json_node *root = doc.root;
    if (!json_is_object(root)) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: header is not a JSON object", path);
        goto done;
    }
    for (size_t i = doc.offset; i < n; i++) {
        if (header[i] != ' ') {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: header has bytes other than spaces after the JSON object "
                             "(byte %zu)",
                             path, i);
            goto done;
        }
    }
    const char *dup = NULL;
    int d = find_duplicate_key(root, &dup);
    if (d != 0) {
        st = d < 0 ? quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path)
                   : quanta_fail(err, QUANTA_ERR_INPUT, "%s: duplicate key '%s' in the header",
                                 path, dup);
        goto done;
    }

    /* count, check names and metadata, size the string storage */
    const struct json_node *meta = NULL;
    size_t n_tensors = 0, strings_size = 1;
    for (const struct json_node *c = root->child; c; c = c->next) {
        if (strcmp(c->key, "__metadata__") == 0) {
            meta = c;
            continue;
        }
        size_t len = strlen(c->key);
        if (len == 0) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor name is empty", path);
            goto done;
        }
        if (len > ST_MAX_NAME_LEN) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: tensor name of %zu bytes is longer than the limit of %d", path,
                             len, ST_MAX_NAME_LEN);
            goto done;
        }
        n_tensors++;
        strings_size += len + 1;
    }
    size_t n_meta = 0;
    if (meta) {
        if (!json_is_object(meta)) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: __metadata__ is not an object", path);
            goto done;
        }
        d = find_duplicate_key(meta, &dup);
        if (d != 0) {
            st = d < 0 ? quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path)
                       : quanta_fail(err, QUANTA_ERR_INPUT,
                                     "%s: duplicate key '%s' in __metadata__", path, dup);
            goto done;
        }
        for (const struct json_node *c = meta->child; c; c = c->next) {
            if (!json_is_string(c)) {
                st = quanta_fail(err, QUANTA_ERR_INPUT,
                                 "%s: __metadata__ value of '%s' is not a string", path,
                                 c->key);
                goto done;
            }
            n_meta++;
            strings_size += strlen(c->key) + strlen(c->string) + 2;
        }
    }

    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    f->meta = calloc(n_meta ? n_meta : 1, sizeof *f->meta);
    f->strings = malloc(strings_size);
    if (!f->tensors || !f->meta || !f->strings) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    char *cursor = f->strings;
    for (const struct json_node *c = root->child; c; c = c->next) {
        if (c == meta)
            continue;
        struct st_tensor *t = &f->tensors[f->n_tensors];
        st = parse_entry(path, c->key, c, f->data_size, t, err);
        if (st != QUANTA_OK)
            goto done;
        t->name = copy_string(&cursor, c->key);
        t->data = f->data + t->begin;
        f->n_tensors++;
    }
    if (meta) {
        for (const struct json_node *c = meta->child; c; c = c->next) {
            struct st_meta *m = &f->meta[f->n_meta++];
            m->key = copy_string(&cursor, c->key);
            m->value = copy_string(&cursor, c->string);
        }
    }
    st = check_layout(path, f, err);
done:
    json_doc_free(&doc);
    return st;
}

enum quanta_status st_open(struct st_file *file, const char *path, struct quanta_error *err)
{
    struct st_file f = {0};
    enum quanta_status st;
    memset(file, 0, sizeof *file);

    f.path = strdup(path);
    if (!f.path)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: not a regular file", path);
        close(fd);
        goto fail;
    }
    if (sb.st_size < 8) {
        st = quanta_fail(err, QUANTA_ERR_INPUT,
                         "%s: file is %lld bytes, shorter than the 8-byte header length", path,
                         (long long)sb.st_size);
        close(fd);
        goto fail;
    }
    f.map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f.map == MAP_FAILED) {
        f.map = NULL;
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    f.map_size = (size_t)sb.st_size;

    const unsigned char *p = f.map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | p[i];
    f.header_size = n;
    if (n > ST_MAX_HEADER_SIZE) {
        st = quanta_fail(err, QUANTA_ERR_INPUT,
                         "%s: header length %" PRIu64 " exceeds the limit of %llu bytes", path, n,
                         ST_MAX_HEADER_SIZE);
        goto fail;
    }
    if (n > f.map_size - 8) {
        st = quanta_fail(err, QUANTA_ERR_INPUT,
                         "%s: header length %" PRIu64 " is more than the %zu bytes after it", path,
                         n, f.map_size - 8);
        goto fail;
    }
    f.data = p + 8 + n;
    f.data_size = f.map_size - 8 - n;
    st = parse_header(&f, err);
    if (st != QUANTA_OK)
        goto fail;
    *file = f;
    return QUANTA_OK;
fail:
    st_close(&f);
    return st;
}

void st_close(struct st_file *file)
{
    if (!file)
        return;
    if (file->map)
        munmap(file->map, file->map_size);
    free(file->tensors);
    free(file->meta);
    free(file->strings);
    free(file->path);
    memset(file, 0, sizeof *file);
}

const struct st_tensor *st_find(const struct st_file *file, const char *name)
{
    for (size_t i = 0; i < file->n_tensors; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

const char *st_meta_find(const struct st_file *file, const char *key)
{
    for (size_t i = 0; i < file->n_meta; i++)
        if (strcmp(file->meta[i].key, key) == 0)
            return file->meta[i].value;
    return NULL;
}
