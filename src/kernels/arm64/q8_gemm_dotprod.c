/* AArch64 dot-product (ARMv8.2 SDOT) int8 GEMM, 4x16 tiles on the U8
 * layout (q8_packed.h), bit-exact with the reference. The layout's A bytes
 * hold x + 128 (x ^ 0x80), as the vnni level's; SDOT multiplies signed
 * bytes, so each 16-byte run of A gets its 0x80 flipped back to x once,
 * and D = sum x * w. With the driver's c = zx + 128 that is the U8
 * format's dot minus 128 * wsum, so the epilogue subtracts
 * (c - 128) * wsum: D - (c - 128) * wsum = sum (x - zx) * w. |x * w| <=
 * 2^14 and K <= 65535, so D never leaves int32; the padding bytes of A
 * meet zero weights (k >= K) or hold zx (outside taps), which cancel.
 *
 * Inner loop per 4 quads of k (16 k) and 4 rows: 4 loads + 4 eor of A,
 * 16 loads of B and 64 SDOT (16 multiply-adds each), i.e. 1024
 * multiply-adds in 64 multiply instructions, 16 per instruction. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/arm64/q8_neon_requant.h"
#include "kernels/q8_packed.h"

#define MR 4

/* acc[i][v] += the quads [0, kq) of row i (at row[i]) times the B block
 * rows from b: block[k/4][col][k%4], 64 bytes per quad (16 columns). */
static inline __attribute__((always_inline)) void dot_rows(int32x4_t acc[MR][4],
                                                           const uint8_t *const *row,
                                                           const int8_t *b, int kq,
                                                           const int mr)
{
    const uint8x16_t flip = vdupq_n_u8(0x80);
    int q = 0;
    for (; q + 4 <= kq; q += 4) {
        int8x16_t a[MR];
        _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
            a[i] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(row[i] + (size_t)q * 4), flip));
        const int8_t *bq = b + (size_t)q * 64;
#define DOT_QUAD(lane)                                                                         \
    do {                                                                                       \
        const int8x16_t b0 = vld1q_s8(bq + (lane) * 64), b1 = vld1q_s8(bq + (lane) * 64 + 16); \
        const int8x16_t b2 = vld1q_s8(bq + (lane) * 64 + 32);                                  \
        const int8x16_t b3 = vld1q_s8(bq + (lane) * 64 + 48);                                  \
        _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++) {                                 \
            acc[i][0] = vdotq_laneq_s32(acc[i][0], b0, a[i], lane);                            \
            acc[i][1] = vdotq_laneq_s32(acc[i][1], b1, a[i], lane);                            \
            acc[i][2] = vdotq_laneq_s32(acc[i][2], b2, a[i], lane);                            \
            acc[i][3] = vdotq_laneq_s32(acc[i][3], b3, a[i], lane);                            \
        }                                                                                      \
    } while (0)
        DOT_QUAD(0);
        DOT_QUAD(1);
        DOT_QUAD(2);
        DOT_QUAD(3);
#undef DOT_QUAD
    }
    for (; q < kq; q++) { /* the last 1 to 3 quads, one at a time */
        const int8_t *bq = b + (size_t)q * 64;
        const int8x16_t b0 = vld1q_s8(bq), b1 = vld1q_s8(bq + 16);
        const int8x16_t b2 = vld1q_s8(bq + 32), b3 = vld1q_s8(bq + 48);
        _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++) {
            uint32_t quad;
            memcpy(&quad, row[i] + (size_t)q * 4, 4);
            const int8x16_t av = vreinterpretq_s8_u32(vdupq_n_u32(quad ^ 0x80808080u));
            acc[i][0] = vdotq_laneq_s32(acc[i][0], b0, av, 0);
            acc[i][1] = vdotq_laneq_s32(acc[i][1], b1, av, 0);
            acc[i][2] = vdotq_laneq_s32(acc[i][2], b2, av, 0);
            acc[i][3] = vdotq_laneq_s32(acc[i][3], b3, av, 0);
        }
    }
}

/* One mr x 16 tile; imp: A implicit (g->a_row), a_kh kernel rows of
 * kp / a_kh bytes each, a_dy apart in the padded image, against
 * consecutive quads of B. */
static inline __attribute__((always_inline)) void tile(const struct q8_gemm_args *g, int i0,
                                                       int j0, const struct cols16 *c,
                                                       const int mr, const int imp)
{
    int32x4_t acc[MR][4];
    _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = vdupq_n_s32(0);
    const int8_t *b = g->b + (size_t)(j0 / 16) * g->b_block;
    const uint8_t *row[MR];
    if (!imp) {
        _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
            row[i] = (const uint8_t *)g->a + (size_t)(i0 + i) * g->a_stride;
        dot_rows(acc, row, b, g->kp / 4, mr);
    } else {
        _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
            row[i] = g->a_row[i0 + i];
        const int kq = g->kp / 4 / g->a_kh;
        for (int kh = 0; kh < g->a_kh; kh++) {
            dot_rows(acc, row, b, kq, mr);
            b += (size_t)kq * 64;
            _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
                row[i] += g->a_dy;
        }
    }
    const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
    int8_t *y = g->y + (size_t)i0 * g->ldy + j0;
    _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
        finish_row16(c, acc[i], y + (size_t)i * g->ldy, ncols);
}

static inline __attribute__((always_inline)) void gemm(const struct q8_gemm_args *g,
                                                       const int imp)
{
    for (int j0 = 0; j0 < g->nc; j0 += 16) {
        const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
        struct cols16 c;
        cols16_init(&c, g, g->c - 128, j0, ncols);
        int i0 = 0;
        for (; i0 + MR <= g->mc; i0 += MR)
            tile(g, i0, j0, &c, MR, imp);
        switch (g->mc - i0) {
        case 3: tile(g, i0, j0, &c, 3, imp); break;
        case 2: tile(g, i0, j0, &c, 2, imp); break;
        case 1: tile(g, i0, j0, &c, 1, imp); break;
        default: break;
        }
    }
}

/* Two copies (A rows, or implicit) so each loop keeps its row pointers in
 * registers. */
static void gemm_rows(const struct q8_gemm_args *g)
{
    gemm(g, 0);
}

static void gemm_implicit(const struct q8_gemm_args *g)
{
    gemm(g, 1);
}

void q8_gemm_4x16__dotprod(const struct q8_gemm_args *g)
{
    if (g->a_row)
        gemm_implicit(g);
    else
        gemm_rows(g);
}
