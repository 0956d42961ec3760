/* NEON int8 concat, the same bytes as q8_concat__ref, laid out as
 * q8_concat__avx2: an input with the output's parameters is copied; any
 * other is requantized 16 bytes at a time (q8v4_requant, bit-exact with
 * q8_requant_clamp) over runs of its contiguous rows into a stack buffer,
 * then placed row by row, so a narrow input ([N, C, 1] pieces along the
 * last axis: one byte a row) is still requantized in vectors. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"
#include "kernels/arm64/q8_neon_unary.h"

/* bytes requantized at a time for inputs narrower than this */
#define RUN 512

/* y[0..n) = clamp(zy + requantize(x - zx)) of x[0..n) */
static void requant_run(const struct q8v4_rq *v, int32x4_t zx, int64_t n, const int8_t *x,
                        int8_t *y)
{
    for (int64_t j = 0; j < n; j += 16) {
        const int cnt = n - j < 16 ? (int)(n - j) : 16;
        int32x4_t d[4];
        q8v_widen16(q8v_load16(x + j, cnt, 0), zx, d);
        q8v_store16(y + j,
                    q8v4_pack16(q8v4_requant(v, d[0]), q8v4_requant(v, d[1]),
                                q8v4_requant(v, d[2]), q8v4_requant(v, d[3])),
                    cnt);
    }
}

static inline void place(int8_t *y, const int8_t *x, int64_t c)
{
    if (c == 1)
        y[0] = x[0];
    else
        memcpy(y, x, (size_t)c);
}

void q8_concat__neon(int n_inputs, int64_t outer, const int64_t *inner, const int64_t *rows,
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
        struct q8v4_rq v;
        q8v4_rq_init(&v, q->multiplier, q->shift, q->out_zero_point, q->qmin, q->qmax);
        const int32x4_t zx = vdupq_n_s32(q->in_zero_point);
        if (c >= RUN) { /* wide rows: straight into the output */
            int64_t row = 0;
            for (int64_t r = 0; r < outer; r++, yr += width) {
                requant_run(&v, zx, c, x[i] + row * c, yr);
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
            requant_run(&v, zx, nb * c, x[i] + row * c, buf);
            for (int64_t k = 0; k < nb; k++, yr += width)
                place(yr, buf + k * c, c);
            r += nb;
            row += nb;
            if (row == n_rows)
                row = 0;
        }
    }
}
