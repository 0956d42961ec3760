/* Reference cast: float values rounded to the values of another dtype and
 * kept as float (quanta computes every activation in float). */
#include "kernels/kernels.h"

#include <math.h>

#include "quanta/dtype.h"

size_t f32_cast__ref(const struct f32_cast_params *p, size_t n, const float *x, float *y)
{
    double lo = 0.0, hi = 0.0;
    switch ((enum quanta_dtype)p->to) {
    case QUANTA_F32:
        for (size_t i = 0; i < n; i++)
            y[i] = x[i];
        return n;
    case QUANTA_F16:
        for (size_t i = 0; i < n; i++)
            y[i] = quanta_f16_to_f32(quanta_f32_to_f16(x[i]));
        return n;
    case QUANTA_BF16:
        for (size_t i = 0; i < n; i++)
            y[i] = quanta_bf16_to_f32(quanta_f32_to_bf16(x[i]));
        return n;
    case QUANTA_BOOL:
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] != 0.0f ? 1.0f : 0.0f;
        return n;
    case QUANTA_U8: lo = 0.0; hi = 255.0; break;
    case QUANTA_I8: lo = -128.0; hi = 127.0; break;
    case QUANTA_I16: lo = -32768.0; hi = 32767.0; break;
    case QUANTA_I32: lo = -2147483648.0; hi = 2147483647.0; break;
    case QUANTA_I64: lo = -9223372036854775808.0; hi = 9223372036854775807.0; break;
    default: return 0;
    }
    for (size_t i = 0; i < n; i++) {
        /* truncation of a float is exact; I64's hi rounds up to 2^63, out of range */
        double t = trunc((double)x[i]);
        if (!(t >= lo && t <= hi) || (p->to == QUANTA_I64 && t >= 9223372036854775808.0))
            return i;
        y[i] = (float)t + 0.0f; /* -0 of trunc(-0.5) is the integer 0 */
    }
    return n;
}
