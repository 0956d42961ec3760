/* A model file: the safetensors container and, when it has one, its graph. */
#include "quanta/graph.h"

#include <string.h>

enum quanta_status model_open(struct model *m, const char *path, struct quanta_error *err)
{
    enum quanta_status st;
    memset(m, 0, sizeof *m);
    if ((st = st_open(&m->file, path, err)))
        return st;
    if (!st_meta_find(&m->file, "quanta.graph"))
        return QUANTA_OK; /* a bag of tensors */
    if ((st = graph_load(&m->graph, &m->file, err))) {
        st_close(&m->file);
        memset(m, 0, sizeof *m);
        return st;
    }
    m->has_graph = true;
    return QUANTA_OK;
}

void model_close(struct model *m)
{
    if (!m)
        return;
    if (m->has_graph)
        graph_free(&m->graph);
    st_close(&m->file);
    memset(m, 0, sizeof *m);
}

bool model_data_nchw(const struct model *m)
{
    const char *layout = st_meta_find(&m->file, "quanta.import.layout");
    return layout && strcmp(layout, "nchw") == 0;
}
