/* Reference element-wise math and binary operators with NumPy
 * broadcasting: every value computed in double from the float operands
 * and rounded once, so results do not depend on the compiler's choices. */
#include "kernels/kernels.h"

#include <math.h>

static double clamp01(double v)
{
    return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

double f32_math_one(const struct f32_math_params *p, double x)
{
    switch (p->op) {
    case F32_MATH_NEG: return -x;
    case F32_MATH_ABS: return fabs(x);
    case F32_MATH_EXP: return exp(x);
    case F32_MATH_LOG: return log(x);
    case F32_MATH_SQRT: return sqrt(x);
    case F32_MATH_ERF: return erf(x);
    case F32_MATH_HARD_SIGMOID: return clamp01((double)p->a * x + (double)p->b);
    case F32_MATH_HARD_SWISH: return x * clamp01(x / 6.0 + 0.5);
    case F32_MATH_ELU: return x > 0.0 ? x : (double)p->a * expm1(x);
    case F32_MATH_SELU: return (double)p->b * (x > 0.0 ? x : (double)p->a * expm1(x));
    case F32_MATH_CLIP: return x < (double)p->a ? (double)p->a : x > (double)p->b ? (double)p->b : x;
    case F32_MATH_SILU: return x >= 0.0 ? x / (1.0 + exp(-x)) : x * exp(x) / (1.0 + exp(x));
    case F32_MATH_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    case F32_MATH_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
    }
    return NAN;
}

void f32_math__ref(const struct f32_math_params *p, size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)f32_math_one(p, x[i]);
}

static double binary_one(enum f32_binary_op op, double a, double b)
{
    switch (op) {
    case F32_BIN_ADD: return a + b;
    case F32_BIN_SUB: return a - b;
    case F32_BIN_MUL: return a * b;
    case F32_BIN_DIV: return a / b;
    case F32_BIN_POW: return pow(a, b);
    case F32_BIN_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    case F32_BIN_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case F32_BIN_PRELU: return a >= 0.0 ? a : a * b;
    }
    return NAN;
}

void f32_broadcast__ref(const struct f32_broadcast_params *p, const float *a, const float *b,
                        float *y)
{
    size_t index[F32_BROADCAST_MAX_RANK] = {0};
    size_t total = 1;
    for (int d = 0; d < p->rank; d++)
        total *= p->dims[d];
    size_t ia = 0, ib = 0;
    const int last = p->rank - 1;
    for (size_t i = 0; i < total;) {
        /* the innermost axis as one run */
        for (size_t k = 0; k < p->dims[last]; k++, i++) {
            float v = (float)binary_one(p->op, a[ia + k * p->a_stride[last]],
                                        b[ib + k * p->b_stride[last]]);
            y[i] = v < p->out_min ? p->out_min : v > p->out_max ? p->out_max : v;
        }
        /* odometer over the outer axes */
        int d = last - 1;
        for (; d >= 0; d--) {
            ia += p->a_stride[d];
            ib += p->b_stride[d];
            if (++index[d] < p->dims[d])
                break;
            ia -= index[d] * p->a_stride[d];
            ib -= index[d] * p->b_stride[d];
            index[d] = 0;
        }
        if (d < 0)
            break;
    }
}
