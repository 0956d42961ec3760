/* int8 embedding bag: rows from an 8- or 4-bit table, dequantized and
 * reduced in double, requantized once per output (kernels_q8.h). */
#include <math.h>

#include "kernels/kernels_q8.h"

/* columns accumulated at a time: the stack buffer of one bag */
#define BAG_CHUNK 64

static inline int32_t load_q(const int8_t *row, int bits, int j)
{
    if (bits == 8)
        return row[j];
    int32_t nib = ((uint8_t)row[j >> 1] >> ((j & 1) * 4)) & 15;
    return nib >= 8 ? nib - 16 : nib;
}

int64_t q8_embedding_bag__ref(const struct q8_embedding_bag_params *p, const int64_t *ids,
                              const int64_t *offsets, const int8_t *table, int8_t *y)
{
    const int64_t stride = p->bits == 8 ? p->dim : (p->dim + 1) / 2;
    const double sy = (double)p->out_scale;
    double acc[BAG_CHUNK];
    for (int64_t b = 0; b < p->n_bags; b++) {
        int64_t start = p->bag ? b * p->bag : offsets[b];
        int64_t end = p->bag ? start + p->bag : b + 1 < p->n_bags ? offsets[b + 1] : p->n_ids;
        for (int64_t t = start; t < end; t++)
            if (ids[t] < 0 || ids[t] >= p->vocab)
                return t;
        for (int j0 = 0; j0 < p->dim; j0 += BAG_CHUNK) {
            int nj = p->dim - j0 < BAG_CHUNK ? p->dim - j0 : BAG_CHUNK;
            for (int j = 0; j < nj; j++)
                acc[j] = 0.0;
            for (int64_t t = start; t < end; t++) {
                int64_t r = p->per_row ? ids[t] : 0;
                double s = (double)p->scale[r];
                int32_t z = p->zero_point ? p->zero_point[r] : 0;
                double w = p->weights      ? (double)p->weights[t]
                           : p->weights_q8 ? (double)p->w_scale *
                                                 (double)(p->weights_q8[t] - p->w_zero_point)
                                           : 1.0;
                const int8_t *row = table + ids[t] * stride;
                for (int j = 0; j < nj; j++) {
                    double v = s * (double)(load_q(row, p->bits, j0 + j) - z);
                    if (p->mode == F32_BAG_MAX)
                        acc[j] = t == start || v > acc[j] ? v : acc[j];
                    else if (p->mode == F32_BAG_SUM)
                        acc[j] += w * v;
                    else
                        acc[j] += v;
                }
            }
            int8_t *yb = y + b * p->dim + j0;
            for (int j = 0; j < nj; j++) {
                double a = acc[j];
                if (p->mode == F32_BAG_MEAN && end > start)
                    a /= (double)(end - start);
                double q = round(a / sy) + (double)p->out_zero_point;
                yb[j] = (int8_t)(q < -128.0 ? -128 : q > 127.0 ? 127 : (int)q);
            }
        }
    }
    return -1;
}
