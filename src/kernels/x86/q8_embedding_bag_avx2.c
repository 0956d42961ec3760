/* AVX2 int8 embedding bag, the same bytes as q8_embedding_bag__ref: the
 * reference's arithmetic in double, 4 columns a ymm, each column reduced
 * over the bag's rows in id order, then the output's rounding half away
 * from zero (out4: multiplies by inverses, the divisions near a tie). Multiplies and adds stay
 * separate instructions (the build's ISO C mode keeps -ffp-contract=off, so
 * the compiler fuses none of them into an FMA, which would round once
 * where the reference rounds twice); the kernel suite q8_bag checks the
 * bytes against the reference. Columns past the last group of 4 run the
 * reference's scalar expressions. */
#include <immintrin.h>
#include <string.h>
#include <math.h>

#include "kernels/kernels_q8.h"

/* columns accumulated at a time (a bag's accumulators live on the stack) */
#define BAG_CHUNK 64

/* Columns j..j+3 (j a multiple of 4, all four inside the row) as q - z. */
static inline __m128i load4(const int8_t *row, int bits, int j, __m128i z)
{
    __m128i q;
    if (bits == 8) {
        int32_t b;
        memcpy(&b, row + j, sizeof b);
        q = _mm_cvtepi8_epi32(_mm_cvtsi32_si128(b));
    } else {
        uint16_t b; /* bytes j / 2 and j / 2 + 1: columns j, j+1 and j+2, j+3 */
        memcpy(&b, row + j / 2, sizeof b);
        const __m128i x = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(b));
        const __m128i nib = _mm_unpacklo_epi32(_mm_and_si128(x, _mm_set1_epi32(15)),
                                               _mm_srli_epi32(x, 4));
        const __m128i eight = _mm_set1_epi32(8); /* two's complement of 4 bits */
        q = _mm_sub_epi32(_mm_xor_si128(nib, eight), eight);
    }
    return _mm_sub_epi32(q, z);
}

static inline int32_t load_q(const int8_t *row, int bits, int j)
{
    if (bits == 8)
        return row[j];
    int32_t nib = ((uint8_t)row[j >> 1] >> ((j & 1) * 4)) & 15;
    return nib >= 8 ? nib - 16 : nib;
}

static inline int8_t out_scalar(double a, double sy, int32_t zy)
{
    double q = round(a / sy) + (double)zy;
    return (int8_t)(q < -128.0 ? -128 : q > 127.0 ? 127 : (int)q);
}

/* clamp(zy + round_half_away(v), -128, 127) of 4 columns into y[0..3], with
 * v = a / sy, or (a / count) / sy for a mean (inv: 1 / count, else 1). The
 * divisions are the slow step, so the lanes first take w = a * inv * (1 / sy)
 * (inverses rounded once each): |w - v| <= 3 * 2^-52 * |v| (four roundings
 * against two), below 2^-29 when |w| < 2^21. round_half_away(w) equals
 * round_half_away(v) unless a half-integer lies between them, i.e. unless
 * frac(w) is within 2^-28 of 1/2: such a vector (rare) is recomputed with
 * the reference's divisions. |w| >= 2^21 clamps to the same bound as v.
 * round_half_away(x) = t + sign(x) [|x - t| >= 1/2], t = trunc(x), x - t
 * exact. A NaN gives 0, as the reference's (int) conversion does on x86. */
struct bag_out {
    __m256d sy, inv_sy, zy;
};

static inline __m256d abs_pd(__m256d v)
{
    return _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
}

