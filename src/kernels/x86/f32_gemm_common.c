/* The float GEMM driver shared by the x86 levels (built without ISA flags:
 * it only moves data and calls the level's micro-kernels through its
 * config). See f32_gemm.h for the packed layouts and the summation order. */
#include "kernels/x86/f32_gemm.h"

#include <stdbool.h>
#include <string.h>

static size_t round_up(size_t n, size_t q)
{
    return (n + q - 1) / q * q;
}

/* ---- packing ---- */

/* Panels of B[k][n] = w[n * K + k] for n < N (zero up to Np), bias first. */
static void pack_panels(const struct f32_gemm_config *cfg, size_t K, size_t N, const float *w,
                        const float *b, float *out)
{
    const size_t nr = cfg->nr, np = round_up(N, nr);
    for (size_t n = 0; n < np; n++)
        out[n] = b && n < N ? b[n] : 0.0f;
    float *panels = out + np;
    for (size_t j = 0; j < np; j += nr) {
        float *pj = panels + j * K;
        for (size_t k = 0; k < K; k++)
            for (size_t c = 0; c < nr; c++)
                pj[k * nr + c] = j + c < N ? w[(j + c) * K + k] : 0.0f;
    }
}

size_t f32_gemm_conv2d_pack_size(const struct f32_gemm_config *cfg,
                                 const struct f32_conv2d_params *p)
{
    const size_t taps = p->kernel_h * p->kernel_w;
    if (f32_gemm_is_depthwise(p))
        return round_up(p->out_c, cfg->lanes) * (taps + 1);
    const size_t K = taps * (p->in_c / p->groups);
    return p->groups * round_up(p->out_c / p->groups, cfg->nr) * (K + 1);
}

void f32_gemm_conv2d_pack(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                          const float *w, const float *b, float *packed)
{
    const size_t taps = p->kernel_h * p->kernel_w;
    if (f32_gemm_is_depthwise(p)) {
        const size_t cp = round_up(p->out_c, cfg->lanes);
        for (size_t c = 0; c < cp; c++)
            packed[c] = b && c < p->out_c ? b[c] : 0.0f;
        for (size_t t = 0; t < taps; t++)
            for (size_t c = 0; c < cp; c++)
                packed[cp + t * cp + c] = c < p->out_c ? w[c * taps + t] : 0.0f;
        return;
    }
    const size_t K = taps * (p->in_c / p->groups), og = p->out_c / p->groups;
    const size_t per_group = round_up(og, cfg->nr) * (K + 1);
    for (size_t g = 0; g < p->groups; g++)
        pack_panels(cfg, K, og, w + g * og * K, b ? b + g * og : NULL, packed + g * per_group);
}

size_t f32_gemm_dense_pack_size(const struct f32_gemm_config *cfg,
                                const struct f32_dense_params *p)
{
    return round_up(p->out_n, cfg->nr) * (p->in_k + 1);
}

void f32_gemm_dense_pack(const struct f32_gemm_config *cfg, const struct f32_dense_params *p,
                         const float *w, const float *b, float *packed)
{
    pack_panels(cfg, p->in_k, p->out_n, w, b, packed);
}

/* ---- GEMM over packed panels ---- */

struct gemm_args {
    size_t M, N, K;
    const float *a;
    size_t lda;
    const float *packed;  /* bias, then panels */
    float *c;
    size_t ldc;
    const float *minmax;
};

/* A tile that does not fill mr x nr goes through a local tile. */
static void tail_tile(const struct f32_gemm_config *cfg, size_t mr, size_t nc, size_t kc,
                      const float *a, size_t lda, const float *b, float *c, size_t ldc,
                      const float *bias, const float *minmax, float *tile)
{
    const size_t nr = cfg->nr;
    if (!bias)
        for (size_t i = 0; i < mr; i++)
            memcpy(tile + i * nr, c + i * ldc, nc * sizeof *c);
    cfg->gemm(mr, kc, a, lda, b, tile, nr, bias, minmax);
    for (size_t i = 0; i < mr; i++)
        memcpy(c + i * ldc, tile + i * nr, nc * sizeof *c);
}

