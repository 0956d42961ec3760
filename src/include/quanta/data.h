/* Data sets for calibration and evaluation (model-format.md section 4):
 * IDX (raw or gzip), NPY (1.0/2.0/3.0) and safetensors. Samples are read in
 * batches, front to back; memory is one batch, never the whole file. */
#ifndef QUANTA_DATA_H
#define QUANTA_DATA_H

#include <stdint.h>
#include "quanta/dtype.h"
#include "quanta/status.h"

/* Applied to integer data only: x = (raw * scale - mean[c]) / std[c],
 * c the index on the last axis; a one-element list applies to every c. */
struct quanta_normalize {
    double scale;
    int n_mean;
    const float *mean;
    int n_std;
    const float *std;
};

enum dataset_format { DATASET_IDX, DATASET_NPY, DATASET_SAFETENSORS };

struct dataset {
    char *path;
    enum dataset_format format;
    enum quanta_dtype dtype;         /* element type stored in the file */
    int64_t n_samples;               /* first axis */
    struct quanta_shape sample_shape;/* without the sample axis; IDX images
                                        [H,W] are given as [H,W,1] */
    void *impl;                      /* format-specific reader state */
};

/* Opens path, sniffing the format from its content (IDX magic, gzip magic,
 * "\x93NUMPY", else safetensors). For safetensors, tensor_name selects the
 * samples tensor (NULL: the only tensor other than "labels"). Checks that
 * the file holds as many bytes as its header promises. */
enum quanta_status dataset_open(struct dataset **ds, const char *path, const char *tensor_name,
                                struct quanta_error *err);
void dataset_close(struct dataset *ds);

/* Reads samples [start, start+count) as float: integer data is normalized
 * with norm (NULL: identity), float data is converted as it is. out holds
 * count * prod(sample_shape) floats. Reading is fastest front to back. */
enum quanta_status dataset_read_f32(struct dataset *ds, int64_t start, int64_t count,
                                    const struct quanta_normalize *norm, float *out,
                                    struct quanta_error *err);
/* Same for integer ids (embedding inputs): out holds int64. Float data with
 * non-integer values is an error. */
enum quanta_status dataset_read_i64(struct dataset *ds, int64_t start, int64_t count,
                                    int64_t *out, struct quanta_error *err);

/* Labels: an IDX label file, an NPY of integers, or the "labels" tensor of a
 * safetensors data file. Loads all labels (one int32 per sample). */
struct labels {
    int64_t n;                  /* samples */
    int32_t *values;            /* integer labels, n * per_sample; NULL for floats */
    float *targets;             /* float labels (labels_load_any only), n * per_sample */
    int64_t per_sample;         /* elements per sample: 1 from labels_load */
    struct quanta_shape sample_shape;   /* without the sample axis */
    enum quanta_dtype dtype;    /* as stored in the file */
    char *path;                 /* the file they came from */
};
enum quanta_status labels_load(struct labels *labels, const char *path, struct quanta_error *err);
/* As labels_load, but any sample shape (token labels [N, T]) and float
 * labels too (regression targets, in targets instead of values). */
enum quanta_status labels_load_any(struct labels *labels, const char *path,
                                   struct quanta_error *err);
/* Finds labels for a data file when none are named: the "labels" tensor of
 * a safetensors file, or the IDX sibling ("...images-idx3..." ->
 * "...labels-idx1..."). Returns QUANTA_OK with labels->n == 0 when there
 * are none. */
enum quanta_status labels_load_for_data(struct labels *labels, const char *data_path,
                                        struct quanta_error *err);
/* The same with labels_load_any's rules. */
enum quanta_status labels_load_for_data_any(struct labels *labels, const char *data_path,
                                            struct quanta_error *err);
void labels_free(struct labels *labels);

/* NPY writer (C order, little-endian, version 1.0 header), through a
 * temporary file renamed into place. */
enum quanta_status npy_write(const char *path, enum quanta_dtype dtype,
                             const struct quanta_shape *shape, const void *data,
                             struct quanta_error *err);

#endif
