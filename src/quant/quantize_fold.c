/* The float graph the quantizer starts from: the graph optimizer's
 * rewrite (graph_optimize.h), with the activation fusion int8 kernels
 * support (relu, relu6 as a clamp), so the int8 model quantizes the same
 * folded weights the float runner runs. batch_norm folding lives there. */
#include "quanta/quantize.h"
#include "graph/graph_optimize.h"

enum quanta_status quantize_fold(const struct graph *src, bool fuse_relu,
                                 const char *const *exclude, int n_exclude, struct graph *out,
                                 const char *source, struct quanta_error *err)
{
    struct graph_optimize_options opt = {
        .fuse = fuse_relu ? GRAPH_FUSE_INT8 : GRAPH_FUSE_NONE,
        .batch_norm_as_conv = fuse_relu, /* int8 runs it, no float round trip */
        .exclude = exclude,
        .n_exclude = n_exclude,
    };
    return graph_optimize(src, &opt, out, NULL, source, err);
}
