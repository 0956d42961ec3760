/* graph_save: a graph back to a model file (safetensors, graph in
 * __metadata__["quanta.graph"]). */
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>

enum quanta_status graph_save(const struct graph *g, const char *path,
                              const struct st_meta *extra_meta, size_t n_extra,
                              struct quanta_error *err)
{
    enum quanta_status st;
    bool *used = calloc((size_t)g->n_values + 1, sizeof *used);
    int *order = calloc((size_t)g->n_values + 1, sizeof *order);
    struct st_tensor_desc *descs = calloc((size_t)g->n_values + 1, sizeof *descs);
    struct st_meta *meta = calloc(n_extra + 1, sizeof *meta);
    char *json = graph_to_json(g);
    if (!used || !order || !descs || !meta || !json) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    /* Tensors: every constant a node (or a graph output, or a per-channel
     * quant entry) uses, in order of first use. */
    int n = graph_saved_consts(g, used, order);
    for (int i = 0; i < n; i++) {
        const struct graph_value *v = &g->values[order[i]];
        descs[i].name = v->name;
        descs[i].dtype = v->dtype;
        descs[i].shape = v->shape;
        descs[i].data = v->data;
    }
    size_t n_meta = 0;
    meta[n_meta++] = (struct st_meta){"quanta.graph", json};
    for (size_t i = 0; i < n_extra; i++)
        if (strcmp(extra_meta[i].key, "quanta.graph") != 0)
            meta[n_meta++] = extra_meta[i];
    st = st_write_file(path, descs, (size_t)n, meta, n_meta, err);
fail:
    free(used);
    free(order);
    free(descs);
    free(meta);
    free(json);
    return st;
}