static inline void out4(const struct bag_out *o, __m256d a, double count, int8_t *y)
{
    const __m256d half = _mm256_set1_pd(0.5);
    __m256d x = count > 0.0 ? _mm256_mul_pd(a, _mm256_set1_pd(1.0 / count)) : a;
    x = _mm256_mul_pd(x, o->inv_sy);
    __m256d t = _mm256_round_pd(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256d f = abs_pd(_mm256_sub_pd(x, t));
    const __m256d near = _mm256_and_pd(
        _mm256_cmp_pd(abs_pd(_mm256_sub_pd(f, half)), _mm256_set1_pd(0x1p-28), _CMP_LE_OQ),
        _mm256_cmp_pd(abs_pd(x), _mm256_set1_pd(0x1p21), _CMP_LT_OQ));
    if (_mm256_movemask_pd(near)) {
        x = count > 0.0 ? _mm256_div_pd(a, _mm256_set1_pd(count)) : a;
        x = _mm256_div_pd(x, o->sy);
        t = _mm256_round_pd(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        f = abs_pd(_mm256_sub_pd(x, t));
    }
    const __m256d up = _mm256_cmp_pd(f, half, _CMP_GE_OQ);
    const __m256d step = _mm256_and_pd(
        up, _mm256_or_pd(_mm256_set1_pd(1.0), _mm256_and_pd(x, _mm256_set1_pd(-0.0))));
    __m256d q = _mm256_add_pd(_mm256_add_pd(t, step), o->zy);
    q = _mm256_blendv_pd(q, _mm256_setzero_pd(), _mm256_cmp_pd(q, q, _CMP_UNORD_Q));
    q = _mm256_min_pd(_mm256_max_pd(q, _mm256_set1_pd(-128.0)), _mm256_set1_pd(127.0));
    const __m128i i32 = _mm256_cvttpd_epi32(q);
    const __m128i i8 = _mm_packs_epi16(_mm_packs_epi32(i32, i32), i32);
    const int32_t b = _mm_cvtsi128_si32(i8);
    memcpy(y, &b, sizeof b);
}

int64_t q8_embedding_bag__avx2(const struct q8_embedding_bag_params *p, const int64_t *ids,
                               const int64_t *offsets, const int8_t *table, int8_t *y)
{
    const int64_t stride = p->bits == 8 ? p->dim : (p->dim + 1) / 2;
    const double sy = (double)p->out_scale;
    const struct bag_out o = {_mm256_set1_pd(sy), _mm256_set1_pd(1.0 / sy),
                              _mm256_set1_pd((double)p->out_zero_point)};
    const bool weighted = p->mode == F32_BAG_SUM && (p->weights || p->weights_q8);
    _Alignas(32) double acc[BAG_CHUNK];
    for (int64_t b = 0; b < p->n_bags; b++) {
        int64_t start = p->bag ? b * p->bag : offsets[b];
        int64_t end = p->bag ? start + p->bag : b + 1 < p->n_bags ? offsets[b + 1] : p->n_ids;
        for (int64_t t = start; t < end; t++)
            if (ids[t] < 0 || ids[t] >= p->vocab)
                return t;
        if (end - start == 1) {
            /* one row (the batch-1 and id-per-bag case): y from w * v or v
             * in registers; the reference's 0 + a and a / 1 give the same
             * bytes (at most the sign of a zero differs, which rounds to
             * the same integer) */
            const int64_t r = p->per_row ? ids[start] : 0;
            const double s = (double)p->scale[r];
            const int32_t z = p->zero_point ? p->zero_point[r] : 0;
            const double w = p->weights      ? (double)p->weights[start]
                             : p->weights_q8 ? (double)p->w_scale *
                                                   (double)(p->weights_q8[start] - p->w_zero_point)
                                             : 1.0;
            const int8_t *row = table + ids[start] * stride;
            const __m256d vs = _mm256_set1_pd(s), vw = _mm256_set1_pd(w);
            const __m128i vz = _mm_set1_epi32(z);
            int8_t *yb = y + b * p->dim;
            int j = 0;
            for (; j + 4 <= p->dim; j += 4) {
                __m256d v = _mm256_mul_pd(vs, _mm256_cvtepi32_pd(load4(row, p->bits, j, vz)));
                out4(&o, weighted ? _mm256_mul_pd(vw, v) : v, 0.0, yb + j);
            }
            for (; j < p->dim; j++) {
                double v = s * (double)(load_q(row, p->bits, j) - z);
                yb[j] = out_scalar(weighted ? w * v : v, sy, p->out_zero_point);
            }
            continue;
        }
        for (int j0 = 0; j0 < p->dim; j0 += BAG_CHUNK) {
            const int nj = p->dim - j0 < BAG_CHUNK ? p->dim - j0 : BAG_CHUNK;
            const int nv = nj & ~3; /* columns in groups of 4 */
            for (int j = 0; j < nj; j++)
                acc[j] = 0.0;
            for (int64_t t = start; t < end; t++) {
                const int64_t r = p->per_row ? ids[t] : 0;
                const double s = (double)p->scale[r];
                const int32_t z = p->zero_point ? p->zero_point[r] : 0;
                const double w = p->weights      ? (double)p->weights[t]
                                 : p->weights_q8 ? (double)p->w_scale *
                                                       (double)(p->weights_q8[t] - p->w_zero_point)
                                                 : 1.0;
                const int8_t *row = table + ids[t] * stride + (p->bits == 8 ? j0 : j0 / 2);
                const __m256d vs = _mm256_set1_pd(s), vw = _mm256_set1_pd(w);
                const __m128i vz = _mm_set1_epi32(z);
                if (p->mode == F32_BAG_MAX) {
                    for (int j = 0; j < nv; j += 4) {
                        const __m256d v =
                            _mm256_mul_pd(vs, _mm256_cvtepi32_pd(load4(row, p->bits, j, vz)));
                        const __m256d a = _mm256_load_pd(acc + j);
                        _mm256_store_pd(acc + j,
                                        t == start ? v
                                                   : _mm256_blendv_pd(a, v, _mm256_cmp_pd(v, a, _CMP_GT_OQ)));
                    }
                } else if (weighted) {
                    for (int j = 0; j < nv; j += 4) {
                        const __m256d v =
                            _mm256_mul_pd(vs, _mm256_cvtepi32_pd(load4(row, p->bits, j, vz)));
                        _mm256_store_pd(acc + j, _mm256_add_pd(_mm256_load_pd(acc + j),
                                                               _mm256_mul_pd(vw, v)));
                    }
                } else { /* sum without weights (w * v = v) or mean */
                    for (int j = 0; j < nv; j += 4) {
                        const __m256d v =
                            _mm256_mul_pd(vs, _mm256_cvtepi32_pd(load4(row, p->bits, j, vz)));
                        _mm256_store_pd(acc + j, _mm256_add_pd(_mm256_load_pd(acc + j), v));
                    }
                }
                for (int j = nv; j < nj; j++) {
                    double v = s * (double)(load_q(row, p->bits, j) - z);
                    if (p->mode == F32_BAG_MAX)
                        acc[j] = t == start || v > acc[j] ? v : acc[j];
                    else if (p->mode == F32_BAG_SUM)
                        acc[j] += w * v;
                    else
                        acc[j] += v;
                }
            }
            int8_t *yb = y + b * p->dim + j0;
            const bool mean = p->mode == F32_BAG_MEAN && end > start;
            const double count = (double)(end - start);
            for (int j = 0; j < nv; j += 4)
                out4(&o, _mm256_load_pd(acc + j), mean ? count : 0.0, yb + j);
            for (int j = nv; j < nj; j++)
                yb[j] = out_scalar(mean ? acc[j] / count : acc[j], sy, p->out_zero_point);
        }
    }
    return -1;
}
