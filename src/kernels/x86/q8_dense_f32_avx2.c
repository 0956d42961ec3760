/* AVX2 int8 dense with a float output (kernels_q8.h, struct q8_acc_f32),
 * bit-exact with q8_dense_f32__ref: the integer sum is exact either way,
 * and the float step is the same scalar q8_acc_to_f32. Four output
 * channels share each 16-element load of x - zx (int16, |x - zx| <= 255);
 * vpmaddwd adds pairs of products into int32 lanes, which cannot overflow
 * for K <= Q8_DENSE_F32_MAX_K (each lane's partial sum is bounded by
 * K * 255 * 128 < 2^31). Longer reductions run the reference. */
#include <immintrin.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

#define Q8_DENSE_F32_MAX_K 65535

static inline __m256i load_w16(const int8_t *w)
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w));
}

static inline int64_t hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline float finish(const struct q8_acc_f32 *p, const int32_t *bias, int o, int64_t sum)
{
    const int64_t acc = (bias ? bias[o] : 0) + sum;
    return q8_acc_to_f32(q8_clamp_i64(acc, INT32_MIN, INT32_MAX), p->scale[p->n == 1 ? 0 : o],
                         p->lo, p->hi);
}

void q8_dense_f32__avx2(const struct q8_dense_shape *s, const struct q8_acc_f32 *p,
                        const int8_t *x, const int8_t *w, const int32_t *bias, float *y)
{
    const int K = s->in_features, O = s->out_features;
    if (K > Q8_DENSE_F32_MAX_K) {
        q8_dense_f32__ref(s, p, x, w, bias, y);
        return;
    }
    const int32_t zx = p->in_zero_point;
    const __m256i vzx = _mm256_set1_epi16((int16_t)zx);
    const int k16 = K / 16 * 16;
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * K;
        float *yb = y + b * O;
        int o = 0;
        for (; o + 4 <= O; o += 4) {
            const int8_t *w0 = w + (int64_t)o * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
            for (int k = 0; k < k16; k += 16) {
                const __m256i xv = _mm256_sub_epi16(load_w16(xb + k), vzx);
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, load_w16(w0 + k)));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, load_w16(w1 + k)));
                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, load_w16(w2 + k)));
                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, load_w16(w3 + k)));
            }
            int64_t s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
            for (int k = k16; k < K; k++) {
                const int32_t d = (int32_t)xb[k] - zx;
                s0 += d * w0[k];
                s1 += d * w1[k];
                s2 += d * w2[k];
                s3 += d * w3[k];
            }
            yb[o] = finish(p, bias, o, s0);
            yb[o + 1] = finish(p, bias, o + 1, s1);
            yb[o + 2] = finish(p, bias, o + 2, s2);
            yb[o + 3] = finish(p, bias, o + 3, s3);
        }
        for (; o < O; o++) {
            const int8_t *wo = w + (int64_t)o * K;
            __m256i a = _mm256_setzero_si256();
            for (int k = 0; k < k16; k += 16)
                a = _mm256_add_epi32(
                    a, _mm256_madd_epi16(_mm256_sub_epi16(load_w16(xb + k), vzx), load_w16(wo + k)));
            int64_t sum = hsum(a);
            for (int k = k16; k < K; k++)
                sum += ((int32_t)xb[k] - zx) * wo[k];
            yb[o] = finish(p, bias, o, sum);
        }
    }
}
