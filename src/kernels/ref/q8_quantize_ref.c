/* The graph's quantize (float -> int8) and dequantize (int8 -> float) ops,
 * and the U8 <-> int8-domain byte offset. */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

void q8_quantize__ref(int64_t n, const struct q8_quantize_params *p, const float *x, int8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (int8_t)q8_quantize_value(x[i], p->scale, p->zero_point, p->qmin, p->qmax);
}

void q8_dequantize__ref(int64_t n, const struct q8_quantize_params *p, const int8_t *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = q8_dequantize_value(x[i], p->scale, p->zero_point);
}

void q8_u8_to_i8(int64_t n, const uint8_t *x, int8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (int8_t)((int32_t)x[i] - 128);
}

void q8_i8_to_u8(int64_t n, const int8_t *x, uint8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (uint8_t)((int32_t)x[i] + 128);
}
