/* AVX2 int8 concat, the same bytes as q8_concat__ref: an input with the
 * output's parameters is copied as there; any other is requantized 8 bytes
 * at a time (q8v8_requant, bit-exact with q8_requant_clamp) over runs of
 * its contiguous rows into a stack buffer, then placed row by row, so a
 * narrow input ([N, C, 1] pieces along the last axis: one byte a row) is
 * still requantized in vectors. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"
#include "kernels/x86/q8_requant_avx2.h"

/* bytes requantized at a time for inputs narrower than this */
#define RUN 512

/* y[0..n) = clamp(zy + requantize(x - zx)) of x[0..n) */
static void requant_run(const struct q8v8_rq *v, const struct q8_unary *q, int64_t n,
                        const int8_t *x, int8_t *y)
{
    const __m256i zx = _mm256_set1_epi32(q->in_zero_point);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(x + j));
        const __m256i r = q8v8_requant(v, _mm256_sub_epi32(_mm256_cvtepi8_epi32(b), zx));
        /* values in [qmin, qmax], inside int8: the saturating packs are exact */
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storel_epi64((__m128i *)(void *)(y + j), _mm_packs_epi16(w, w));
    }
    for (; j < n; j++)
        y[j] = q8_requant_clamp((int32_t)x[j] - q->in_zero_point, q->multiplier, q->shift,
                                q->out_zero_point, q->qmin, q->qmax);
}

static inline void place(int8_t *y, const int8_t *x, int64_t c)
{
    if (c == 1)
        y[0] = x[0];
    else
        memcpy(y, x, (size_t)c);
}

void q8_concat__avx2(int n_inputs, int64_t outer, const int64_t *inner, const int64_t *rows,
                     const struct q8_unary *rq, const int8_t *const *x, int8_t *y)
{
    int64_t width = 0, at = 0;
    for (int i = 0; i < n_inputs; i++)
        width += inner[i];
    for (int i = 0; i < n_inputs; i++) {
        const int64_t c = inner[i], n_rows = rows ? rows[i] : outer;
        const struct q8_unary *q = &rq[i];
        int8_t *yr = y + at;
        at += c;
        if (c == 0)
            continue;
        if (q8_unary_is_identity(q)) {
            int64_t row = 0;
            for (int64_t r = 0; r < outer; r++, yr += width) {
                place(yr, x[i] + row * c, c);
                if (++row == n_rows)
                    row = 0;
            }
            continue;
        }
        struct q8v8_rq v;
        q8v8_rq_init1(&v, q->multiplier, q->shift, q->out_zero_point, q->qmin, q->qmax);
        if (c >= RUN) { /* wide rows: straight into the output */
            int64_t row = 0;
            for (int64_t r = 0; r < outer; r++, yr += width) {
                requant_run(&v, q, c, x[i] + row * c, yr);
                if (++row == n_rows)
                    row = 0;
            }
            continue;
        }
        /* narrow rows: runs of contiguous rows (not past the last row of a
         * repeated input) through a buffer */
        int8_t buf[RUN];
        const int64_t per_run = RUN / c;
        int64_t row = 0;
        for (int64_t r = 0; r < outer;) {
            int64_t nb = outer - r < per_run ? outer - r : per_run;
            nb = n_rows - row < nb ? n_rows - row : nb;
            requant_run(&v, q, nb * c, x[i] + row * c, buf);
            for (int64_t k = 0; k < nb; k++, yr += width)
                place(yr, buf + k * c, c);
            r += nb;
            row += nb;
            if (row == n_rows)
                row = 0;
        }
    }
}
