/* Labels: one int32 per sample, from an IDX label file, an NPY of integers
 * ([N] or [N,1]), or the "labels" tensor of a safetensors file. They are
 * read through the data set readers, so every size check applies. */
#include "quanta/data.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_internal.h"
#include "quanta/safetensors.h"

#define LABEL_CHUNK 65536

void labels_free(struct labels *labels)
{
    if (!labels)
        return;
    free(labels->values);
    labels->values = NULL;
    labels->n = 0;
}

enum quanta_status labels_load(struct labels *labels, const char *path, struct quanta_error *err)
{
    labels->n = 0;
    labels->values = NULL;
    struct dataset *ds;
    enum quanta_status st = dataset_open(&ds, path, "labels", err);
    if (st != QUANTA_OK)
        return st;
    int64_t *chunk = NULL;
    if (quanta_shape_numel(&ds->sample_shape) != 1 || ds->sample_shape.rank > 1) {
        char text[128];
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: labels must have shape [N], not [N, ...] "
                         "with samples %s", path,
                         quanta_shape_format(&ds->sample_shape, text, sizeof text));
        goto done;
    }
    if (quanta_dtype_is_float(ds->dtype) || ds->dtype == QUANTA_BOOL) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: labels must be integers, not %s", path,
                         quanta_dtype_name(ds->dtype));
        goto done;
    }
    labels->values = malloc((ds->n_samples ? (size_t)ds->n_samples : 1) * sizeof *labels->values);
    chunk = malloc(LABEL_CHUNK * sizeof *chunk);
    if (!labels->values || !chunk) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for %" PRId64 " labels", path,
                         ds->n_samples);
        goto done;
    }
    for (int64_t i = 0; i < ds->n_samples; i += LABEL_CHUNK) {
        int64_t n = ds->n_samples - i < LABEL_CHUNK ? ds->n_samples - i : LABEL_CHUNK;
        st = dataset_read_i64(ds, i, n, chunk, err);
        if (st != QUANTA_OK)
            goto done;
        for (int64_t k = 0; k < n; k++) {
            if (chunk[k] < INT32_MIN || chunk[k] > INT32_MAX) {
                st = quanta_fail(err, QUANTA_ERR_INPUT,
                                 "%s: label %" PRId64 " is %" PRId64 ", outside int32", path,
                                 i + k, chunk[k]);
                goto done;
            }
            labels->values[i + k] = (int32_t)chunk[k];
        }
    }
    labels->n = ds->n_samples;
done:
    if (st != QUANTA_OK)
        labels_free(labels);
    free(chunk);
    dataset_close(ds);
    return st;
}

/* "<dir>/<name with images-idx3 replaced by labels-idx1>", or NULL. */
static char *idx_label_sibling(const char *path)
{
    static const char from[] = "images-idx3", to[] = "labels-idx1";
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *hit = strstr(base, from);
    if (!hit)
        return NULL;
    char *sibling = strdup(path);
    if (sibling)
        memcpy(sibling + (hit - path), to, sizeof to - 1);
    return sibling;
}

enum quanta_status labels_load_for_data(struct labels *labels, const char *data_path,
                                        struct quanta_error *err)
{
    labels->n = 0;
    labels->values = NULL;
    enum io_kind kind;
    enum quanta_status st = io_sniff(data_path, &kind, err);
    if (st != QUANTA_OK)
        return st;
    if (kind == IO_KIND_SAFETENSORS) {
        struct st_file f;
        st = st_open(&f, data_path, err);
        if (st != QUANTA_OK)
            return st;
        bool has = st_find(&f, "labels") != NULL;
        st_close(&f);
        return has ? labels_load(labels, data_path, err) : QUANTA_OK;
    }
    if (kind == IO_KIND_IDX || kind == IO_KIND_GZIP) {
        char *sibling = idx_label_sibling(data_path);
        if (!sibling)
            return QUANTA_OK;
        if (access(sibling, F_OK) == 0)
            st = labels_load(labels, sibling, err);
        free(sibling);
        return st;
    }
    return QUANTA_OK;
}
