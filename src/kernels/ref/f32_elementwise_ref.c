/* Reference element-wise kernels: activations and add/mul with last-axis
 * broadcast. */
#include "kernels/kernels.h"

#include <math.h>

void f32_relu__ref(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void f32_relu6__ref(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < 0.0f ? 0.0f : x[i];
        y[i] = v > 6.0f ? 6.0f : v;
    }
}

void f32_sigmoid__ref(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    for (size_t i = 0; i < n; i++) {
        /* exp of a non-positive number only: no overflow for large |x| */
        float v = x[i];
        if (v >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            y[i] = e / (1.0f + e);
        }
    }
}

void f32_tanh__ref(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    for (size_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

void f32_leaky_relu__ref(size_t n, const float *x, float *y, float alpha)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
}

static float clamp(float v, float lo, float hi)
{
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return v;
}

void f32_add__ref(const struct f32_binary_params *p, const float *a, const float *b, float *y)
{
    for (size_t i = 0; i < p->n; i++)
        y[i] = clamp(a[i] + b[p->b_n == p->n ? i : i % p->b_n], p->out_min, p->out_max);
}

void f32_mul__ref(const struct f32_binary_params *p, const float *a, const float *b, float *y)
{
    for (size_t i = 0; i < p->n; i++)
        y[i] = clamp(a[i] * b[p->b_n == p->n ? i : i % p->b_n], p->out_min, p->out_max);
}
