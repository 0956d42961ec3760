/* The command-line front end: one cmd_<name>.c per subcommand, each a thin
 * layer of option parsing over a library call, listed in main.c. */
#ifndef QUANTA_CLI_H
#define QUANTA_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include "quanta/quanta.h"

/* Prints "quanta: <message>" on stderr and returns err->status, which is
 * the exit code (see man/quanta.1). */
int cli_report(const struct quanta_error *err);

/* Usage error: prints "quanta <command>: <message>" and the usage line on
 * stderr, returns QUANTA_ERR_USAGE (exit code 2). */
int cli_usage_error(const char *command, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints the full help text on stdout and returns 0 (for --help). */
int cli_help(const char *help);

/* Strict number parsing for option values: the whole string must be a
 * number within [min, max]. */
bool cli_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);
bool cli_parse_double(const char *text, double *out);

#define CLI_COMMAND_LIST(X)                                                    \
    X(inspect, "show a model's graph and tensors")                             \
    X(run, "run a model on data and print predictions")                        \
    X(eval, "measure accuracy and latency of one or two models")               \
    X(report, "write an HTML page comparing a float model with its int8 copy")\
    X(quantize, "write an int8 (or weight-only, fp16) copy of a float model")  \
    X(dequantize, "turn a quantized model back into a float model")          \
    X(calibrate, "record activation ranges of a float model over data")      \
    X(import, "convert an ONNX model to a quanta model")                      \
    X(export, "write a quanta model (float or int8) as an ONNX model")        \
    X(bench, "measure latency, throughput and GOP/s of models")                \
    X(profile, "show where a model's time goes, node by node")

#define CLI_DECLARE(name, summary) int cmd_##name(int argc, char **argv);
CLI_COMMAND_LIST(CLI_DECLARE)
#undef CLI_DECLARE

#endif
