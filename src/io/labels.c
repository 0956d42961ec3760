/* Labels: one int32 per sample, from an IDX label file, an NPY of integers
 * ([N] or [N,1]), or the "labels" tensor of a safetensors file; or, for
 * labels_load_any, integers or floats of any sample shape (token labels
 * [N, T], regression targets). They are read through the data set readers,
 * so every size check applies. */
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
    free(labels->targets);
    free(labels->path);
    memset(labels, 0, sizeof *labels);
}

/* Float labels: every element as float, no normalization. */
static enum quanta_status load_targets(struct labels *labels, struct dataset *ds,
                                       struct quanta_error *err)
{
    uint64_t total = (uint64_t)ds->n_samples * (uint64_t)labels->per_sample;
    if (total > SIZE_MAX / sizeof(float) ||
        !(labels->targets = malloc(total ? (size_t)total * sizeof(float) : 1)))
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for %" PRIu64 " labels",
                           ds->path, total);
    int64_t step = LABEL_CHUNK / labels->per_sample + 1;
    for (int64_t i = 0; i < ds->n_samples; i += step) {
        int64_t n = ds->n_samples - i < step ? ds->n_samples - i : step;
        enum quanta_status st = dataset_read_f32(ds, i, n, NULL,
                                                 labels->targets + i * labels->per_sample, err);
        if (st != QUANTA_OK)
            return st;
    }
    return QUANTA_OK;
}

/* Integer labels, each within int32. */
static enum quanta_status load_integers(struct labels *labels, struct dataset *ds,
                                        struct quanta_error *err)
{
    int64_t per = labels->per_sample;
    uint64_t total = (uint64_t)ds->n_samples * (uint64_t)per;
    int64_t step = LABEL_CHUNK / per + 1;
    int64_t *chunk = NULL;
    if (total <= SIZE_MAX / sizeof(int64_t)) {
        labels->values = malloc(total ? (size_t)total * sizeof *labels->values : 1);
        chunk = malloc((size_t)(step * per) * sizeof *chunk);
    }
    enum quanta_status st = QUANTA_OK;
    if (!labels->values || !chunk) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for %" PRIu64 " labels",
                         ds->path, total);
        goto done;
    }
    for (int64_t i = 0; i < ds->n_samples; i += step) {
        int64_t n = ds->n_samples - i < step ? ds->n_samples - i : step;
        st = dataset_read_i64(ds, i, n, chunk, err);
        if (st != QUANTA_OK)
            goto done;
        for (int64_t k = 0; k < n * per; k++) {
            if (chunk[k] < INT32_MIN || chunk[k] > INT32_MAX) {
                if (per == 1)
                    st = quanta_fail(err, QUANTA_ERR_INPUT,
                                     "%s: label %" PRId64 " is %" PRId64 ", outside int32",
                                     ds->path, i + k, chunk[k]);
                else
                    st = quanta_fail(err, QUANTA_ERR_INPUT,
                                     "%s: sample %" PRId64 " element %" PRId64 " is %" PRId64
                                     ", outside int32", ds->path, i + k / per, k % per, chunk[k]);
                goto done;
            }
            labels->values[i * per + k] = (int32_t)chunk[k];
        }
    }
done:
    free(chunk);
    return st;
}

/* any: integers or floats of any sample shape; else integers [N]. */
static enum quanta_status load(struct labels *labels, const char *path, bool any,
                               struct quanta_error *err)
{
    memset(labels, 0, sizeof *labels);
    struct dataset *ds;
    enum quanta_status st = dataset_open(&ds, path, "labels", err);
    if (st != QUANTA_OK)
        return st;
    bool is_float = quanta_dtype_is_float(ds->dtype);
    labels->per_sample = quanta_shape_numel(&ds->sample_shape);
    labels->sample_shape = ds->sample_shape;
    labels->dtype = ds->dtype;
    if (!any && (labels->per_sample != 1 || ds->sample_shape.rank > 1)) {
        char text[128];
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: labels must have shape [N], not [N, ...] "
                         "with samples %s", path,
                         quanta_shape_format(&ds->sample_shape, text, sizeof text));
        goto done;
    }
    if ((!any && is_float) || ds->dtype == QUANTA_BOOL) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: labels must be integers, not %s", path,
                         quanta_dtype_name(ds->dtype));
        goto done;
    }
    if (labels->per_sample < 1) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: labels have no element per sample", path);
        goto done;
    }
    if (!(labels->path = strdup(path))) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = is_float ? load_targets(labels, ds, err) : load_integers(labels, ds, err);
    if (st == QUANTA_OK)
        labels->n = ds->n_samples;
done:
    if (st != QUANTA_OK)
        labels_free(labels);
    dataset_close(ds);
    return st;
}

enum quanta_status labels_load(struct labels *labels, const char *path, struct quanta_error *err)
{
    return load(labels, path, false, err);
}

enum quanta_status labels_load_any(struct labels *labels, const char *path,
                                   struct quanta_error *err)
{
    return load(labels, path, true, err);
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

static enum quanta_status load_for_data(struct labels *labels, const char *data_path, bool any,
                                       struct quanta_error *err)
{
    memset(labels, 0, sizeof *labels);
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
        return has ? load(labels, data_path, any, err) : QUANTA_OK;
    }
    if (kind == IO_KIND_IDX || kind == IO_KIND_GZIP) {
        char *sibling = idx_label_sibling(data_path);
        if (!sibling)
            return QUANTA_OK;
        if (access(sibling, F_OK) == 0)
            st = load(labels, sibling, any, err);
        free(sibling);
        return st;
    }
    return QUANTA_OK;
}

enum quanta_status labels_load_for_data(struct labels *labels, const char *data_path,
                                        struct quanta_error *err)
{
    return load_for_data(labels, data_path, false, err);
}

enum quanta_status labels_load_for_data_any(struct labels *labels, const char *data_path,
                                            struct quanta_error *err)
{
    return load_for_data(labels, data_path, true, err);
}
