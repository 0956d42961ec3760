/* Helpers shared by the commands that run models (run, eval) and print
 * reports (inspect): streaming a data file into a graph's inputs, JSON on
 * stdout, shapes with the batch shown as N. */
#ifndef QUANTA_CLI_DATA_H
#define QUANTA_CLI_DATA_H

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>
#include "quanta/quanta.h"

/* A data file opened for a graph: one dataset per graph input (a
 * safetensors data file gives a tensor per input, named after it), checked
 * against the input shapes, read batch by batch into buffers sized for one
 * batch. Integer inputs (embedding ids, I32/I64) are read as int64, the
 * others as float normalized with the input's "normalize". */
struct cli_feed {
    const struct graph *graph;
    const char *path;
    int n_inputs;
    struct dataset **datasets;  /* n_inputs */
    void **buffers;             /* n_inputs, batch samples each */
    bool *integer;              /* n_inputs: read as int64 */
    int64_t samples;            /* samples to go through: min(file, limit),
                                   whole batches only for a fixed batch */
    int64_t batch;              /* samples per batch (the graph's fixed
                                   batch when its input has one) */
    bool *nchw;                 /* n_inputs (or NULL): samples [C, H, W]
                                   transposed to the graph's [H, W, C] */
    float *scratch;             /* one NCHW batch, when some nchw[i] */
};

/* Layout of 4-D data (run and eval --layout): NHWC is the graph's own;
 * NCHW data (models imported from ONNX) is transposed batch by batch. */
enum cli_layout { CLI_LAYOUT_NHWC, CLI_LAYOUT_NCHW };
/* "nhwc" or "nchw". */
bool cli_parse_layout(const char *text, enum cli_layout *out);
/* Opens the data file for g's inputs. limit <= 0: every sample of the
 * file. A data sample shape that differs from the graph input's shape
 * without the batch is QUANTA_ERR_INPUT; with CLI_LAYOUT_NCHW a 4-D graph
 * input [N, H, W, C] also takes samples [C, H, W], transposed as they are
 * read (and normalized after, so per-channel mean/std apply to C). */
enum quanta_status cli_feed_open_layout(struct cli_feed *feed, const struct graph *g,
                                        const char *path, int64_t limit, int64_t batch,
                                        enum cli_layout layout, struct quanta_error *err);
/* Reads samples [start, start + count) (count <= batch) into the buffers. */
enum quanta_status cli_feed_read(struct cli_feed *feed, int64_t start, int64_t count,
                                 struct quanta_error *err);
/* The buffers as runner_run wants them. */
static inline const void *const *cli_feed_inputs(const struct cli_feed *feed)
{
    return (const void *const *)feed->buffers;
}
void cli_feed_close(struct cli_feed *feed);

/* True when graphs a and b take the same inputs (count, dtype, shape and
 * normalize), so that one feed serves both. */
bool cli_feed_shared(const struct graph *a, const struct graph *b);

/* Size of a file in bytes, -1 if it cannot be stat'ed. */
int64_t cli_file_size(const char *path);

/* "[N, 28, 28, 1]": a shape whose first dim is -1 shows it as N. */
char *cli_shape_format(const struct quanta_shape *shape, char *buf, size_t size);
/* The shape as a JSON array of integers (-1 kept as -1); NULL on no memory. */
cJSON *cli_json_shape(const struct quanta_shape *shape);
/* Adds a number, or null when v is NaN or infinite; false on no memory. */
bool cli_json_add_number(cJSON *object, const char *key, double v);

/* Prints root on stdout followed by a newline and frees it. QUANTA_ERR_NOMEM
 * when root is NULL or cannot be printed (then err is filled). */
enum quanta_status cli_json_print(cJSON *root, struct quanta_error *err);

/* For getopt_long (optstring starting with ':', opterr 0): c is the ':'
 * or '?' it returned. Prints the usage error and returns exit code 2. */
/* "quanta <command>: warning: <source>: value 'x': N NaN or infinite
 * elements were left out of its range" on stderr for each such value. */
struct calib_table;
void cli_warn_nonfinite(const char *command, const char *source, const struct calib_table *t);

int cli_option_error(const char *command, const char *usage, int c, char **argv);

/* Values of the options several commands share, with the same range and
 * message everywhere: each parses text into *out and returns 0, or prints
 * the usage error and returns exit code 2. */
int cli_opt_batch(const char *command, const char *usage, const char *text, int64_t *out);
int cli_opt_samples(const char *command, const char *usage, const char *text, int64_t *out);
int cli_opt_threads(const char *command, const char *usage, const char *text, int64_t *out);
int cli_opt_layout(const char *command, const char *usage, const char *text,
                   enum cli_layout *out);

/* The one operand MODEL left by getopt_long at argv[optind]: 0, or the
 * usage error when there is none or more than one (exit code 2). */
int cli_one_model(const char *command, const char *usage, int argc, char **argv,
                  const char **model);

/* Refuses an output that would replace input1 or input2 (NULL: none) or a
 * file that is not a regular one: prints the usage error and returns exit
 * code 2, else 0. */
int cli_output_not_input(const char *command, const char *usage, const char *output,
                         const char *input1, const char *input2);

/* model_open for a command that needs a graph: a model without one is
 * closed again and fails with QUANTA_ERR_INPUT "PATH: has no graph<why>". */
enum quanta_status cli_model_open_graph(struct model *m, const char *path, const char *why,
                                        struct quanta_error *err);

#endif
