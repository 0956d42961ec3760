/* Data sets: format sniffing, and the format-independent half of reading
 * (conversion to float with normalization, or to int64 ids). Each format
 * reader (data_idx.c, data_npy.c, data_safetensors.c) only delivers raw
 * samples. Memory: the caller's batch plus one bounded scratch chunk. */
#include "quanta/data.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

/* Raw bytes converted per step; bigger samples go one at a time. */
#define SCRATCH_TARGET (256u * 1024u)

struct dataset_impl {
    struct dataset_source *src;
    size_t sample_numel;
    size_t sample_bytes;
    unsigned char *scratch;
    size_t scratch_size;
};

enum quanta_status io_sniff(const char *path, enum io_kind *kind, struct quanta_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[8] = {0};
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    static const unsigned char idx_types[] = {0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e};
    *kind = IO_KIND_SAFETENSORS;
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        *kind = IO_KIND_GZIP;
    else if (n >= 6 && memcmp(m, "\x93NUMPY", 6) == 0)
        *kind = IO_KIND_NPY;
    else if (n >= 4 && m[0] == 0 && m[1] == 0 && memchr(idx_types, m[2], sizeof idx_types))
        *kind = IO_KIND_IDX;
    return QUANTA_OK;
}

void dataset_close(struct dataset *ds)
{
    if (!ds)
        return;
    struct dataset_impl *impl = ds->impl;
    if (impl) {
        if (impl->src)
            impl->src->close(impl->src);
        free(impl->scratch);
        free(impl);
    }
    free(ds->path);
    free(ds);
}

enum quanta_status dataset_open(struct dataset **out, const char *path, const char *tensor_name,
                                struct quanta_error *err)
{
    *out = NULL;
    enum io_kind kind;
    enum quanta_status st = io_sniff(path, &kind, err);
    if (st != QUANTA_OK)
        return st;
    struct dataset *ds = calloc(1, sizeof *ds);
    struct dataset_impl *impl = calloc(1, sizeof *impl);
    char *copy = strdup(path);
    if (!ds || !impl || !copy) {
        free(ds);
        free(impl);
        free(copy);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    }
    ds->path = copy;
    ds->impl = impl;
    switch (kind) {
    case IO_KIND_IDX:
    case IO_KIND_GZIP:
        ds->format = DATASET_IDX;
        st = dataset_open_idx(ds, kind == IO_KIND_GZIP, &impl->src, err);
        break;
    case IO_KIND_NPY:
        ds->format = DATASET_NPY;
        st = dataset_open_npy(ds, &impl->src, err);
        break;
    case IO_KIND_SAFETENSORS:
        ds->format = DATASET_SAFETENSORS;
        st = dataset_open_safetensors(ds, tensor_name, &impl->src, err);
        break;
    }
    if (st != QUANTA_OK) {
        dataset_close(ds);
        return st;
    }
    int64_t numel = quanta_shape_numel(&ds->sample_shape);
    size_t esize = quanta_dtype_size(ds->dtype);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / 8 / esize) {
        dataset_close(ds);
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: samples are too large", path);
    }
    if (numel == 0 && ds->n_samples > 0) {
        /* nothing in the file backs the sample count: a 16-byte IDX header
         * could otherwise announce 4 billion samples for readers to loop over */
        char text[128];
        quanta_shape_format(&ds->sample_shape, text, sizeof text);
        int64_t n = ds->n_samples;
        dataset_close(ds);
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: %" PRId64 " samples of shape %s hold no elements", path, n, text);
    }
    impl->sample_numel = (size_t)numel;
    impl->sample_bytes = (size_t)numel * esize;
    *out = ds;
    return QUANTA_OK;
}

/* Checks the range and makes room for one chunk; returns samples per chunk. */
static enum quanta_status prepare(struct dataset *ds, int64_t start, int64_t count,
                                  int64_t *chunk, struct quanta_error *err)
{
    struct dataset_impl *impl = ds->impl;
    if (start < 0 || count < 0 || start > ds->n_samples || count > ds->n_samples - start)
        return quanta_fail(err, QUANTA_ERR_INTERNAL,
                           "%s: samples [%" PRId64 ", %" PRId64 ") are outside the %" PRId64
                           " in the file",
                           ds->path, start, start + count, ds->n_samples);
    size_t per = impl->sample_bytes ? SCRATCH_TARGET / impl->sample_bytes : SCRATCH_TARGET;
    if (per == 0)
        per = 1;
    *chunk = (int64_t)per;
    size_t need = per * impl->sample_bytes;
    if (count > 0 && need > impl->scratch_size) {
        unsigned char *bigger = realloc(impl->scratch, need);
        if (!bigger)
            return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for a read buffer",
                               ds->path);
        impl->scratch = bigger;
        impl->scratch_size = need;
    }
    return QUANTA_OK;
}

static bool is_integer_type(enum quanta_dtype dtype)
{
    return !quanta_dtype_is_float(dtype);
}

/* Element i of raw integer data as a double (exact for all but huge I64). */
static double raw_integer(enum quanta_dtype dtype, const unsigned char *p, size_t i)
{
    switch (dtype) {
    case QUANTA_U8: return p[i];
    case QUANTA_BOOL: return p[i] ? 1 : 0;
    case QUANTA_I8: return (int8_t)p[i];
    case QUANTA_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case QUANTA_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case QUANTA_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case QUANTA_U16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case QUANTA_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case QUANTA_U64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    default: return 0;
    }
}

