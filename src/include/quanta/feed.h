/* A data file streamed into a graph's inputs, batch by batch, in constant
 * memory: run, eval, calibrate and quantize's check all read data this
 * way, so every command takes the same files in the same layouts. */
#ifndef QUANTA_FEED_H
#define QUANTA_FEED_H

#include <stdbool.h>
#include <stdint.h>
#include "quanta/data.h"
#include "quanta/graph.h"
#include "quanta/status.h"

/* Layout of 4-D image data. NHWC is the graph's own; NCHW data (the layout
 * of models imported from ONNX, which record "quanta.import.layout") is
 * transposed batch by batch. */
enum quanta_layout { QUANTA_LAYOUT_NHWC, QUANTA_LAYOUT_NCHW };

/* One dataset per graph input (a safetensors data file gives a tensor per
 * input, named after it). Integer inputs (embedding ids, I32/I64) are read
 * as int64, the others as float normalized with the input's "normalize".
 * A float input declares the element type of its data (graph_input_dtype):
 * data of another dtype is accepted only when it converts exactly (U8 or
 * I8 data for F16, BF16, I16 or F64; any but I64 for F64; BOOL for any),
 * except that F32 inputs take any numeric data as before but I32/I64 (ids,
 * the wrong file); F64 data is rounded to the nearest float. An id input
 * takes integer data only. */
struct progress;

struct data_feed {
    const struct graph *graph;
    const char *path;
    int n_inputs;
    struct dataset **datasets;  /* n_inputs */
    void **buffers;             /* n_inputs, batch samples each */
    bool *integer;              /* n_inputs: read as int64 */
    int64_t *id_limit;          /* n_inputs: ids must be in [0, id_limit)
                                   (the smallest table an embedding reads
                                   them from), 0: no table reads them */
    int *id_reader;             /* n_inputs: that embedding's node, or -1 */
    int64_t samples;            /* samples to go through: min(file, limit),
                                   whole batches only for a fixed batch */
    int64_t batch;              /* samples per batch (the graph's fixed
                                   batch when its input has one) */
    int64_t skipped;            /* samples after the last whole batch of a
                                   fixed batch size: never read (callers
                                   warn, see data_feed_skipped_note) */
    bool *nchw;                 /* n_inputs (or NULL): samples [C, H, W]
                                   transposed to the graph's [H, W, C] */
    float *scratch;             /* one NCHW batch, when some nchw[i] */
    struct progress *progress;  /* NULL (data_feed_open's): none; else each
                                   data_feed_read shows start + count of
                                   samples (base/progress.h) */
};

/* One line telling that feed->skipped samples are not run, into buf
 * (empty when none are skipped); returns buf. */
const char *data_feed_skipped_note(const struct data_feed *feed, char *buf, size_t size);

/* Opens the data file for g's inputs. limit <= 0: every sample of the
 * file. A data sample shape that differs from the graph input's shape
 * without the batch is QUANTA_ERR_INPUT; with QUANTA_LAYOUT_NCHW a 4-D
 * graph input [N, H, W, C] also takes samples [C, H, W], transposed as they
 * are read (and normalized after, so per-channel mean/std apply to C);
 * samples that already are [H, W, C] are read as they are. */
enum quanta_status data_feed_open(struct data_feed *feed, const struct graph *g,
                                  const char *path, int64_t limit, int64_t batch,
                                  enum quanta_layout layout, struct quanta_error *err);
/* Reads samples [start, start + count) (count <= batch) into the buffers.
 * An id outside the table of an embedding that reads the input is
 * QUANTA_ERR_INPUT naming the file, the input, the sample and the node. */
enum quanta_status data_feed_read(struct data_feed *feed, int64_t start, int64_t count,
                                  struct quanta_error *err);
/* The buffers as runner_run wants them. */
static inline const void *const *data_feed_inputs(const struct data_feed *feed)
{
    return (const void *const *)feed->buffers;
}
void data_feed_close(struct data_feed *feed);

/* True when graphs a and b take the same inputs (count, dtype, shape and
 * normalize), so that one feed serves both. */
bool data_feed_shared(const struct graph *a, const struct graph *b);

#endif