/* The single row `row` against every panel, F32_GEMV_PANELS at a time. */
static void gemv_row(const struct f32_gemm_config *cfg, const struct gemm_args *g, size_t row,
                     size_t k0, size_t kc, const float *bias_or_null, const float *minmax,
                     float *tile)
{
    const size_t nr = cfg->nr, np = round_up(g->N, nr);
    const float *a = g->a + row * g->lda + k0;
    float *c = g->c + row * g->ldc;
    const float *panels = g->packed + np;
    for (size_t j = 0; j < np; j += F32_GEMV_PANELS * nr) {
        size_t n_panels = (np - j) / nr < F32_GEMV_PANELS ? (np - j) / nr : F32_GEMV_PANELS;
        size_t nc = g->N - j < n_panels * nr ? g->N - j : n_panels * nr;
        const float *b = panels + j * g->K + k0 * nr;
        const float *bias = bias_or_null ? bias_or_null + j : NULL;
        if (nc == n_panels * nr) {
            cfg->gemv(n_panels, kc, a, b, g->K * nr, c + j, bias, minmax);
        } else {
            if (!bias)
                memcpy(tile, c + j, nc * sizeof *c);
            cfg->gemv(n_panels, kc, a, b, g->K * nr, tile, bias, minmax);
            memcpy(c + j, tile, nc * sizeof *c);
        }
    }
}

static void gemm(const struct f32_gemm_config *cfg, const struct gemm_args *g)
{
    _Alignas(64) float tile[F32_GEMM_TILE_MAX] = {0};
    const size_t mr = cfg->mr, nr = cfg->nr, np = round_up(g->N, nr);
    const float *bias_all = g->packed, *panels = g->packed + np;
    /* a lone last row (M = 1, or M = q*mr + 1) goes to the gemv kernel */
    const size_t m_tiles = g->M % mr == 1 ? g->M - 1 : g->M;
    const size_t blocks = (g->K + cfg->kc - 1) / cfg->kc;
    const size_t kstep = (g->K + blocks - 1) / blocks; /* even blocks, from K only */
    for (size_t k0 = 0; k0 < g->K; k0 += kstep) {
        const size_t kc = g->K - k0 < kstep ? g->K - k0 : kstep;
        const bool first = k0 == 0, last = k0 + kc == g->K;
        const float *minmax = last ? g->minmax : NULL;
        for (size_t j = 0; j < np; j += nr) {
            const size_t nc = g->N - j < nr ? g->N - j : nr;
            const float *b = panels + j * g->K + k0 * nr;
            const float *bias = first ? bias_all + j : NULL;
            for (size_t m0 = 0; m0 < m_tiles; m0 += mr) {
                const size_t mc = m_tiles - m0 < mr ? m_tiles - m0 : mr;
                const float *a = g->a + m0 * g->lda + k0;
                float *c = g->c + m0 * g->ldc + j;
                if (mc == mr && nc == nr)
                    cfg->gemm(mr, kc, a, g->lda, b, c, g->ldc, bias, minmax);
                else
                    tail_tile(cfg, mc, nc, kc, a, g->lda, b, c, g->ldc, bias, minmax, tile);
            }
        }
        if (m_tiles < g->M)
            gemv_row(cfg, g, g->M - 1, k0, kc, first ? bias_all : NULL, minmax, tile);
    }
}

/* ---- conv2d ---- */

size_t f32_gemm_conv2d_scratch_size(const struct f32_gemm_config *cfg,
                                    const struct f32_conv2d_params *p)
{
    if (f32_gemm_is_depthwise(p))
        return 0;
    return cfg->mc * p->kernel_h * p->kernel_w * (p->in_c / p->groups);
}

/* Copies and zero fills of im2col runs: runs of a few floats (the taps of
 * a conv over 1 to 4 input channels) are too short for a libc call to pay
 * off, so they are plain loops; long runs go to memcpy/memset. */
