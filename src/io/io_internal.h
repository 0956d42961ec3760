/* Internal interfaces of src/io shared between its files (not installed). */
#ifndef QUANTA_IO_INTERNAL_H
#define QUANTA_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "quanta/data.h"
#include "quanta/status.h"

/* ---- text_check.c ---- */

/* True if s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). On false, *bad is the offset of the bad byte. */
bool io_utf8_valid(const unsigned char *s, size_t n, size_t *bad);

/* Checks JSON text before it is parsed, so the parser never sees input that
 * it would accept too leniently: valid UTF-8, no control byte outside the
 * JSON whitespace set (and none at all inside strings), no "\u0000" escape,
 * no byte order mark, and brackets nested at most max_depth deep.
 * Returns NULL when fine, else a description ("nests deeper than 64
 * levels") and the offset of the offending byte in *offset. */
const char *io_json_prescan(const char *s, size_t n, int max_depth, size_t *offset);

/* ---- dataset.c: format sniffing ---- */

enum io_kind { IO_KIND_IDX, IO_KIND_GZIP, IO_KIND_NPY, IO_KIND_SAFETENSORS };

/* Looks at the first bytes of path: IDX magic (0x00 0x00 type dims), gzip
 * magic (0x1f 0x8b), "\x93NUMPY"; anything else is taken for safetensors. */
enum quanta_status io_sniff(const char *path, enum io_kind *kind, struct quanta_error *err);

/* ---- one reader per data format ---- */

/* Reads whole samples [start, start+count) as raw little-endian bytes of
 * ds->dtype into raw (count * sample bytes). */
struct dataset_source {
    enum quanta_status (*read)(struct dataset_source *src, const struct dataset *ds,
                               int64_t start, int64_t count, void *raw,
                               struct quanta_error *err);
    void (*close)(struct dataset_source *src);
};

/* Each opener fills ds->dtype, ds->n_samples and ds->sample_shape (ds->path
 * is set) and returns its source. */
enum quanta_status dataset_open_idx(struct dataset *ds, bool gzip, struct dataset_source **src,
                                    struct quanta_error *err);
enum quanta_status dataset_open_npy(struct dataset *ds, struct dataset_source **src,
                                    struct quanta_error *err);
enum quanta_status dataset_open_safetensors(struct dataset *ds, const char *tensor_name,
                                            struct dataset_source **src,
                                            struct quanta_error *err);

/* ---- data_npy.c ---- */

/* NPY descr for a dtype ("<f4"), NULL if NPY files of it are not supported
 * (the same set is read and written). */
const char *io_npy_descr(enum quanta_dtype dtype);

#endif
