/* Reference layer_norm and instance_norm: statistics accumulated in double
 * in index order (so every level and thread count gives the same bytes),
 * the normalized value computed in double and rounded to float once. */
#include "kernels/kernels.h"

#include <math.h>

void f32_layer_norm__ref(const struct f32_layer_norm_params *p, const float *x,
                         const float *scale, const float *bias, float *y)
{
    const size_t cols = p->cols;
    for (size_t r = 0; r < p->rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double sum = 0.0;
        for (size_t j = 0; j < cols; j++)
            sum += xr[j];
        const double mean = sum / (double)cols;
        double sq = 0.0;
        for (size_t j = 0; j < cols; j++) {
            double d = xr[j] - mean;
            sq += d * d;
        }
        const double inv = 1.0 / sqrt(sq / (double)cols + (double)p->epsilon);
        for (size_t j = 0; j < cols; j++)
            yr[j] = (float)((xr[j] - mean) * inv * scale[j] + (bias ? (double)bias[j] : 0.0));
    }
}

void f32_instance_norm__ref(const struct f32_instance_norm_params *p, const float *x,
                            const float *scale, const float *bias, float *y)
{
    const size_t s = p->spatial, c = p->channels;
    for (size_t n = 0; n < p->n; n++) {
        const float *xn = x + n * s * c;
        float *yn = y + n * s * c;
        for (size_t ch = 0; ch < c; ch++) {
            double sum = 0.0;
            for (size_t i = 0; i < s; i++)
                sum += xn[i * c + ch];
            const double mean = sum / (double)s;
            double sq = 0.0;
            for (size_t i = 0; i < s; i++) {
                double d = xn[i * c + ch] - mean;
                sq += d * d;
            }
            const double inv = 1.0 / sqrt(sq / (double)s + (double)p->epsilon);
            for (size_t i = 0; i < s; i++)
                yn[i * c + ch] =
                    (float)((xn[i * c + ch] - mean) * inv * scale[ch] + (double)bias[ch]);
        }
    }
}
