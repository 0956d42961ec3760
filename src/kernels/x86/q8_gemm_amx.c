/* AMX-INT8 GEMM: 32x32 blocks as 2x2 tiles of 16 rows x 16 int32 with
 * tdpbusd (u8 A x s8 B, four products per int32, wrapping sums like
 * vpdpbusd). The B layout is the vnni one with kp a multiple of 64, so a
 * B tile (16 quad-rows x 64 bytes) is 1 KiB of one 16-column block; A
 * tiles are 16 rows x 64 bytes of the im2col rows (the driver pads rows to
 * a multiple of 32 with zeros). The C tiles go to the caller's work area
 * and through the AVX-512 epilogue (q8_requant_avx512.h).
 *
 * The caller (q8_packed.c) runs this only after q8_amx_ready() granted
 * tile permission. Tiles are configured and released in every call. */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_packed.h"
#include "kernels/x86/q8_requant_avx512.h"

/* The 64-byte tile configuration of palette 1. */
struct tile_config {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* Tiles 0-3: C (rows i0..+15 / i0+16..+31 x blocks 0/1), 4-5: A, 6-7: B;
 * all 16 rows x 64 bytes. */
static void configure(void)
{
    struct tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
}

struct cols16 {
    struct q8v16_rq rq;
    __m512i bias, cw;
    __mmask16 mask;
};

static void cols16_init(struct cols16 *c, const struct q8_gemm_args *g, int j, int n)
{
    const __mmask16 m = q8v16_mask(n);
    c->mask = m;
    c->bias = _mm512_maskz_loadu_epi32(m, g->bias + j);
    c->cw = _mm512_mullo_epi32(_mm512_set1_epi32(g->c), _mm512_maskz_loadu_epi32(m, g->wsum + j));
    if (g->per_channel)
        q8v16_rq_init(&c->rq, _mm512_maskz_loadu_epi32(m, g->mult + j),
                      _mm512_maskz_loadu_epi32(m, g->shift + j), g->zy, g->qmin, g->qmax);
    else
        q8v16_rq_init1(&c->rq, g->mult[0], g->shift[0], g->zy, g->qmin, g->qmax);
}

static inline void finish16(const struct cols16 *c, __m512i dot, int8_t *y)
{
    const __m512i acc = q8v16_adds_epi32(c->bias, _mm512_sub_epi32(dot, c->cw));
    _mm_mask_storeu_epi8(y, c->mask, _mm512_cvtepi32_epi8(q8v16_requant(&c->rq, acc)));
}

void q8_gemm_32x32__amx(const struct q8_gemm_args *g)
{
    int32_t *ct = g->work; /* [32][32] int32 = 4 KiB, row stride 128 bytes */
    const uint8_t *a = g->a;
    const size_t as = g->a_stride;
    const int kb_n = g->kp / 64;
    configure();
    for (int j0 = 0; j0 < g->nc; j0 += 32) {
        const int two = g->nc - j0 > 16;
        struct cols16 cols[2];
        cols16_init(&cols[0], g, j0, g->nc - j0);
        cols16_init(&cols[1], g, j0 + 16, g->nc - j0 - 16);
        const int8_t *b0 = g->b + (size_t)(j0 / 16) * g->b_block;
        const int8_t *b1 = b0 + g->b_block;
        for (int i0 = 0; i0 < g->mc; i0 += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int kb = 0; kb < kb_n; kb++) {
                _tile_loadd(4, a + (size_t)i0 * as + (size_t)kb * 64, (long)as);
                _tile_loadd(5, a + (size_t)(i0 + 16) * as + (size_t)kb * 64, (long)as);
                _tile_loadd(6, b0 + (size_t)kb * 1024, 64);
                _tile_dpbusd(0, 4, 6);
                _tile_dpbusd(2, 5, 6);
                if (two) {
                    _tile_loadd(7, b1 + (size_t)kb * 1024, 64);
                    _tile_dpbusd(1, 4, 7);
                    _tile_dpbusd(3, 5, 7);
                }
            }
            _tile_stored(0, ct, 128);
            _tile_stored(1, ct + 16, 128);
            _tile_stored(2, ct + 16 * 32, 128);
            _tile_stored(3, ct + 16 * 32 + 16, 128);
            const int rows = g->mc - i0 < 32 ? g->mc - i0 : 32;
            for (int i = 0; i < rows; i++) {
                int8_t *yp = g->y + (size_t)(i0 + i) * g->ldy + j0;
                finish16(&cols[0], _mm512_loadu_si512(ct + i * 32), yp);
                if (two)
                    finish16(&cols[1], _mm512_loadu_si512(ct + i * 32 + 16), yp + 16);
            }
        }
    }
    _tile_release();
}
