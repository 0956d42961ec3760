/* Packed int8 conv2d/dense: packing, scratch sizes and the driver that
 * every level shares (q8_packed.h states the layouts and why the wrapping
 * int32 sums are exact). Portable C: the level's micro-kernels come in
 * through struct q8_gemm_ops. */
#include "kernels/q8_packed.h"

#include <string.h>

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static int64_t conv_k(const struct q8_conv2d_shape *s)
{
    return (int64_t)s->kernel_h * s->kernel_w * (s->in_c / s->groups);
}

static int is_depthwise(const struct q8_conv2d_shape *s)
{
    return s->groups == s->in_c && s->out_c == s->in_c;
}

static size_t kp_of(enum q8_gemm_format f, int64_t k)
{
    switch (f) {
    case Q8_FORMAT_I16: return round_up((size_t)k, 2);
    case Q8_FORMAT_U8: return round_up((size_t)k, 4);
    case Q8_FORMAT_U8K64: return round_up((size_t)k, 64);
    case Q8_FORMAT_RAW: break;
    }
    return (size_t)k;
}

static size_t elem_of(enum q8_gemm_format f)
{
    return f == Q8_FORMAT_I16 ? 2 : 1;
}

/* The header for a reduction of k per group: RAW when the format is RAW or
 * k is too long, DW when depthwise is asked for, else GEMM. */
static struct q8_packed_header plan(enum q8_gemm_format f, int64_t k, int groups, int out_c,
                                    int taps, int depthwise)
{
    struct q8_packed_header h;
    memset(&h, 0, sizeof h);
    h.magic = Q8_PACKED_MAGIC;
    h.k = (int32_t)(k > INT32_MAX ? INT32_MAX : k);
    h.groups = groups;
    h.out_c = out_c;
    h.n_g = out_c / groups;
    const size_t head = round_up(sizeof h, Q8_PACKED_ALIGN);
    const size_t chan = round_up((size_t)out_c * sizeof(int32_t), Q8_PACKED_ALIGN);
    h.bias_off = (int64_t)head;
    h.wsum_off = (int64_t)(head + chan);
    h.w_off = (int64_t)(head + 2 * chan);
    if (f == Q8_FORMAT_RAW || k > Q8_PACKED_MAX_K) {
        h.kind = Q8_PACKED_RAW;
        h.format = Q8_FORMAT_RAW;
        h.kp = h.k;
    } else if (depthwise) {
        h.kind = Q8_PACKED_DW;
        h.format = f;
        h.kp = h.k;
        h.cp = (int32_t)round_up((size_t)out_c, 16);
        (void)taps;
    } else {
        h.kind = Q8_PACKED_GEMM;
        h.format = f;
        h.kp = (int32_t)kp_of(f, k);
        h.blocks_g = (h.n_g + 15) / 16;
        h.block_bytes = (int64_t)((size_t)h.kp * 16 * elem_of(f));
    }
    return h;
}

static size_t packed_bytes(const struct q8_packed_header *h, int64_t k, int taps)
{
    switch (h->kind) {
    case Q8_PACKED_RAW: return (size_t)h->w_off + (size_t)h->out_c * (size_t)k;
    case Q8_PACKED_DW: return (size_t)h->w_off + (size_t)taps * (size_t)h->cp * sizeof(int32_t);
    default: return (size_t)h->w_off + (size_t)h->groups * h->blocks_g * (size_t)h->block_bytes;
    }
}

/* Writes the packed form of w [out_c, k] (k per group; group g's output
 * channels are rows g*n_g ...). */
