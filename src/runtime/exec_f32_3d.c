/* Float execution of the 3-D windows (conv3d, max_pool3d, avg_pool3d):
 * graph attrs and shapes to kernel params; the samples of a batch are
 * cut into parts for the thread pool (a sample is computed the same way
 * whatever its part). */
#include "runtime/runner_internal.h"

#include <math.h>

struct window3d_job {
    const struct runner *r;
    const struct graph_node *nd;
    struct f32_conv3d_params conv;
    struct f32_pool3d_params pool;
    const float *x, *w, *b;
    float *y;
    size_t x_sample, y_sample; /* floats per sample */
};

static void window3d_part(void *ctx, int part, int parts, int thread)
{
    (void)thread; /* no scratch */
    const struct window3d_job *j = ctx;
    const size_t batch = j->nd->op == GRAPH_OP_CONV3D ? j->conv.batch : j->pool.batch;
    int64_t b0, b1;
    runner_range((int64_t)batch, 1, part, parts, &b0, &b1);
    if (b1 <= b0)
        return;
    const float *x = j->x + (size_t)b0 * j->x_sample;
    float *y = j->y + (size_t)b0 * j->y_sample;
    const struct f32_kernels *k = j->r->f32;
    if (j->nd->op == GRAPH_OP_CONV3D) {
        struct f32_conv3d_params q = j->conv;
        q.batch = (size_t)(b1 - b0);
        k->conv3d(&q, x, j->w, j->b, y);
    } else {
        struct f32_pool3d_params q = j->pool;
        q.batch = (size_t)(b1 - b0);
        (j->nd->op == GRAPH_OP_MAX_POOL3D ? k->max_pool3d : k->avg_pool3d)(&q, x, y);
    }
}

void exec_f32_window3d(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *xs = &r->values[nd->inputs[0]].shape;
    const struct quanta_shape *ys = &r->values[nd->outputs[0]].shape;
    const struct graph_attrs *a = &nd->attrs;
    struct window3d_job j = {.r = r, .nd = nd, .x = r->values[nd->inputs[0]].view, .y = y};
    size_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3];
    const bool conv = nd->op == GRAPH_OP_CONV3D;
    const struct quanta_shape *ws = conv ? &r->values[nd->inputs[1]].shape : NULL;
    for (int i = 0; i < 3; i++) {
        in[i] = (size_t)xs->dims[i + 1];
        out[i] = (size_t)ys->dims[i + 1];
        kernel[i] = conv ? (size_t)ws->dims[i + 1] : (size_t)a->kernel[i];
        stride[i] = (size_t)a->strides[i];
        dilation[i] = nd->op == GRAPH_OP_AVG_POOL3D ? 1 : (size_t)a->dilations[i];
        pad[i] = (size_t)a->pads[i];
    }
    const size_t batch = (size_t)xs->dims[0], in_c = (size_t)xs->dims[4];
    const size_t out_c = (size_t)ys->dims[4];
    size_t taps = kernel[0] * kernel[1] * kernel[2];
    j.x_sample = in[0] * in[1] * in[2] * in_c;
    j.y_sample = out[0] * out[1] * out[2] * out_c;
    int64_t work = (int64_t)(batch * j.y_sample * taps);
    if (conv) {
        /* the fused activations of a file: none, relu, relu6 */
        j.conv = (struct f32_conv3d_params){
            .batch = batch, .in_c = in_c, .out_c = out_c, .groups = (size_t)a->groups,
            .out_min = a->activation == GRAPH_ACT_NONE ? -INFINITY : 0.0f,
            .out_max = a->activation == GRAPH_ACT_RELU6 ? 6.0f : INFINITY};
        for (int i = 0; i < 3; i++) {
            j.conv.in[i] = in[i], j.conv.out[i] = out[i], j.conv.kernel[i] = kernel[i];
            j.conv.stride[i] = stride[i], j.conv.dilation[i] = dilation[i], j.conv.pad[i] = pad[i];
        }
        j.w = r->values[nd->inputs[1]].view;
        j.b = nd->n_inputs > 2 && nd->inputs[2] >= 0 ? r->values[nd->inputs[2]].view : NULL;
        work *= (int64_t)(in_c / j.conv.groups);
    } else {
        j.pool = (struct f32_pool3d_params){.batch = batch, .channels = in_c};
        for (int i = 0; i < 3; i++) {
            j.pool.in[i] = in[i], j.pool.out[i] = out[i], j.pool.kernel[i] = kernel[i];
            j.pool.stride[i] = stride[i], j.pool.dilation[i] = dilation[i], j.pool.pad[i] = pad[i];
        }
    }
    int parts = runner_parts(r, work);
    if ((size_t)parts > batch)
        parts = batch > 0 ? (int)batch : 1;
    threadpool_run(r->pool, window3d_part, &j, parts);
}
