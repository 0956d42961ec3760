/* Requantization multipliers and float <-> int8 conversion (see requant.h
 * for the exact rules; this file only implements them). */
#include "kernels/requant.h"

#include <math.h>

bool q8_multiplier_from_double(double m, int32_t *multiplier, int32_t *shift)
{
    if (!isfinite(m))
        return false;
    if (m == 0.0) {
        *multiplier = 0;
        *shift = 0;
        return true;
    }
    int e = 0;
    const double f = frexp(fabs(m), &e); /* |m| = f * 2^e, f in [0.5, 1) */
    long long q = llround(ldexp(f, 31)); /* [2^30, 2^31], ties away */
    if (q == (1LL << 31)) {
        q = 1LL << 30;
        e += 1;
    }
    const int s = -e;
    if (s > Q8_SHIFT_MAX) { /* |m| < 2^-32: every result rounds to 0 */
        *multiplier = 0;
        *shift = 0;
        return true;
    }
    if (s < Q8_SHIFT_MIN)
        return false;
    *multiplier = m < 0 ? -(int32_t)q : (int32_t)q;
    *shift = s;
    return true;
}

double q8_multiplier_to_double(int32_t multiplier, int32_t shift)
{
    return ldexp((double)multiplier, -(31 + shift));
}

int32_t q8_quantize_value(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax)
{
    if (isnan(x))
        return q8_clamp_i64(zero_point, qmin, qmax);
    const double v = round((double)x / (double)scale) + (double)zero_point;
    if (v <= (double)qmin)
        return qmin;
    if (v >= (double)qmax)
        return qmax;
    return (int32_t)v;
}

int8_t q8_quantize_i8(float x, float scale, int32_t zero_point)
{
    return (int8_t)q8_quantize_value(x, scale, zero_point, INT8_MIN, INT8_MAX);
}

uint8_t q8_quantize_u8(float x, float scale, int32_t zero_point)
{
    return (uint8_t)q8_quantize_value(x, scale, zero_point, 0, UINT8_MAX);
}

float q8_dequantize_value(int32_t q, float scale, int32_t zero_point)
{
    return scale * (float)(q - zero_point);
}