static void pack_into(const struct q8_packed_header *h, const int8_t *w, const int32_t *bias,
                      int taps, void *packed)
{
    uint8_t *base = packed;
    memset(base, 0, packed_bytes(h, h->k, taps));
    memcpy(base, h, sizeof *h);
    int32_t *pb = (int32_t *)(void *)(base + h->bias_off);
    int32_t *ps = (int32_t *)(void *)(base + h->wsum_off);
    const int64_t k = h->k;
    for (int o = 0; o < h->out_c; o++) {
        int32_t sum = 0; /* |sum| <= 65535 * 128; not needed (nor bounded) for RAW */
        for (int64_t i = 0; h->kind != Q8_PACKED_RAW && i < k; i++)
            sum += w[(int64_t)o * k + i];
        int32_t b = bias ? bias[o] : 0;
        memcpy(pb + o, &b, sizeof b);
        memcpy(ps + o, &sum, sizeof sum);
    }
    uint8_t *pw = base + h->w_off;
    if (h->kind == Q8_PACKED_RAW) {
        memcpy(pw, w, (size_t)h->out_c * (size_t)k);
        return;
    }
    if (h->kind == Q8_PACKED_DW) {
        for (int t = 0; t < taps; t++)
            for (int c = 0; c < h->out_c; c++) {
                const int32_t v = (int32_t)(uint16_t)(int16_t)w[(int64_t)c * taps + t];
                memcpy(pw + ((size_t)t * h->cp + c) * sizeof(int32_t), &v, sizeof v);
            }
        return;
    }
    for (int g = 0; g < h->groups; g++)
        for (int j = 0; j < h->n_g; j++) {
            const int o = g * h->n_g + j;
            uint8_t *blk = pw + ((size_t)g * h->blocks_g + (size_t)(j / 16)) * h->block_bytes;
            const int col = j % 16;
            for (int64_t i = 0; i < k; i++) {
                const int8_t v = w[(int64_t)o * k + i];
                if (h->format == Q8_FORMAT_I16) {
                    const int16_t v16 = v;
                    memcpy(blk + (((size_t)(i / 2) * 16 + col) * 2 + (size_t)(i % 2)) * 2, &v16,
                           sizeof v16);
                } else {
                    blk[((size_t)(i / 4) * 16 + col) * 4 + (size_t)(i % 4)] = (uint8_t)v;
                }
            }
        }
}

/* Rows of A per chunk: about 192 KiB of A, a multiple of 32, in [32, 256]. */
static size_t chunk_rows(size_t a_stride)
{
    size_t mc = (size_t)192 * 1024 / a_stride;
    mc = mc < 32 ? 32 : mc > 256 ? 256 : mc;
    return mc / 32 * 32;
}

static size_t scratch_bytes(const struct q8_packed_header *h)
{
    if (h->kind != Q8_PACKED_GEMM)
        return 0;
    const size_t a_stride = (size_t)h->kp * elem_of((enum q8_gemm_format)h->format);
    return Q8_PACKED_ALIGN + Q8_GEMM_WORK + chunk_rows(a_stride) * a_stride;
}

/* ---- A rows ---- */

/* dst = src ^ 0x80 per byte (int8 -> uint8 + 128). */
static void xor80(uint8_t *dst, const int8_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= UINT64_C(0x8080808080808080);
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++)
        dst[i] = (uint8_t)src[i] ^ 0x80u;
}

static void sub_zx16(int16_t *dst, const int8_t *src, size_t n, int32_t zx)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (int16_t)(src[i] - zx);
}

/* One A row from n contiguous input values (dense, or a 1x1 tap). */
static void row_values(enum q8_gemm_format f, void *row, const int8_t *src, size_t n, int32_t zx)
{
    if (f == Q8_FORMAT_I16)
        sub_zx16(row, src, n, zx);
    else
        xor80(row, src, n);
}

