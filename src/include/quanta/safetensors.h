/* safetensors container: reader (mmap, every rule of model-format.md
 * section 1 checked) and writer (header padded to 8 bytes, tensors in
 * offset order, written through a temporary file and renamed into place). */
#ifndef QUANTA_SAFETENSORS_H
#define QUANTA_SAFETENSORS_H

#include <stdint.h>
#include "quanta/dtype.h"
#include "quanta/status.h"

/* Largest header accepted (model-format.md: N above 100,000,000 is refused). */
#define ST_MAX_HEADER_SIZE 100000000ull
/* Longest tensor name accepted, in bytes (an empty name is refused too). */
#define ST_MAX_NAME_LEN 4096
/* Deepest nesting of JSON objects and arrays accepted in a header (the
 * top-level object is depth 1); checked before the JSON is parsed. */
#define ST_MAX_JSON_DEPTH 64

struct st_tensor {
    const char *name;         /* owned by the st_file */
    enum quanta_dtype dtype;
    struct quanta_shape shape;
    uint64_t begin, end;      /* data_offsets, relative to the data buffer */
    const void *data;         /* points into the mapping; end-begin bytes */
};

struct st_meta {
    const char *key;
    const char *value;
};

struct st_file {
    char *path;
    void *map;                 /* whole file, read-only mapping */
    size_t map_size;
    uint64_t header_size;      /* N */
    const uint8_t *data;       /* data buffer, map + 8 + N */
    uint64_t data_size;
    struct st_tensor *tensors; /* in header order */
    size_t n_tensors;
    struct st_meta *meta;      /* __metadata__ in header order */
    size_t n_meta;
    void *strings;             /* storage behind names, keys and values */
};

/* Maps and validates path. On failure *file is left empty (safe to st_close)
 * and err says "<path>: <problem>" with status QUANTA_ERR_INPUT. */
enum quanta_status st_open(struct st_file *file, const char *path, struct quanta_error *err);
void st_close(struct st_file *file);
const struct st_tensor *st_find(const struct st_file *file, const char *name);
const char *st_meta_find(const struct st_file *file, const char *key);

/* ---- writer ---- */

struct st_tensor_desc {
    const char *name;
    enum quanta_dtype dtype;
    struct quanta_shape shape;
    const void *data;          /* may be NULL when the bytes are streamed */
};

struct st_writer;

/* Creates a temporary file next to path and writes the header for these
 * tensors, laid out in the order given (offsets ascending), with meta as
 * __metadata__ in the order given (n_meta == 0: no __metadata__ key).
 * Then call st_writer_put once per tensor, in the same order, and
 * st_writer_commit; st_writer_abort discards everything. The header holds
 * no time stamp: same input, same bytes. */
enum quanta_status st_writer_open(struct st_writer **writer, const char *path,
                                  const struct st_tensor_desc *tensors, size_t n_tensors,
                                  const struct st_meta *meta, size_t n_meta,
                                  struct quanta_error *err);
/* Appends the bytes of the next tensor (exactly its size; may be given in
 * several pieces: tensor i is complete once its size has been written). */
enum quanta_status st_writer_put(struct st_writer *writer, const void *bytes, size_t size,
                                 struct quanta_error *err);
/* Flushes, fsyncs and renames into place; frees the writer in all cases. */
enum quanta_status st_writer_commit(struct st_writer *writer, struct quanta_error *err);
void st_writer_abort(struct st_writer *writer);

/* Rewrites, in the header already written, the value of metadata entry key
 * (given to st_writer_open) as value. Its JSON text must be exactly as long
 * as the one written, so nothing moves: open with a placeholder (e.g. 64
 * '0') for a value known only once the data is written (a digest of the
 * bytes streamed). Any time before st_writer_commit; on failure the writer
 * is left for st_writer_abort. */
enum quanta_status st_writer_set_meta(struct st_writer *writer, const char *key,
                                      const char *value, struct quanta_error *err);

/* For an output much larger than it is useful to cache: from now on every
 * 32 MiB written is sent to the disk at once, and dropped from the page
 * cache when on disk. Memory stays flat and the pages are reused instead
 * of taking fresh ones (costly under a hypervisor); commit still fsyncs.
 * Advice only where the file system cannot do it. */
void st_writer_write_behind(struct st_writer *writer);

/* One call: every desc must have data. */
enum quanta_status st_write_file(const char *path, const struct st_tensor_desc *tensors,
                                 size_t n_tensors, const struct st_meta *meta, size_t n_meta,
                                 struct quanta_error *err);

#endif
