/* Float execution of the 3-D windows (conv3d, max_pool3d, avg_pool3d):
 * graph attrs and shapes to kernel params; the output depths of the batch
 * are cut into parts for the thread pool (an output is computed the same
 * way whatever its part). */
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

/* Output depths [d0, d1) of sample n: the kernel on that piece alone,
 * its input starting at the first slice a tap reads (the leading padding
 * reduced by as much), so every output is computed as unsplit. */
static void window3d_piece(const struct window3d_job *j, size_t n, size_t d0, size_t d1)
{
    const bool conv = j->nd->op == GRAPH_OP_CONV3D;
    const size_t *in = conv ? j->conv.in : j->pool.in;
    const size_t stride = conv ? j->conv.stride[0] : j->pool.stride[0];
    const size_t pad = conv ? j->conv.pad[0] : j->pool.pad[0];
    const size_t shift = d0 * stride; /* d0's first tap, in padded slices */
    size_t skip = shift > pad ? shift - pad : 0;
    if (skip > in[0])
        skip = in[0]; /* the piece reads only end padding */
    const size_t new_pad = shift > pad ? 0 : pad - shift, new_in = in[0] - skip;
    const float *x = j->x + n * j->x_sample + skip * (j->x_sample / (in[0] ? in[0] : 1));
    const size_t out_d = conv ? j->conv.out[0] : j->pool.out[0];
    float *y = j->y + n * j->y_sample + d0 * (j->y_sample / out_d);
    const struct f32_kernels *k = j->r->f32;
    if (conv) {
        struct f32_conv3d_params q = j->conv;
        q.batch = 1, q.in[0] = new_in, q.pad[0] = new_pad, q.out[0] = d1 - d0;
        k->conv3d(&q, x, j->w, j->b, y);
    } else {
        struct f32_pool3d_params q = j->pool;
        q.batch = 1, q.in[0] = new_in, q.pad[0] = new_pad, q.out[0] = d1 - d0;
        (j->nd->op == GRAPH_OP_MAX_POOL3D ? k->max_pool3d : k->avg_pool3d)(&q, x, y);
    }
}

/* Parts cut the batch's output depths (sample by sample, then depth by
 * depth) into runs. */
static void window3d_part(void *ctx, int part, int parts, int thread)
{
    (void)thread; /* no scratch */
    const struct window3d_job *j = ctx;
    const bool conv = j->nd->op == GRAPH_OP_CONV3D;
    const size_t batch = conv ? j->conv.batch : j->pool.batch;
    const size_t out_d = conv ? j->conv.out[0] : j->pool.out[0];
    int64_t u0, u1;
    runner_range((int64_t)(batch * out_d), 1, part, parts, &u0, &u1);
    while (u0 < u1) {
        size_t n = (size_t)u0 / out_d, d0 = (size_t)u0 % out_d;
        size_t d1 = d0 + (size_t)(u1 - u0) < out_d ? d0 + (size_t)(u1 - u0) : out_d;
        window3d_piece(j, n, d0, d1);
        u0 += (int64_t)(d1 - d0);
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
    if ((size_t)parts > batch * out[0])
        parts = batch * out[0] > 0 ? (int)(batch * out[0]) : 1;
    threadpool_run(r->pool, window3d_part, &j, parts);
}