/* The im2col row of output pixel (b, oy, ox), group g. */
static void im2col_row(enum q8_gemm_format f, const struct q8_conv2d_shape *s, int32_t zx,
                       const int8_t *x, int64_t b, int oy, int ox, int g, void *row)
{
    const int cg = s->in_c / s->groups;
    const size_t elem = elem_of(f);
    const uint8_t pad_u8 = (uint8_t)(zx + 128);
    uint8_t *dst = row;
    const int8_t *xb = x + b * s->in_h * s->in_w * s->in_c + (int64_t)g * cg;
    for (int kh = 0; kh < s->kernel_h; kh++) {
        const int iy = oy * s->stride_h - s->pad_top + kh * s->dilation_h;
        for (int kw = 0; kw < s->kernel_w; kw++) {
            const int ix = ox * s->stride_w - s->pad_left + kw * s->dilation_w;
            if (iy < 0 || iy >= s->in_h || ix < 0 || ix >= s->in_w) {
                if (f == Q8_FORMAT_I16)
                    memset(dst, 0, (size_t)cg * elem); /* x - zx == 0 */
                else
                    memset(dst, pad_u8, (size_t)cg);   /* zx + 128 */
            } else {
                row_values(f, dst, xb + ((int64_t)iy * s->in_w + ix) * s->in_c, (size_t)cg, zx);
            }
            dst += (size_t)cg * elem;
        }
    }
}

/* ---- the driver ---- */

static void read_header(const void *packed, struct q8_packed_header *h)
{
    memcpy(h, packed, sizeof *h);
}

static void *align_ptr(void *p)
{
    return (void *)(((uintptr_t)p + (Q8_PACKED_ALIGN - 1)) & ~(uintptr_t)(Q8_PACKED_ALIGN - 1));
}

/* Runs the GEMMs of rows [0, m) in chunks; fill(row index, group, row)
 * writes one A row (kp elements; the caller zeroes the k >= K tail). */
struct gemm_rows {
    const struct q8_conv2d_shape *conv; /* NULL: dense */
    const int8_t *x;
    int in_features;
};

static void run_gemm(const struct q8_gemm_ops *ops, const struct q8_packed_header *h,
                     const struct gemm_rows *src, int64_t m, const struct q8_requant *rq,
                     const void *packed, void *scratch, int8_t *y)
{
    const enum q8_gemm_format f = (enum q8_gemm_format)h->format;
    const size_t elem = elem_of(f);
    const size_t a_stride = (size_t)h->kp * elem;
    const size_t mc_max = chunk_rows(a_stride);
    uint8_t *work = align_ptr(scratch);
    uint8_t *a = work + Q8_GEMM_WORK;
    const uint8_t *base = packed;
    const int32_t *bias = (const int32_t *)(const void *)(base + h->bias_off);
    const int32_t *wsum = (const int32_t *)(const void *)(base + h->wsum_off);
    const int8_t *w = (const int8_t *)(base + h->w_off);
    const int32_t zx = rq->in_zero_point;
    const struct q8_conv2d_shape *s = src->conv;
    const int per_channel = rq->n != 1;
    for (int g = 0; g < h->groups; g++) {
        for (int64_t m0 = 0; m0 < m; m0 += (int64_t)mc_max) {
            const int mc = (int)(m - m0 < (int64_t)mc_max ? m - m0 : (int64_t)mc_max);
            const int rows = (int)round_up((size_t)mc, (size_t)ops->m_align);
            for (int i = 0; i < mc; i++) {
                uint8_t *row = a + (size_t)i * a_stride;
                const int64_t r = m0 + i;
                if (s) {
                    const int64_t pix = (int64_t)s->out_h * s->out_w;
                    const int64_t b = r / pix, rem = r % pix;
                    im2col_row(f, s, zx, src->x, b, (int)(rem / s->out_w), (int)(rem % s->out_w),
                               g, row);
                } else {
                    row_values(f, row, src->x + r * src->in_features, (size_t)src->in_features,
                               zx);
                }
                memset(row + (size_t)h->k * elem, 0, (size_t)(h->kp - h->k) * elem);
            }
            if (rows > mc)
                memset(a + (size_t)mc * a_stride, 0, (size_t)(rows - mc) * a_stride);
            const int o0 = g * h->n_g;
            const struct q8_gemm_args args = {
                .mc = mc,
                .nc = h->n_g,
                .kp = h->kp,
                .a = a,
                .a_stride = a_stride,
                .b = w + (size_t)g * h->blocks_g * (size_t)h->block_bytes,
                .b_block = (size_t)h->block_bytes,
                .bias = bias + o0,
                .wsum = wsum + o0,
                .mult = rq->multiplier + (per_channel ? o0 : 0),
                .shift = rq->shift + (per_channel ? o0 : 0),
                .per_channel = per_channel,
                .c = f == Q8_FORMAT_I16 ? 0 : zx + 128,
                .zy = rq->out_zero_point,
                .qmin = rq->qmin,
                .qmax = rq->qmax,
                .y = y + m0 * h->out_c + o0,
                .ldy = (size_t)h->out_c,
                .work = work,
            };
            ops->gemm(&args);
        }
    }
}

