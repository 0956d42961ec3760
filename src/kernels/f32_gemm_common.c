/* The float GEMM driver shared by the SIMD levels (built without ISA flags:
 * it only moves data and calls the level's micro-kernels through its
 * config). See f32_gemm.h for the packed layouts and the summation order. */
#include "kernels/f32_gemm.h"

#include <math.h>
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

/* A fused residual starts each sum with bias + residual: the tile of c is
 * written here, then the micro-kernels continue from c (bias NULL) while
 * it is still in L1. r is laid out as c (same row stride). */
static void start_from_residual(float *c, size_t ldc, const float *r, const float *bias,
                                size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            c[i * ldc + j] = bias[j] + r[i * ldc + j];
}

struct gemm_args {
    size_t M, N, K;
    const float *a;
    size_t lda;
    const float *packed;  /* bias, then panels */
    float *c;
    size_t ldc;
    const float *minmax;
    const float *r;       /* residual laid out as c, or NULL */
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
        if (bias && g->r) {
            start_from_residual(c + j, 0, g->r + row * g->ldc + j, bias, 1, nc);
            bias = NULL;
        }
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
            for (size_t m0 = 0; m0 < m_tiles; m0 += mr) {
                const size_t mc = m_tiles - m0 < mr ? m_tiles - m0 : mr;
                const float *a = g->a + m0 * g->lda + k0;
                float *c = g->c + m0 * g->ldc + j;
                const float *bias = first ? bias_all + j : NULL;
                if (bias && g->r) {
                    start_from_residual(c, g->ldc, g->r + m0 * g->ldc + j, bias, mc, nc);
                    bias = NULL;
                }
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

/* ---- conv2d ----
 * Implicit GEMM: A is read in place from an image with every tap in
 * bounds, no im2col copy. Row (n, oy, ox) of A starts at pixel (oy *
 * stride_h, ox * stride_w) of image n, and its K columns are segments at
 * offsets that depend on the tap only: one per kernel row (kernel_w *
 * in_c adjacent floats) when groups == 1 and dilation_w == 1, else one per
 * tap (in_c / groups floats). The image is the input itself when the
 * windows reach no padding, else a zero-bordered copy of a few samples in
 * scratch: each input float is copied once instead of up to K times. */

/* Floats of padded images per chunk: a few samples, so the copy is still
 * in L2 when the GEMM reads it. */
#define CONV_CHUNK_FLOATS 65536

struct conv_view {
    const float *base;  /* pixel (0, 0) of the first image */
    size_t row, image;  /* floats between image rows, between images */
};

/* Rows and columns of the padded image: exactly the cells the windows reach. */
static size_t padded_h(const struct f32_conv2d_params *p)
{
    return (p->out_h - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h + 1;
}

static size_t padded_w(const struct f32_conv2d_params *p)
{
    return (p->out_w - 1) * p->stride_w + (p->kernel_w - 1) * p->dilation_w + 1;
}

static size_t chunk_images(size_t image, size_t batch)
{
    size_t nb = image < CONV_CHUNK_FLOATS ? CONV_CHUNK_FLOATS / image : 1;
    return nb < batch ? nb : batch > 0 ? batch : 1;
}

static bool conv_direct(const struct f32_conv2d_params *p)
{
    /* 1x1, stride 1, no padding: the NHWC input already is the A matrix */
    return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
           p->pad_top == 0 && p->pad_left == 0 && p->out_h == p->in_h && p->out_w == p->in_w;
}

size_t f32_gemm_conv2d_scratch_size(const struct f32_gemm_config *cfg,
                                    const struct f32_conv2d_params *p)
{
    (void)cfg;
    if (f32_gemm_is_depthwise(p) || conv_direct(p) || p->out_h == 0 || p->out_w == 0)
        return 0;
    /* a piece of a split conv has no more samples or rows than p, so no
     * larger chunk */
    const size_t image = padded_h(p) * padded_w(p) * p->in_c;
    return chunk_images(image, p->batch) * image;
}

/* Samples [0, nimg) of x into out as hp x wp images with zero borders. */
static void pad_images(const struct f32_conv2d_params *p, const float *x, size_t nimg, size_t hp,
                       size_t wp, float *out)
{
    const size_t C = p->in_c;
    const size_t left = p->pad_left < wp ? p->pad_left : wp;
    const size_t cols = wp - left < p->in_w ? wp - left : p->in_w;
    const size_t right = wp - left - cols;
    for (size_t n = 0; n < nimg; n++) {
        for (size_t py = 0; py < hp; py++, out += wp * C) {
            if (py < p->pad_top || py - p->pad_top >= p->in_h) {
                memset(out, 0, wp * C * sizeof *out);
                continue;
            }
            const float *src = x + ((n * p->in_h + py - p->pad_top) * p->in_w) * C;
            memset(out, 0, left * C * sizeof *out);
            memcpy(out + left * C, src, cols * C * sizeof *out);
            memset(out + (left + cols) * C, 0, right * C * sizeof *out);
        }
    }
}

/* A short tile (rows or columns) through a local MR x nr tile. */
static void tail_itile(const struct f32_gemm_config *cfg, size_t mc, size_t nc, size_t nseg,
                       size_t seglen, const float *const *a, const size_t *off, const float *b,
                       float *c, size_t ldc, const float *bias, const float *minmax, float *tile)
{
    const size_t nr = cfg->nr;
    if (!bias)
        for (size_t i = 0; i < mc; i++)
            memcpy(tile + i * nr, c + i * ldc, nc * sizeof *c);
    cfg->igemm(nseg, seglen, a, off, b, tile, nr, bias, minmax);
    for (size_t i = 0; i < mc; i++)
        memcpy(c + i * ldc, tile + i * nr, nc * sizeof *c);
}

/* One row of A (segments at a + off[s], len floats each) against every
 * panel of a group for one k block (b: the block's first packed row of
 * panel 0, panels K * nr floats apart), F32_GEMV_PANELS panels a call and
 * one call per segment: the sums go through c between calls (exact), so
 * the row gets the bits it would get in a tile. */
static void lone_row(const struct f32_gemm_config *cfg, const float *a, const size_t *off,
                     size_t ns, size_t len, const float *b, size_t K, size_t og,
                     const float *bias, const float *minmax, float *c, float *tile)
{
    const size_t nr = cfg->nr, np = round_up(og, nr);
    for (size_t j = 0; j < np; j += F32_GEMV_PANELS * nr) {
        const size_t n_panels = (np - j) / nr < F32_GEMV_PANELS ? (np - j) / nr : F32_GEMV_PANELS;
        const size_t nc = og - j < n_panels * nr ? og - j : n_panels * nr;
        float *dst = nc == n_panels * nr ? c + j : tile;
        if (dst == tile && !bias)
            memcpy(tile, c + j, nc * sizeof *c);
        for (size_t s = 0; s < ns; s++)
            cfg->gemv(n_panels, len, a + off[s], b + j * K + s * len * nr, K * nr, dst,
                      s == 0 && bias ? bias + j : NULL, s + 1 == ns ? minmax : NULL);
        if (dst == tile)
            memcpy(c + j, tile, nc * sizeof *c);
    }
}

/* Output rows [m0, m0 + rows) of the samples in view v (row m is pixel
 * (n, oy, ox) in NHWC order) into y (row 0 = row m0), every group. */
static void conv_rows(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                      const struct conv_view *v, size_t m0, size_t rows, const float *packed,
                      float *y, const float *res, float *tile)
{
    const float *a[F32_GEMM_MC_MAX];
    size_t off[F32_GEMM_KC_MAX];
    const size_t mr = cfg->mr, nr = cfg->nr, C = p->in_c;
    const size_t cg = C / p->groups, og = p->out_c / p->groups, np = round_up(og, nr);
    const size_t K = p->kernel_h * p->kernel_w * cg, per_group = np * (K + 1);
    const bool contiguous = p->groups == 1 && p->dilation_w == 1;
    const size_t nseg = contiguous ? p->kernel_h : p->kernel_h * p->kernel_w;
    const size_t seglen = K / nseg;
    /* k blocks of whole segments, evenly sized; a segment longer than kc
     * is cut into even pieces, one block each */
    const size_t pieces = (seglen + cfg->kc - 1) / cfg->kc, piece = (seglen + pieces - 1) / pieces;
    size_t spb = 1;
    if (pieces == 1) {
        const size_t blocks = (nseg + cfg->kc / seglen - 1) / (cfg->kc / seglen);
        spb = (nseg + blocks - 1) / blocks;
    }

    /* row pointers: stride_w pixels apart along an output row */
    size_t ox = m0 % p->out_w, oy = m0 / p->out_w % p->out_h, n = m0 / p->out_w / p->out_h;
    const size_t step = p->stride_w * C;
    for (size_t r = 0; r < rows;) {
        const float *pix = v->base + n * v->image + oy * p->stride_h * v->row + ox * step;
        const size_t run = p->out_w - ox < rows - r ? p->out_w - ox : rows - r;
        for (size_t i = 0; i < run; i++, pix += step)
            a[r + i] = pix;
        r += run;
        ox = 0;
        if (++oy == p->out_h) {
            oy = 0;
            n++;
        }
    }
    for (size_t r = rows; r < round_up(rows, mr); r++)
        a[r] = a[rows - 1];

    /* a lone last row (rows = q*mr + 1) goes to the gemv kernel */
    const size_t m_tiles = rows % mr == 1 ? rows - 1 : rows;
    const float minmax[2] = {p->out_min, p->out_max};
    for (size_t g = 0; g < p->groups; g++) {
        const float *bias_all = packed + g * per_group, *panels = bias_all + np;
        for (size_t s0 = 0; s0 < nseg; s0 += spb) {
            const size_t ns = nseg - s0 < spb ? nseg - s0 : spb;
            for (size_t j0 = 0; j0 < seglen; j0 += piece) {
                const size_t len = seglen - j0 < piece ? seglen - j0 : piece;
                const size_t k0 = s0 * seglen + j0;
                for (size_t s = 0; s < ns; s++) {
                    const size_t t = s0 + s;
                    const size_t ky = contiguous ? t : t / p->kernel_w;
                    const size_t kx = contiguous ? 0 : t % p->kernel_w;
                    off[s] = ky * p->dilation_h * v->row + kx * p->dilation_w * C + g * cg + j0;
                }
                const float *bias = k0 == 0 ? bias_all : NULL;
                const float *mm = k0 + ns * len == K ? minmax : NULL;
                for (size_t j = 0; j < np; j += nr) {
                    const size_t nc = og - j < nr ? og - j : nr;
                    const float *b = panels + j * K + k0 * nr;
                    for (size_t i = 0; i < m_tiles; i += mr) {
                        const size_t mc = m_tiles - i < mr ? m_tiles - i : mr;
                        float *c = y + i * p->out_c + g * og + j;
                        const float *bj = bias ? bias + j : NULL;
                        if (bj && res) {
                            start_from_residual(c, p->out_c, res + i * p->out_c + g * og + j, bj,
                                                mc, nc);
                            bj = NULL;
                        }
                        if (mc == mr && nc == nr)
                            cfg->igemm(ns, len, a + i, off, b, c, p->out_c, bj, mm);
                        else
                            tail_itile(cfg, mc, nc, ns, len, a + i, off, b, c, p->out_c, bj, mm,
                                       tile);
                    }
                }
                if (m_tiles < rows) {
                    float *c = y + m_tiles * p->out_c + g * og;
                    const float *bl = bias;
                    if (bl && res) {
                        start_from_residual(c, 0, res + m_tiles * p->out_c + g * og, bl, 1, og);
                        bl = NULL;
                    }
                    lone_row(cfg, a[rows - 1], off, ns, len, panels + k0 * nr, K, og, bl, mm, c,
                             tile);
                }
            }
        }
    }
}

/* Every row of the samples in view v, mc rows at a time (their C stays
 * in cache across the k blocks and panels). */
static void conv_view_run(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                          const struct conv_view *v, size_t nimg, const float *packed, float *y,
                          const float *res)
{
    _Alignas(64) float tile[F32_GEMM_TILE_MAX] = {0};
    const size_t M = nimg * p->out_h * p->out_w;
    for (size_t m0 = 0; m0 < M; m0 += cfg->mc) {
        const size_t rows = M - m0 < cfg->mc ? M - m0 : cfg->mc;
        conv_rows(cfg, p, v, m0, rows, packed, y + m0 * p->out_c, res ? res + m0 * p->out_c : NULL,
                  tile);
    }
}

/* The level's depthwise kernel knows no residual: it runs unclamped, then
 * the residual is added and the clamp applied here. */
static void depthwise(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                      const float *x, const float *packed, float *y)
{
    if (!p->residual) {
        cfg->dwconv(p, x, packed, y);
        return;
    }
    struct f32_conv2d_params q = *p;
    q.residual = NULL;
    q.out_min = -INFINITY;
    q.out_max = INFINITY;
    cfg->dwconv(&q, x, packed, y);
    const size_t n = p->batch * p->out_h * p->out_w * p->out_c;
    for (size_t i = 0; i < n; i++) {
        float v = y[i] + p->residual[i];
        y[i] = v < p->out_min ? p->out_min : v > p->out_max ? p->out_max : v;
    }
}

void f32_gemm_conv2d(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                     const float *x, const float *packed, float *scratch, float *y)
{
    if (f32_gemm_is_depthwise(p)) {
        depthwise(cfg, p, x, packed, y);
        return;
    }
    const float minmax[2] = {p->out_min, p->out_max};
    const size_t cg = p->in_c / p->groups, og = p->out_c / p->groups;
    const size_t K = p->kernel_h * p->kernel_w * cg, M = p->batch * p->out_h * p->out_w;
    const size_t per_group = round_up(og, cfg->nr) * (K + 1);
    if (conv_direct(p)) {
        for (size_t g = 0; g < p->groups; g++) {
            struct gemm_args a = {.M = M, .N = og, .K = K, .a = x + g * cg, .lda = p->in_c,
                                  .packed = packed + g * per_group, .c = y + g * og,
                                  .ldc = p->out_c, .minmax = minmax,
                                  .r = p->residual ? p->residual + g * og : NULL};
            gemm(cfg, &a);
        }
        return;
    }
    if (M == 0)
        return;
    const size_t hp = padded_h(p), wp = padded_w(p), C = p->in_c;
    if (p->pad_top == 0 && p->pad_left == 0 && hp <= p->in_h && wp <= p->in_w) {
        const struct conv_view v = {x, p->in_w * C, p->in_h * p->in_w * C};
        conv_view_run(cfg, p, &v, p->batch, packed, y, p->residual);
        return;
    }
    const size_t image = hp * wp * C, nb = chunk_images(image, p->batch);
    const struct conv_view v = {scratch, wp * C, image};
    for (size_t n0 = 0; n0 < p->batch; n0 += nb) {
        const size_t nimg = p->batch - n0 < nb ? p->batch - n0 : nb;
        pad_images(p, x + n0 * p->in_h * p->in_w * C, nimg, hp, wp, scratch);
        const size_t first = n0 * p->out_h * p->out_w * p->out_c;
        conv_view_run(cfg, p, &v, nimg, packed, y + first, p->residual ? p->residual + first : NULL);
    }
}

/* ---- dense ---- */

void f32_gemm_dense(const struct f32_gemm_config *cfg, const struct f32_dense_params *p,
                    const float *x, const float *packed, float *y)
{
    const float minmax[2] = {p->out_min, p->out_max};
    struct gemm_args a = {.M = p->batch, .N = p->out_n, .K = p->in_k, .a = x, .lda = p->in_k,
                          .packed = packed, .c = y, .ldc = p->out_n, .minmax = minmax,
                          .r = p->residual};
    gemm(cfg, &a);
}
