/* Reference softmax along any axis, viewed as [outer, axis_len, inner].
 * The maximum is subtracted first so exp never overflows; the sum is
 * accumulated in double. */
#include "kernels/kernels.h"

#include <math.h>

void f32_softmax__ref(const struct f32_softmax_params *p, const float *x, float *y)
{
    const size_t len = p->axis_len, inner = p->inner;
    for (size_t o = 0; o < p->outer; o++) {
        for (size_t in = 0; in < inner; in++) {
            const float *xp = x + o * len * inner + in;
            float *yp = y + o * len * inner + in;
            float max = xp[0];
            for (size_t i = 1; i < len; i++)
                if (xp[i * inner] > max)
                    max = xp[i * inner];
            double sum = 0.0;
            for (size_t i = 0; i < len; i++) {
                float e = expf(xp[i * inner] - max);
                if (!p->log)
                    yp[i * inner] = e;
                sum += e;
            }
            if (p->log) {
                double shift = (double)max + log(sum);
                for (size_t i = 0; i < len; i++)
                    yp[i * inner] = (float)((double)xp[i * inner] - shift);
                continue;
            }
            float inv = (float)(1.0 / sum);
            for (size_t i = 0; i < len; i++)
                yp[i * inner] *= inv;
        }
    }
}
