/* int8 unary functions through a 256-entry table built at plan time
 * (sigmoid, tanh, or any f): y = table[x + 128]. */
#include "kernels/kernels_q8.h"

void q8_lut__ref(int64_t n, const int8_t table[256], const int8_t *x, int8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = table[(int32_t)x[i] + 128];
}