size_t q8_conv2d_pack_size_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s)
{
    const int64_t k = conv_k(s);
    const struct q8_packed_header h =
        plan(f, k, s->groups, s->out_c, s->kernel_h * s->kernel_w, is_depthwise(s));
    return packed_bytes(&h, k, s->kernel_h * s->kernel_w);
}

void q8_conv2d_pack_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s, const int8_t *w,
                        const int32_t *bias, void *packed)
{
    const int taps = s->kernel_h * s->kernel_w;
    const struct q8_packed_header h = plan(f, conv_k(s), s->groups, s->out_c, taps,
                                           is_depthwise(s));
    pack_into(&h, w, bias, taps, packed);
}

size_t q8_conv2d_scratch_size_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s)
{
    const struct q8_packed_header h = plan(f, conv_k(s), s->groups, s->out_c,
                                           s->kernel_h * s->kernel_w, is_depthwise(s));
    return scratch_bytes(&h);
}

void q8_conv2d_run(const struct q8_gemm_ops *ops, const struct q8_conv2d_shape *s,
                   const struct q8_requant *rq, const int8_t *x, const void *packed,
                   void *scratch, int8_t *y)
{
    struct q8_packed_header h;
    read_header(packed, &h);
    const uint8_t *base = packed;
    const int32_t *bias = (const int32_t *)(const void *)(base + h.bias_off);
    if (h.kind == Q8_PACKED_RAW) {
        q8_conv2d__ref(s, rq, x, (const int8_t *)(base + h.w_off), bias, y);
    } else if (h.kind == Q8_PACKED_DW) {
        ops->dw(s, rq, x, (const int32_t *)(const void *)(base + h.w_off), h.cp, bias, y);
    } else {
        const struct gemm_rows src = {.conv = s, .x = x};
        run_gemm(ops, &h, &src, s->batch * s->out_h * s->out_w, rq, packed, scratch, y);
    }
}

size_t q8_dense_pack_size_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s)
{
    const struct q8_packed_header h = plan(f, s->in_features, 1, s->out_features, 1, 0);
    return packed_bytes(&h, s->in_features, 1);
}

void q8_dense_pack_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s, const int8_t *w,
                       const int32_t *bias, void *packed)
{
    const struct q8_packed_header h = plan(f, s->in_features, 1, s->out_features, 1, 0);
    pack_into(&h, w, bias, 1, packed);
}

size_t q8_dense_scratch_size_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s)
{
    const struct q8_packed_header h = plan(f, s->in_features, 1, s->out_features, 1, 0);
    return scratch_bytes(&h);
}

void q8_dense_run(const struct q8_gemm_ops *ops, const struct q8_dense_shape *s,
                  const struct q8_requant *rq, const int8_t *x, const void *packed,
                  void *scratch, int8_t *y)
{
    struct q8_packed_header h;
    read_header(packed, &h);
    const uint8_t *base = packed;
    if (h.kind == Q8_PACKED_RAW) {
        q8_dense__ref(s, rq, x, (const int8_t *)(base + h.w_off),
                      (const int32_t *)(const void *)(base + h.bias_off), y);
        return;
    }
    const struct gemm_rows src = {.conv = NULL, .x = x, .in_features = s->in_features};
    run_gemm(ops, &h, &src, s->batch, rq, packed, scratch, y);
}

/* ---- the levels' table entries ---- */

