/* safetensors data files: one tensor of samples (first axis = samples),
 * named by the caller or else the only tensor other than "labels". The file
 * is mapped (st_open), so reading is a copy out of the mapping. */
#include "quanta/data.h"

#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "quanta/safetensors.h"

struct st_source {
    struct dataset_source base;
    struct st_file file;
    const struct st_tensor *tensor;
    size_t sample_bytes;
};

static void st_source_close(struct dataset_source *base)
{
    struct st_source *s = (struct st_source *)base;
    st_close(&s->file);
    free(s);
}

static enum quanta_status st_source_read(struct dataset_source *base, const struct dataset *ds,
                                         int64_t start, int64_t count, void *raw,
                                         struct quanta_error *err)
{
    (void)ds;
    (void)err;
    struct st_source *s = (struct st_source *)base;
    memcpy(raw, (const unsigned char *)s->tensor->data + (size_t)start * s->sample_bytes,
           (size_t)count * s->sample_bytes);
    return QUANTA_OK;
}

enum quanta_status dataset_open_safetensors(struct dataset *ds, const char *tensor_name,
                                            struct dataset_source **out,
                                            struct quanta_error *err)
{
    const char *path = ds->path;
    enum quanta_status st;
    *out = NULL;
    struct st_source *s = calloc(1, sizeof *s);
    if (!s)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    s->base.read = st_source_read;
    s->base.close = st_source_close;
    st = st_open(&s->file, path, err);
    if (st != QUANTA_OK)
        goto fail;
    if (tensor_name) {
        s->tensor = st_find(&s->file, tensor_name);
        if (!s->tensor) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: no tensor named '%s'", path,
                             tensor_name);
            goto fail;
        }
    } else {
        size_t candidates = 0;
        for (size_t i = 0; i < s->file.n_tensors; i++) {
            if (strcmp(s->file.tensors[i].name, "labels") != 0) {
                candidates++;
                s->tensor = &s->file.tensors[i];
            }
        }
        if (candidates != 1) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             candidates ? "%s: %zu tensors besides 'labels': name the one "
                                          "holding the samples"
                                        : "%s: %zu tensors besides 'labels': no samples",
                             path, candidates);
            goto fail;
        }
    }
    const struct st_tensor *t = s->tensor;
    if (t->dtype == QUANTA_I4) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s' is I4 (packed 4-bit), which "
                                                "is for embedding tables, not data",
                         path, t->name);
        goto fail;
    }
    if (t->shape.rank < 1) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s' is a scalar: no sample axis",
                         path, t->name);
        goto fail;
    }
    ds->dtype = t->dtype;
    ds->n_samples = t->shape.dims[0];
    ds->sample_shape.rank = t->shape.rank - 1;
    for (int i = 1; i < t->shape.rank; i++)
        ds->sample_shape.dims[i - 1] = t->shape.dims[i];
    int64_t numel = quanta_shape_numel(&ds->sample_shape);
    s->sample_bytes = numel < 0 ? 0 : (size_t)numel * quanta_dtype_size(t->dtype);
    *out = &s->base;
    return QUANTA_OK;
fail:
    st_source_close(&s->base);
    return st;
}