enum quanta_status dataset_read_f32(struct dataset *ds, int64_t start, int64_t count,
                                    const struct quanta_normalize *norm, float *out,
                                    struct quanta_error *err)
{
    struct dataset_impl *impl = ds->impl;
    int64_t chunk;
    enum quanta_status st = prepare(ds, start, count, &chunk, err);
    if (st != QUANTA_OK || count == 0 || impl->sample_bytes == 0)
        return st; /* nothing to read (samples of 0 elements hold no bytes) */
    bool integer = is_integer_type(ds->dtype);
    int64_t channels = ds->sample_shape.rank ? ds->sample_shape.dims[ds->sample_shape.rank - 1] : 1;
    if (integer && norm) {
        if ((norm->n_mean != 0 && norm->n_mean != 1 && norm->n_mean != channels) ||
            (norm->n_std != 0 && norm->n_std != 1 && norm->n_std != channels))
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: normalize has %d mean and %d std values but the samples "
                               "have %" PRId64 " channels",
                               ds->path, norm->n_mean, norm->n_std, channels);
        for (int c = 0; c < norm->n_std; c++)
            if (!(norm->std[c] != 0))
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: normalize std[%d] is %g",
                                   ds->path, c, (double)norm->std[c]);
    }
    for (int64_t done = 0; done < count;) {
        int64_t n = count - done < chunk ? count - done : chunk;
        st = impl->src->read(impl->src, ds, start + done, n, impl->scratch, err);
        if (st != QUANTA_OK)
            return st;
        size_t elems = (size_t)n * impl->sample_numel;
        float *dst = out + (size_t)done * impl->sample_numel;
        if (!integer) {
            quanta_convert_to_f32(ds->dtype, impl->scratch, dst, elems);
        } else if (!norm) {
            for (size_t i = 0; i < elems; i++)
                dst[i] = (float)raw_integer(ds->dtype, impl->scratch, i);
        } else {
            for (size_t i = 0; i < elems; i++) {
                size_t c = channels > 0 ? i % (size_t)channels : 0;
                double mean = norm->n_mean == 0 ? 0.0
                              : norm->mean[norm->n_mean == 1 ? 0 : c];
                double sd = norm->n_std == 0 ? 1.0 : norm->std[norm->n_std == 1 ? 0 : c];
                double raw = raw_integer(ds->dtype, impl->scratch, i);
                dst[i] = (float)((raw * norm->scale - mean) / sd);
            }
        }
        done += n;
    }
    return QUANTA_OK;
}

enum quanta_status dataset_read_i64(struct dataset *ds, int64_t start, int64_t count,
                                    int64_t *out, struct quanta_error *err)
{
    struct dataset_impl *impl = ds->impl;
    int64_t chunk;
    enum quanta_status st = prepare(ds, start, count, &chunk, err);
    if (st != QUANTA_OK || count == 0 || impl->sample_bytes == 0)
        return st; /* nothing to read (samples of 0 elements hold no bytes) */
    for (int64_t done = 0; done < count;) {
        int64_t n = count - done < chunk ? count - done : chunk;
        st = impl->src->read(impl->src, ds, start + done, n, impl->scratch, err);
        if (st != QUANTA_OK)
            return st;
        size_t elems = (size_t)n * impl->sample_numel;
        int64_t *dst = out + (size_t)done * impl->sample_numel;
        const unsigned char *p = impl->scratch;
        for (size_t i = 0; i < elems; i++) {
            switch (ds->dtype) {
            case QUANTA_I64:
                memcpy(&dst[i], p + 8 * i, 8);
                break;
            case QUANTA_U64: {
                uint64_t v;
                memcpy(&v, p + 8 * i, 8);
                if (v > (uint64_t)INT64_MAX)
                    return quanta_fail(err, QUANTA_ERR_INPUT,
                                       "%s: sample %" PRId64 " element %zu is %" PRIu64
                                       ", above the largest id (2^63 - 1)",
                                       ds->path, start + done + (int64_t)(i / impl->sample_numel),
                                       i % impl->sample_numel, v);
                dst[i] = (int64_t)v;
                break;
            }
            case QUANTA_U32: {
                uint32_t v;
                memcpy(&v, p + 4 * i, 4);
                dst[i] = v;
                break;
            }
            case QUANTA_F32:
            case QUANTA_F64:
            case QUANTA_F16:
            case QUANTA_BF16: {
                double v;
                if (ds->dtype == QUANTA_F64) {
                    memcpy(&v, p + 8 * i, 8);
                } else {
                    float f;
                    quanta_convert_to_f32(ds->dtype, p + i * quanta_dtype_size(ds->dtype), &f, 1);
                    v = f;
                }
                /* -2^63 <= v < 2^63 and whole */
                if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) || v != floor(v))
                    return quanta_fail(err, QUANTA_ERR_INPUT,
                                       "%s: sample %" PRId64 " element %zu is %g, not an integer",
                                       ds->path, start + done + (int64_t)(i / impl->sample_numel),
                                       i % impl->sample_numel, v);
                dst[i] = (int64_t)v;
                break;
            }
            default:
                dst[i] = (int64_t)raw_integer(ds->dtype, p, i);
                break;
            }
        }
        done += n;
    }
    return QUANTA_OK;
}