/* ref: the weights as stored, run by q8_conv2d__ref / q8_dense__ref. */
static const struct q8_gemm_ops ops_ref = {Q8_FORMAT_RAW, 1, NULL, NULL};
static const struct q8_gemm_ops ops_avx2 = {Q8_FORMAT_I16, 1, q8_gemm_6x16__avx2,
                                            q8_dwconv__avx2};
static const struct q8_gemm_ops ops_avx512 = {Q8_FORMAT_I16, 1, q8_gemm_8x32__avx512,
                                              q8_dwconv__avx512};
static const struct q8_gemm_ops ops_vnni = {Q8_FORMAT_U8, 1, q8_gemm_8x32__vnni,
                                            q8_dwconv__avx512};
static const struct q8_gemm_ops ops_amx = {Q8_FORMAT_U8K64, 32, q8_gemm_32x32__amx,
                                           q8_dwconv__avx512};
/* The amx layout also runs on the vnni micro-kernel (kp is a multiple of
 * 4), used if tile permission was refused after packing. */
static const struct q8_gemm_ops ops_amx_on_vnni = {Q8_FORMAT_U8K64, 1, q8_gemm_8x32__vnni,
                                                   q8_dwconv__avx512};

static const struct q8_gemm_ops *amx_ops(void)
{
    return q8_amx_ready() ? &ops_amx : &ops_amx_on_vnni;
}

#define Q8_PACKED_LEVEL(isa, fmt, ops_expr)                                                    \
    size_t q8_conv2d_pack_size__##isa(const struct q8_conv2d_shape *s)                         \
    {                                                                                          \
        return q8_conv2d_pack_size_fmt(fmt, s);                                                \
    }                                                                                          \
    void q8_conv2d_pack__##isa(const struct q8_conv2d_shape *s, const int8_t *w,               \
                               const int32_t *bias, void *packed)                              \
    {                                                                                          \
        q8_conv2d_pack_fmt(fmt, s, w, bias, packed);                                           \
    }                                                                                          \
    size_t q8_conv2d_scratch_size__##isa(const struct q8_conv2d_shape *s)                      \
    {                                                                                          \
        return q8_conv2d_scratch_size_fmt(fmt, s);                                             \
    }                                                                                          \
    void q8_conv2d_packed__##isa(const struct q8_conv2d_shape *s, const struct q8_requant *rq,  \
                                 const int8_t *x, const void *packed, void *scratch, int8_t *y) \
    {                                                                                          \
        q8_conv2d_run(ops_expr, s, rq, x, packed, scratch, y);                                 \
    }                                                                                          \
    size_t q8_dense_pack_size__##isa(const struct q8_dense_shape *s)                           \
    {                                                                                          \
        return q8_dense_pack_size_fmt(fmt, s);                                                 \
    }                                                                                          \
    void q8_dense_pack__##isa(const struct q8_dense_shape *s, const int8_t *w,                 \
                              const int32_t *bias, void *packed)                               \
    {                                                                                          \
        q8_dense_pack_fmt(fmt, s, w, bias, packed);                                            \
    }                                                                                          \
    size_t q8_dense_scratch_size__##isa(const struct q8_dense_shape *s)                        \
    {                                                                                          \
        return q8_dense_scratch_size_fmt(fmt, s);                                              \
    }                                                                                          \
    void q8_dense_packed__##isa(const struct q8_dense_shape *s, const struct q8_requant *rq,    \
                                const int8_t *x, const void *packed, void *scratch, int8_t *y) \
    {                                                                                          \
        q8_dense_run(ops_expr, s, rq, x, packed, scratch, y);                                  \
    }

Q8_PACKED_LEVEL(ref, Q8_FORMAT_RAW, &ops_ref)
Q8_PACKED_LEVEL(avx2, Q8_FORMAT_I16, &ops_avx2)
Q8_PACKED_LEVEL(avx512, Q8_FORMAT_I16, &ops_avx512)
Q8_PACKED_LEVEL(vnni, Q8_FORMAT_U8, &ops_vnni)
Q8_PACKED_LEVEL(amx, Q8_FORMAT_U8K64, amx_ops())
#undef Q8_PACKED_LEVEL
