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

/* Writes A elements: values from int8 inputs and padding taps. Short runs
 * (a few channels) are inline; long ones go to the level's SIMD copy. */
struct a_writer {
    enum q8_gemm_format f;
    size_t elem;
    int32_t zx;
    uint8_t pad_u8;             /* zx + 128: the U8 padding byte */
    q8_copy_a_fn copy;
    const int8_t *x_end;        /* end of the input: 8-byte reads stop here */
};

/* n <= W values (W = 4 or 8), reading W input bytes and writing W
 * elements (the caller checked both fit; the elements past n lie in this
 * row, which is written in order and its K..kp tail zeroed last). */
#define PUT_SMALL(W)                                                                           \
    static inline void put_small##W(const struct a_writer *w, uint8_t *dst, const int8_t *src) \
    {                                                                                          \
        uint8_t in[W];                                                                         \
        memcpy(in, src, W);                                                                    \
        if (w->f == Q8_FORMAT_I16) {                                                           \
            int16_t out[W];                                                                    \
            for (int i = 0; i < W; i++)                                                        \
                out[i] = (int16_t)((int8_t)in[i] - w->zx);                                     \
            memcpy(dst, out, sizeof out);                                                      \
        } else {                                                                               \
            for (int i = 0; i < W; i++)                                                        \
                in[i] ^= 0x80u;                                                                \
            memcpy(dst, in, W);                                                                \
        }                                                                                      \
    }
PUT_SMALL(4)
PUT_SMALL(8)
#undef PUT_SMALL

static void copy_portable(void *dst, const int8_t *src, size_t n, int32_t zx, int i16)
{
    if (i16) {
        int16_t *d = dst;
        for (size_t i = 0; i < n; i++)
            d[i] = (int16_t)(src[i] - zx);
    } else {
        uint8_t *d = dst;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            memcpy(&v, src + i, 8);
            v ^= UINT64_C(0x8080808080808080);
            memcpy(d + i, &v, 8);
        }
        for (; i < n; i++)
            d[i] = (uint8_t)src[i] ^ 0x80u;
    }
}

/* n values into dst; lim is the end of the row (its tail is zeroed after). */
static inline void put_values(const struct a_writer *w, uint8_t *dst, const int8_t *src,
                              size_t n, const uint8_t *lim)
{
    if (n <= 4 && src + 4 <= w->x_end && dst + 4 * w->elem <= lim) {
        put_small4(w, dst, src);
    } else if (n <= 8 && src + 8 <= w->x_end && dst + 8 * w->elem <= lim) {
        put_small8(w, dst, src);
    } else if (n <= 8 || !w->copy) {
        copy_portable(dst, src, n, w->zx, w->f == Q8_FORMAT_I16);
    } else {
        w->copy(dst, src, n, w->zx);
    }
}

/* n padding taps' elements: x - zx == 0 (I16) or zx + 128 (U8). */
static inline void put_pad(const struct a_writer *w, uint8_t *dst, size_t n)
{
    memset(dst, w->f == Q8_FORMAT_I16 ? 0 : w->pad_u8, n * w->elem);
}

/* A rows [0, mc) for output pixels r0 .. r0 + mc - 1 of group g: the
 * pixel (b, oy, ox) advances by one per row (no division per row); a
 * kernel row outside the input is one fill, and a kernel row inside it
 * with groups == 1 and dilation_w == 1 is one run of kernel_w * in_c
 * contiguous input values; the K..kp tail is zeroed last. */
static void im2col_rows(const struct a_writer *w, const struct q8_conv2d_shape *s,
                        const int8_t *x, int g, int64_t r0, int mc, uint8_t *a, size_t a_stride)
{
    const size_t tail = a_stride - (size_t)s->kernel_h * s->kernel_w * (s->in_c / s->groups) *
                                       w->elem; /* the K..kp zeros */
    const int cg = s->in_c / s->groups;
    const size_t run = (size_t)cg * w->elem;
    const size_t kw_run = (size_t)s->kernel_w * run;
    const int64_t pix = (int64_t)s->out_h * s->out_w;
    const int64_t img = (int64_t)s->in_h * s->in_w * s->in_c;
    const int whole_rows = s->groups == 1 && s->dilation_w == 1;
    const int span_w = (s->kernel_w - 1) * s->dilation_w;
    int64_t b = r0 / pix;
    const int64_t rem = r0 % pix;
    int oy = (int)(rem / s->out_w), ox = (int)(rem % s->out_w);
    for (int i = 0; i < mc; i++) {
        uint8_t *dst = a + (size_t)i * a_stride;
        const uint8_t *lim = dst + a_stride;
        const int8_t *xb = x + b * img + (int64_t)g * cg;
        const int iy0 = oy * s->stride_h - s->pad_top;
        const int ix0 = ox * s->stride_w - s->pad_left;
        const int inside_w = ix0 >= 0 && ix0 + span_w < s->in_w;
        for (int kh = 0; kh < s->kernel_h; kh++, dst += kw_run) {
            const int iy = iy0 + kh * s->dilation_h;
            if (iy < 0 || iy >= s->in_h) {
                put_pad(w, dst, (size_t)s->kernel_w * cg);
                continue;
            }
            const int8_t *xr = xb + (int64_t)iy * s->in_w * s->in_c;
            if (inside_w && whole_rows) {
                put_values(w, dst, xr + (int64_t)ix0 * s->in_c, (size_t)s->kernel_w * cg, lim);
                continue;
            }
            uint8_t *d = dst;
            for (int kw = 0; kw < s->kernel_w; kw++, d += run) {
                const int ix = ix0 + kw * s->dilation_w;
                if (ix < 0 || ix >= s->in_w)
                    put_pad(w, d, (size_t)cg);
                else
                    put_values(w, d, xr + (int64_t)ix * s->in_c, (size_t)cg, lim);
            }
        }
        if (tail)
            memset(a + (size_t)i * a_stride + a_stride - tail, 0, tail);
        if (++ox == s->out_w) {
            ox = 0;
            if (++oy == s->out_h) {
                oy = 0;
                b++;
            }
        }
    }
}

