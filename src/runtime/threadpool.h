/* Internal to src/runtime: a small pool of worker threads, created once per
 * runner. threadpool_run hands out parts 0 .. parts-1 of one job: the
 * calling thread (thread 0) and the workers (threads 1 ..) take the next
 * part from a shared counter until none is left, so a slowed-down thread
 * takes fewer. Which thread runs a part depends on timing; what a part
 * computes does not, so the results never do. A job returns when every
 * part is done. Between jobs the workers poll for a fraction of a
 * millisecond, then sleep on a condition variable. */
#ifndef QUANTA_RUNTIME_THREADPOOL_H
#define QUANTA_RUNTIME_THREADPOOL_H

#include <stdint.h>
#include "quanta/status.h"

struct threadpool;

/* Part `part` of `parts` of a job, run by thread `thread` in
 * [0, threadpool_size) (for per-thread scratch). */
typedef void (*threadpool_fn)(void *ctx, int part, int parts, int thread);

/* A pool for `threads` threads in all (the caller and threads - 1
 * workers); threads <= 0 means every online core. */
enum quanta_status threadpool_create(struct threadpool **pool, int threads,
                                     struct quanta_error *err);
void threadpool_free(struct threadpool *pool);

/* Threads of the pool, the caller included (>= 1). */
int threadpool_size(const struct threadpool *pool);

/* Runs fn(ctx, p, parts, thread) once for every p in [0, parts) (parts
 * < 1 counts as 1), on whichever thread takes it first. Not reentrant: one
 * job at a time, from one thread. */
void threadpool_run(struct threadpool *pool, threadpool_fn fn, void *ctx, int parts);

/* ---- splitting a sliding-window op (conv2d, pools) over NHWC ----
 * The (sample, output row) pairs of an op are cut into `parts` contiguous
 * ranges: whole samples when batch >= parts, else rows. A range is at most
 * three pieces, each a smaller op of the same kind: samples [n0, n0 +
 * batch), output rows [oy0, oy0 + out_h) of each, reading input rows
 * [iy0, iy0 + in_h) with pad_top rows of padding above. A piece of whole
 * samples is the op itself on fewer samples; a piece of some rows shifts
 * the input down and keeps every row its windows read (and no other), so
 * every output element sees the same cells and padding as unsplit. */
struct split_piece {
    int64_t n0, batch;
    int64_t oy0, out_h;
    int64_t iy0, in_h;
    int64_t pad_top;
};

struct split_window {
    int64_t batch, in_h, out_h;
    int64_t kernel_h, stride_h, dilation_h, pad_top;
};

/* Part `part` of `parts` as pieces (returns how many, 0 for an empty
 * part), or -1 when a piece's windows would read no input row at all (the
 * caller then runs the op unsplit). */
int split_rows(const struct split_window *w, int part, int parts, struct split_piece piece[3]);

/* Largest usable number of parts <= parts: one when some part is -1. */
int split_rows_parts(const struct split_window *w, int parts);

#endif
