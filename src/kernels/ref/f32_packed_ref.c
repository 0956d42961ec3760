/* The ref table's packed-weight entries: "packing" keeps the weights as
 * stored and appends the bias (zeros for none), so the packed kernels are
 * the reference kernels themselves. */
#include "kernels/kernels.h"

#include <string.h>

static size_t conv2d_weights(const struct f32_conv2d_params *p)
{
    return p->out_c * p->kernel_h * p->kernel_w * (p->in_c / p->groups);
}

size_t f32_conv2d_pack_size__ref(const struct f32_conv2d_params *p)
{
    return conv2d_weights(p) + p->out_c;
}

void f32_conv2d_pack__ref(const struct f32_conv2d_params *p, const float *w, const float *b,
                          float *packed)
{
    size_t nw = conv2d_weights(p);
    memcpy(packed, w, nw * sizeof *packed);
    for (size_t o = 0; o < p->out_c; o++)
        packed[nw + o] = b ? b[o] : 0.0f;
}

size_t f32_conv2d_scratch_size__ref(const struct f32_conv2d_params *p)
{
    (void)p;
    return 0;
}

void f32_conv2d_packed__ref(const struct f32_conv2d_params *p, const float *x,
                            const float *packed, float *scratch, float *y)
{
    (void)scratch;
    f32_conv2d__ref(p, x, packed, packed + conv2d_weights(p), y);
}

size_t f32_dense_pack_size__ref(const struct f32_dense_params *p)
{
    return p->out_n * p->in_k + p->out_n;
}

void f32_dense_pack__ref(const struct f32_dense_params *p, const float *w, const float *b,
                         float *packed)
{
    size_t nw = p->out_n * p->in_k;
    memcpy(packed, w, nw * sizeof *packed);
    for (size_t o = 0; o < p->out_n; o++)
        packed[nw + o] = b ? b[o] : 0.0f;
}

void f32_dense_packed__ref(const struct f32_dense_params *p, const float *x, const float *packed,
                           float *y)
{
    f32_dense__ref(p, x, packed, packed + p->out_n * p->in_k, y);
}