/* A rows [0, mc) from rows r0 .. of a [rows, ld] int8 matrix, columns
 * [c0, c0 + n): dense (ld = n = in_features), and a 1x1 stride-1 unpadded
 * conv (ld = in_c, pixels are rows; no im2col). Contiguous rows (n == ld
 * and no K padding) are one copy. */
static void matrix_rows(const struct a_writer *w, const int8_t *x, int64_t ld, int64_t c0,
                        size_t n, int64_t r0, int mc, uint8_t *a, size_t a_stride)
{
    const int8_t *src = x + r0 * ld + c0;
    if ((int64_t)n == ld && n * w->elem == a_stride) {
        put_values(w, a, src, n * (size_t)mc, a + n * (size_t)mc * w->elem);
        return;
    }
    const size_t tail = a_stride - n * w->elem;
    for (int i = 0; i < mc; i++) {
        uint8_t *row = a + (size_t)i * a_stride;
        put_values(w, row, src + (int64_t)i * ld, n, row + a_stride);
        if (tail)
            memset(row + a_stride - tail, 0, tail);
    }
}

static int is_pointwise(const struct q8_conv2d_shape *s)
{
    return s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 &&
           s->pad_top == 0 && s->pad_left == 0 && s->out_h == s->in_h && s->out_w == s->in_w;
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

/* The source of the A rows: a conv2d (im2col) or a dense input. */
struct gemm_rows {
    const struct q8_conv2d_shape *conv; /* NULL: dense */
    const int8_t *x;
    int in_features;
};

/* Runs the GEMMs of rows [0, m) in chunks of at most chunk_rows (A stays
 * in L2), per group. */
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
    const int64_t x_len = s ? s->batch * s->in_h * s->in_w * s->in_c : m * src->in_features;
    const struct a_writer aw = {f, elem, zx, (uint8_t)(zx + 128), ops->copy_a, src->x + x_len};
    const int pointwise = s && is_pointwise(s);
    for (int g = 0; g < h->groups; g++) {
        for (int64_t m0 = 0; m0 < m; m0 += (int64_t)mc_max) {
            const int mc = (int)(m - m0 < (int64_t)mc_max ? m - m0 : (int64_t)mc_max);
            const int rows = (int)round_up((size_t)mc, (size_t)ops->m_align);
            if (!s)
                matrix_rows(&aw, src->x, src->in_features, 0, (size_t)src->in_features, m0, mc,
                            a, a_stride);
            else if (pointwise)
                matrix_rows(&aw, src->x, s->in_c, (int64_t)g * (s->in_c / s->groups),
                            (size_t)h->k, m0, mc, a, a_stride);
            else
                im2col_rows(&aw, s, src->x, g, m0, mc, a, a_stride);
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
static const struct q8_gemm_ops ops_ref = {Q8_FORMAT_RAW, 1, NULL, NULL, NULL};
static const struct q8_gemm_ops ops_avx2 = {Q8_FORMAT_I16, 1, q8_gemm_6x16__avx2,
                                            q8_dwconv__avx2, q8_copy_a_i16__avx2};
static const struct q8_gemm_ops ops_avx512 = {Q8_FORMAT_I16, 1, q8_gemm_8x32__avx512,
                                              q8_dwconv__avx512, q8_copy_a_i16__avx512};
static const struct q8_gemm_ops ops_vnni = {Q8_FORMAT_U8, 1, q8_gemm_8x32__vnni,
                                            q8_dwconv__avx512, q8_copy_a_u8__avx512};
static const struct q8_gemm_ops ops_amx = {Q8_FORMAT_U8K64, 32, q8_gemm_32x32__amx,
                                           q8_dwconv__avx512, q8_copy_a_u8__avx512};
/* The amx layout also runs on the vnni micro-kernel (kp is a multiple of
 * 4), used if tile permission was refused after packing. */
static const struct q8_gemm_ops ops_amx_on_vnni = {Q8_FORMAT_U8K64, 1, q8_gemm_8x32__vnni,
                                                   q8_dwconv__avx512, q8_copy_a_u8__avx512};

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