static inline void copy_run(float *dst, const float *src, size_t n)
{
    if (n > 32) {
        memcpy(dst, src, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

static inline void zero_run(float *dst, size_t n)
{
    if (n > 32) {
        memset(dst, 0, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = 0.0f;
}

/* Rows [m0, m0 + rows) of the im2col matrix of group g: row m is output
 * pixel (n, oy, ox) in NHWC order, columns (ky, kx, ci) as in w. */
static void im2col(const struct f32_conv2d_params *p, const float *x, size_t g, size_t m0,
                   size_t rows, float *out)
{
    const size_t cg = p->in_c / p->groups, K = p->kernel_h * p->kernel_w * cg;
    size_t ox = m0 % p->out_w, oy = m0 / p->out_w % p->out_h, n = m0 / p->out_w / p->out_h;
    /* one group and dilation 1: a row's taps at (ky, kx..kx+j) are adjacent in x */
    const bool contiguous = p->groups == 1 && p->dilation_w == 1;
    for (size_t r = 0; r < rows; r++) {
        const float *xn = x + n * p->in_h * p->in_w * p->in_c + g * cg;
        float *row = out + r * K;
        for (size_t ky = 0; ky < p->kernel_h; ky++) {
            size_t py = oy * p->stride_h + ky * p->dilation_h; /* padded row */
            bool row_in = py >= p->pad_top && py - p->pad_top < p->in_h;
            if (row_in && contiguous) {
                /* the taps inside the input are one run of x: kx in [k0, k1) */
                size_t px0 = ox * p->stride_w;
                size_t k0 = px0 >= p->pad_left ? 0 : p->pad_left - px0;
                size_t k1 = p->in_w + p->pad_left > px0 ? p->in_w + p->pad_left - px0 : 0;
                if (k1 > p->kernel_w)
                    k1 = p->kernel_w;
                if (k0 > k1)
                    k0 = k1;
                zero_run(row, k0 * cg);
                if (k1 > k0)
                    copy_run(row + k0 * cg,
                             xn + ((py - p->pad_top) * p->in_w + px0 + k0 - p->pad_left) * p->in_c,
                             (k1 - k0) * cg);
                zero_run(row + k1 * cg, (p->kernel_w - k1) * cg);
                row += p->kernel_w * cg;
                continue;
            }
            for (size_t kx = 0; kx < p->kernel_w; kx++, row += cg) {
                size_t px = ox * p->stride_w + kx * p->dilation_w;
                if (row_in && px >= p->pad_left && px - p->pad_left < p->in_w)
                    copy_run(row, xn + ((py - p->pad_top) * p->in_w + px - p->pad_left) * p->in_c,
                             cg);
                else
                    zero_run(row, cg);
            }
        }
        if (++ox == p->out_w) {
            ox = 0;
            if (++oy == p->out_h) {
                oy = 0;
                n++;
            }
        }
    }
}

void f32_gemm_conv2d(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                     const float *x, const float *packed, float *scratch, float *y)
{
    if (f32_gemm_is_depthwise(p)) {
        cfg->dwconv(p, x, packed, y);
        return;
    }
    const float minmax[2] = {p->out_min, p->out_max};
    const size_t cg = p->in_c / p->groups, og = p->out_c / p->groups;
    const size_t K = p->kernel_h * p->kernel_w * cg, M = p->batch * p->out_h * p->out_w;
    const size_t per_group = round_up(og, cfg->nr) * (K + 1);
    /* 1x1, stride 1, no padding: the NHWC input already is the A matrix */
    const bool direct = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                        p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                        p->out_h == p->in_h && p->out_w == p->in_w;
    for (size_t g = 0; g < p->groups; g++) {
        struct gemm_args a = {.N = og, .K = K, .packed = packed + g * per_group,
                              .ldc = p->out_c, .minmax = minmax};
        if (direct) {
            a.M = M;
            a.a = x + g * cg;
            a.lda = p->in_c;
            a.c = y + g * og;
            gemm(cfg, &a);
            continue;
        }
        for (size_t m0 = 0; m0 < M; m0 += cfg->mc) {
            a.M = M - m0 < cfg->mc ? M - m0 : cfg->mc;
            im2col(p, x, g, m0, a.M, scratch);
            a.a = scratch;
            a.lda = K;
            a.c = y + m0 * p->out_c + g * og;
            gemm(cfg, &a);
        }
    }
}

/* ---- dense ---- */

void f32_gemm_dense(const struct f32_gemm_config *cfg, const struct f32_dense_params *p,
                    const float *x, const float *packed, float *y)
{
    const float minmax[2] = {p->out_min, p->out_max};
    struct gemm_args a = {.M = p->batch, .N = p->out_n, .K = p->in_k, .a = x, .lda = p->in_k,
                          .packed = packed, .c = y, .ldc = p->out_n, .minmax = minmax};
    gemm(cfg, &a);
}
