/* Helpers shared by the commands: layouts, file sizes, JSON on stdout
 * (shapes and numbers as the reports print them: report/report.h). */
#ifndef QUANTA_CLI_DATA_H
#define QUANTA_CLI_DATA_H

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>
#include "quanta/feed.h"
#include "quanta/quanta.h"

/* "nhwc" or "nchw". */
bool cli_parse_layout(const char *text, enum quanta_layout *out);

/* Size of a file in bytes, -1 if it cannot be stat'ed. */
int64_t cli_file_size(const char *path);

/* Prints root on stdout followed by a newline and frees it. QUANTA_ERR_NOMEM
 * when root is NULL or cannot be printed (then err is filled). */
enum quanta_status cli_json_print(cJSON *root, struct quanta_error *err);

/* For getopt_long (optstring starting with ':', opterr 0): c is the ':'
 * or '?' it returned. Prints the usage error and returns exit code 2. */
/* "quanta <command>: warning: <source>: value 'x': N NaN or infinite
 * elements were left out of its range" on stderr for each such value. */
struct calib_table;
/* The warning for samples a fixed batch size leaves out (if any). */
void cli_warn_skipped(const char *command, const struct data_feed *feed);
void cli_warn_nonfinite(const char *command, const char *source, const struct calib_table *t);

int cli_option_error(const char *command, const char *usage, int c, char **argv);

/* Values of the options several commands share, with the same range and
 * message everywhere: each parses text into *out and returns 0, or prints
 * the usage error and returns exit code 2. */
int cli_opt_batch(const char *command, const char *usage, const char *text, int64_t *out);
int cli_opt_samples(const char *command, const char *usage, const char *text, int64_t *out);
int cli_opt_threads(const char *command, const char *usage, const char *text, int64_t *out);
int cli_opt_layout(const char *command, const char *usage, const char *text, int *out);
/* The layout --layout gave (given >= 0), else the model's own: NCHW for a
 * model imported from ONNX (model_data_nchw), NHWC otherwise. */
enum quanta_layout cli_layout(int given, const struct model *m);

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
