/* quanta inspect's report: what a model file holds (graph, tensors with
 * their statistics, inputs, outputs, planned activation memory, metadata),
 * gathered once, then printed as aligned text or JSON. */
#ifndef QUANTA_REPORT_INSPECT_H
#define QUANTA_REPORT_INSPECT_H

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>

#include "graph/graph_optimize.h"
#include "quanta/runtime.h"

/* Statistics of a tensor's stored values, converted to float. */
struct report_tensor_stats {
    int64_t count;
    double min, max, mean, std;
};

struct report_inspect {
    const char *path;
    struct model model;
    int64_t file_bytes;
    struct report_tensor_stats *stats;     /* per tensor of the file */
    int64_t parameters;             /* elements of every tensor */
    bool optimized;                 /* --optimized: model.graph is the optimized one */
    struct graph_optimize_log log;
    bool arena_known;
    size_t arena_bytes;
    char arena_error[QUANTA_ERROR_MESSAGE_MAX];
};

/* Opens path and gathers the report; optimized: the graph the runner runs
 * (graph_optimize's), with what each pass did. Close it even on failure. */
enum quanta_status report_inspect_open(struct report_inspect *in, const char *path,
                                       bool optimized, struct quanta_error *err);
void report_inspect_close(struct report_inspect *in);
/* The tables on stdout (inspect_print.c). */
void report_inspect_print(const struct report_inspect *in);
/* One JSON object; NULL on no memory. */
cJSON *report_inspect_json(const struct report_inspect *in);

#endif
