/* AArch64 int8 matrix-multiply (ARMv8.6 I8MM) GEMM, 4x16 tiles on the
 * U8K8 layout (q8_packed.h), bit-exact with the reference. USMMLA
 * multiplies a 2x8 matrix of unsigned bytes by an 8x2 matrix of signed
 * bytes into a 2x2 block of int32: A is the layout's x + 128 as it stands
 * (two rows' 8 bytes of k in one register), B two output channels' 8
 * weights of k (block[k/8][col][k%8]: one 16-byte load per column pair).
 * So D = sum (x + 128) * w = the U8 format's dot, and the epilogue
 * subtracts c * wsum with the driver's c = zx + 128 (q8_packed.h: the
 * wrapping int32 sums end exact). The padding bytes of A meet zero
 * weights (k >= K) or hold zx + 128 (outside taps), which cancel.
 *
 * Inner loop per 16 k and 4 rows: 4 loads of A and 4 zips into two row
 * pairs per 8 k, 16 loads of B and 32 USMMLA (32 multiply-adds each),
 * i.e. 1024 multiply-adds in 32 multiply instructions. */
#include <arm_neon.h>

#include "kernels/arm64/q8_neon_requant.h"
#include "kernels/q8_packed.h"

#define MR 4
#define NP (MR / 2) /* row pairs */

/* acc[p][c] += the k octets [0, ko) of rows 2p, 2p + 1 (at row[2p],
 * row[2p + 1]) times column pair c of the B block rows from b (128 bytes
 * per octet). acc[p][c] holds (2p, 2c), (2p, 2c + 1), (2p + 1, 2c),
 * (2p + 1, 2c + 1). */
static inline __attribute__((always_inline)) void mmla_rows(int32x4_t acc[NP][8],
                                                            const uint8_t *const *row,
                                                            const int8_t *b, int ko,
                                                            const int np)
{
    int o = 0;
    for (; o + 2 <= ko; o += 2) {
        uint8x16_t lo[NP], hi[NP];
        _Pragma("GCC unroll 2") for (int p = 0; p < np; p++) {
            const uint64x2_t r0 = vreinterpretq_u64_u8(vld1q_u8(row[2 * p] + (size_t)o * 8));
            const uint64x2_t r1 =
                vreinterpretq_u64_u8(vld1q_u8(row[2 * p + 1] + (size_t)o * 8));
            lo[p] = vreinterpretq_u8_u64(vzip1q_u64(r0, r1));
            hi[p] = vreinterpretq_u8_u64(vzip2q_u64(r0, r1));
        }
        const int8_t *bo = b + (size_t)o * 128;
        _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) {
            const int8x16_t bv = vld1q_s8(bo + 16 * c);
            _Pragma("GCC unroll 2") for (int p = 0; p < np; p++)
                acc[p][c] = vusmmlaq_s32(acc[p][c], lo[p], bv);
        }
        _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) {
            const int8x16_t bv = vld1q_s8(bo + 128 + 16 * c);
            _Pragma("GCC unroll 2") for (int p = 0; p < np; p++)
                acc[p][c] = vusmmlaq_s32(acc[p][c], hi[p], bv);
        }
    }
    if (o < ko) { /* the last octet: 8 bytes of each row */
        uint8x16_t a[NP];
        _Pragma("GCC unroll 2") for (int p = 0; p < np; p++)
            a[p] = vcombine_u8(vld1_u8(row[2 * p] + (size_t)o * 8),
                               vld1_u8(row[2 * p + 1] + (size_t)o * 8));
        const int8_t *bo = b + (size_t)o * 128;
        _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) {
            const int8x16_t bv = vld1q_s8(bo + 16 * c);
            _Pragma("GCC unroll 2") for (int p = 0; p < np; p++)
                acc[p][c] = vusmmlaq_s32(acc[p][c], a[p], bv);
        }
    }
}

/* One mr x 16 tile; imp: A implicit (g->a_row), a_kh kernel rows of
 * kp / a_kh bytes each, a_dy apart in the padded image, against
 * consecutive octets of B. An odd mr pairs its last row with itself (the
 * copy's results are not stored). */
static inline __attribute__((always_inline)) void tile(const struct q8_gemm_args *g, int i0,
                                                       int j0, const struct cols16 *c,
                                                       const int mr, const int imp)
{
    const int np = (mr + 1) / 2;
    int32x4_t acc[NP][8];
    _Pragma("GCC unroll 2") for (int p = 0; p < np; p++)
        for (int v = 0; v < 8; v++)
            acc[p][v] = vdupq_n_s32(0);
    const int8_t *b = g->b + (size_t)(j0 / 16) * g->b_block;
    const uint8_t *row[MR];
    _Pragma("GCC unroll 4") for (int i = 0; i < 2 * np; i++) {
        const int r = i0 + (i < mr ? i : mr - 1);
        row[i] = imp ? g->a_row[r] : (const uint8_t *)g->a + (size_t)r * g->a_stride;
    }
    if (!imp) {
        mmla_rows(acc, row, b, g->kp / 8, np);
    } else {
        const int ko = g->kp / 8 / g->a_kh;
        for (int kh = 0; kh < g->a_kh; kh++) {
            mmla_rows(acc, row, b, ko, np);
            b += (size_t)ko * 128;
            _Pragma("GCC unroll 4") for (int i = 0; i < 2 * np; i++)
                row[i] += g->a_dy;
        }
    }
    const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
    int8_t *y = g->y + (size_t)i0 * g->ldy + j0;
    _Pragma("GCC unroll 2") for (int p = 0; p < np; p++) {
        /* rows 2p and 2p + 1, columns 4v .. 4v + 3: the low and high
         * halves of column pairs 2v and 2v + 1 */
        int32x4_t r0[4], r1[4];
        for (int v = 0; v < 4; v++) {
            const int64x2_t c0 = vreinterpretq_s64_s32(acc[p][2 * v]);
            const int64x2_t c1 = vreinterpretq_s64_s32(acc[p][2 * v + 1]);
            r0[v] = vreinterpretq_s32_s64(vzip1q_s64(c0, c1));
            r1[v] = vreinterpretq_s32_s64(vzip2q_s64(c0, c1));
        }
        finish_row16(c, r0, y + (size_t)(2 * p) * g->ldy, ncols);
        if (2 * p + 1 < mr)
            finish_row16(c, r1, y + (size_t)(2 * p + 1) * g->ldy, ncols);
    }
}

static inline __attribute__((always_inline)) void gemm(const struct q8_gemm_args *g,
                                                       const int imp)
{
    for (int j0 = 0; j0 < g->nc; j0 += 16) {
        const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
        struct cols16 c;
        cols16_init(&c, g, g->c, j0, ncols);
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

void q8_gemm_4x16__i8mm(const struct q8_gemm_args *g)
{
    if (g->a_row)
        gemm_implicit(g);
    else
        gemm_rows(g);
}
