/* quanta quantize on checkpoints without a graph: a safetensors "bag of
 * tensors" or a sharded set with its index JSON (see quantize.h).
 *
 * One file is done in a single sequential pass over its read-only mapping:
 * the tensors in the order of their offsets (the data buffer is covered
 * exactly, model-format.md section 1), each converted row by row (or in
 * blocks of elements) into a 4 MiB buffer that is handed to st_writer_put
 * whenever it fills; a tensor copied unchanged goes from the mapping to the
 * writer in 1 MiB pieces. Just before bytes are used they are fed to the
 * SHA-256 of the file (quanta.source_sha256), in file order from byte 0
 * (length and header first) and at least 256 KiB at a time, so each input
 * byte is hashed and then converted while it is in the cache. The header,
 * written first, holds 64 '0' in place of the digest, which
 * st_writer_set_meta writes over (same length) before the commit: same
 * bytes as if the digest had been known up front.
 * The mapping is madvised MADV_SEQUENTIAL and the pages done with are
 * dropped (MADV_DONTNEED: they stay in the page cache, but leave the
 * process); the output is written behind (st_writer_write_behind), so the
 * resident size stays at a few MiB plus one tensor's scales whatever the
 * size of the checkpoint. A mapping costs less CPU than pread into a
 * buffer here (no copy); the hash (SHA-NI when the CPU has it, ~1.5 GB/s)
 * is most of the remaining time.
 *
 * int8 rows are quantized exactly as quantize_weights_i8 does (symmetric,
 * scale = max|w| / 127 in double stored as float, 1 for a row of zeros,
 * q = clamp(round(w / scale), -127, 127) half away from zero, in double),
 * by a loop written so that the compiler can vectorize it: round() is
 * trunc plus a step when the exact fractional part is at least one half. */
#include "quant/quantize_internal.h"

#include <cJSON.h>
#include <errno.h>
#include <float.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "quanta/quanta.h"
#include "quanta/safe_file.h"
#include "quanta/safetensors.h"
#include "quanta/sha256.h"

#define OUT_BUFFER_BYTES ((size_t)4 << 20)    /* converted bytes per st_writer_put */
#define RELEASE_BYTES ((uint64_t)16 << 20)    /* input pages dropped in steps of this */
#define HASH_AHEAD ((uint64_t)256 << 10)      /* least bytes hashed at a time (fit in L2) */
#define COPY_PIECE ((uint64_t)1 << 20)        /* unchanged bytes per st_writer_put */
#define F16_BLOCK 16384                       /* elements converted at a time */
#define MAX_INDEX_BYTES ((size_t)256 << 20)   /* largest shard index accepted */
#define SHARD_SUFFIX ".safetensors.index.json"

enum action { ACT_COPY, ACT_INT8, ACT_F16 };

/* ---- small helpers ---- */

void quantize_tensors_options_default(struct quantize_tensors_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->mode = QUANTIZE_WEIGHT_ONLY;
    opt->weights = QUANTIZE_PER_CHANNEL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool quantize_tensors_is_index(const char *path)
{
    return ends_with(path, ".json");
}

int64_t quantize_find_nonfinite(enum quanta_dtype dtype, const void *data, int64_t n)
{
    const unsigned char *p = data;
    switch (dtype) {
    case QUANTA_F32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u)
                return i;
        }
        return -1;
    case QUANTA_F64:
        for (int64_t i = 0; i < n; i++) {
            uint64_t u;
            memcpy(&u, p + 8 * i, 8);
            if ((u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull)
                return i;
        }
        return -1;
    case QUANTA_F16:
    case QUANTA_BF16: {
        uint16_t mask = dtype == QUANTA_F16 ? 0x7c00u : 0x7f80u;
        for (int64_t i = 0; i < n; i++) {
            uint16_t u;
            memcpy(&u, p + 2 * i, 2);
            if ((u & mask) == mask)
                return i;
        }
        return -1;
    }
    default:
        return -1;
    }
}

enum quanta_status qz_fail_nonfinite(struct quanta_error *err, const char *source,
                                     const char *name, enum quanta_dtype dtype,
                                     const struct quanta_shape *shape, const void *data,
                                     int64_t i)
{
    double x;
    if (dtype == QUANTA_F64) {
        memcpy(&x, (const char *)data + 8 * i, 8);
    } else {
        float f;
        quanta_convert_to_f32(dtype, (const char *)data + (size_t)i * quanta_dtype_size(dtype),
                              &f, 1);
        x = f;
    }
    const char *what = isnan(x) ? "nan" : x > 0 ? "inf" : "-inf";
    if (shape->rank >= 2 && shape->dims[0] > 0) {
        int64_t per = quanta_shape_numel(shape) / shape->dims[0];
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: tensor '%s' holds %s at element %" PRId64 " (row %" PRId64
                           ", offset %" PRId64 " in the row): weights must be finite "
                           "(--allow-nonfinite quantizes anyway)",
                           source, name, what, i, per ? i / per : 0, per ? i % per : 0);
    }
    return quanta_fail(err, QUANTA_ERR_INPUT,
                       "%s: tensor '%s' holds %s at element %" PRId64
                       ": weights must be finite (--allow-nonfinite quantizes anyway)",
                       source, name, what, i);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool is_provenance_key(const char *key)
{
    return strcmp(key, "quanta.graph") == 0 || strcmp(key, "quanta.version") == 0 ||
           strcmp(key, "quanta.quantize.options") == 0 ||
           strncmp(key, "quanta.calibration.", 19) == 0 ||
           strcmp(key, "quanta.source_sha256") == 0;
}

/* ---- which tensors: globs ---- */

struct globs {
    const struct quantize_tensors_options *opt;
    bool *include_used, *exclude_used;
};

static bool match_any(const char *name, const char *const *patterns, int n, bool *used)
{
    bool hit = false;
    for (int i = 0; i < n; i++) {
        if (fnmatch(patterns[i], name, 0) == 0) {
            used[i] = true;
            hit = true;
        }
    }
    return hit;
}

/* Whether name is to be converted by the globs (every glob is tried, so
 * that the ones matching nothing can be reported). */
static bool chosen(struct globs *g, const char *name)
{
    bool in = match_any(name, g->opt->include, g->opt->n_include, g->include_used);
    bool out = match_any(name, g->opt->exclude, g->opt->n_exclude, g->exclude_used);
    return (g->opt->n_include == 0 || in) && !out;
}

static enum quanta_status check_globs_used(const struct globs *g, const char *source,
                                           struct quanta_error *err)
{
    for (int i = 0; i < g->opt->n_include; i++)
        if (!g->include_used[i])
            return quanta_fail(err, QUANTA_ERR_USAGE, "%s: include pattern '%s' matches no "
                                                      "tensor", source, g->opt->include[i]);
    for (int i = 0; i < g->opt->n_exclude; i++)
        if (!g->exclude_used[i])
            return quanta_fail(err, QUANTA_ERR_USAGE, "%s: exclude pattern '%s' matches no "
                                                      "tensor", source, g->opt->exclude[i]);
    return QUANTA_OK;
}

static enum action action_of(const struct quantize_tensors_options *opt,
                             const struct st_tensor *t, bool selected)
{
    if (!selected)
        return ACT_COPY;
    if (opt->mode == QUANTIZE_WEIGHT_ONLY)
        return t->shape.rank == 2 && (t->dtype == QUANTA_F32 || t->dtype == QUANTA_F16 ||
                                      t->dtype == QUANTA_BF16)
                   ? ACT_INT8
                   : ACT_COPY;
    return t->dtype == QUANTA_F32 || t->dtype == QUANTA_BF16 || t->dtype == QUANTA_F64
               ? ACT_F16
               : ACT_COPY;
}

/* ---- names: the tensors of every input file plus the scales made ---- */

struct names {
    struct st_file *files;
    size_t n_files;
    char **made;
    size_t n_made, cap_made;
};

static bool name_taken(const struct names *ns, const char *name)
{
    for (size_t f = 0; f < ns->n_files; f++)
        if (st_find(&ns->files[f], name))
            return true;
    for (size_t i = 0; i < ns->n_made; i++)
        if (strcmp(ns->made[i], name) == 0)
            return true;
    return false;
}

/* "<base>.scale" (or ".scale2", ...), recorded in ns; NULL: no memory. */
static const char *make_scale_name(struct names *ns, const char *base)
{
    size_t size = strlen(base) + sizeof ".scale" + 24;
    char *name = malloc(size);
    if (!name)
        return NULL;
    snprintf(name, size, "%s.scale", base);
    for (unsigned k = 2; name_taken(ns, name); k++)
        snprintf(name, size, "%s.scale%u", base, k);
    if (ns->n_made == ns->cap_made) {
        size_t cap = ns->cap_made ? 2 * ns->cap_made : 64;
        char **grown = realloc(ns->made, cap * sizeof *grown);
        if (!grown) {
            free(name);
            return NULL;
        }
        ns->made = grown;
        ns->cap_made = cap;
    }
    ns->made[ns->n_made++] = name;
    return name;
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n_made; i++)
        free(ns->made[i]);
    free(ns->made);
}

/* ---- the plan of one file ---- */

struct item {
    const struct st_tensor *t;
    enum action action;
    const char *scale_name; /* ACT_INT8: owned by struct names */
};

struct plan {
    struct item *items;             /* offset order */
    size_t n_items;
    struct st_tensor_desc *descs;   /* the output header, offset order */
    size_t n_descs;
    uint64_t data_bytes;            /* output data buffer size */
};

static void plan_free(struct plan *p)
{
    free(p->items);
    free(p->descs);
    memset(p, 0, sizeof *p);
}

static int compare_items(const void *a, const void *b)
{
    const struct st_tensor *x = ((const struct item *)a)->t, *y = ((const struct item *)b)->t;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y; /* header order */
}

static enum quanta_status make_plan(const struct st_file *in, const struct quantize_tensors_options *opt,
                                    struct globs *g, struct names *ns, struct plan *p,
                                    struct quanta_error *err)
{
    memset(p, 0, sizeof *p);
    size_t n = in->n_tensors;
    p->items = calloc(n ? n : 1, sizeof *p->items);
    p->descs = calloc(n ? 2 * n : 1, sizeof *p->descs);
    if (!p->items || !p->descs)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        p->items[i].t = &in->tensors[i];
        p->items[i].action = action_of(opt, &in->tensors[i], chosen(g, in->tensors[i].name));
    }
    p->n_items = n;
    qsort(p->items, n, sizeof *p->items, compare_items);
    for (size_t i = 0; i < n; i++) {
        struct item *it = &p->items[i];
        struct st_tensor_desc *d = &p->descs[p->n_descs++];
        d->name = it->t->name;
        d->shape = it->t->shape;
        d->dtype = it->action == ACT_INT8  ? QUANTA_I8
                   : it->action == ACT_F16 ? QUANTA_F16
                                           : it->t->dtype;
        p->data_bytes += (uint64_t)quanta_shape_numel(&d->shape) * quanta_dtype_size(d->dtype);
        if (it->action == ACT_INT8) {
            if (!(it->scale_name = make_scale_name(ns, it->t->name)))
                goto nomem;
            struct st_tensor_desc *s = &p->descs[p->n_descs++];
            s->name = it->scale_name;
            s->dtype = QUANTA_F32;
            s->shape.rank = 1;
            s->shape.dims[0] = opt->weights == QUANTIZE_PER_CHANNEL ? it->t->shape.dims[0] : 1;
            p->data_bytes += 4 * (uint64_t)s->shape.dims[0];
        }
    }
    return QUANTA_OK;
nomem:
    plan_free(p);
    return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", in->path);
}

/* ---- reading the mapping once, front to back ---- */

struct input {
    const struct st_file *f;
    size_t page;
    uint64_t released;   /* bytes of the mapping dropped so far (page multiple) */
    uint64_t hashed;     /* bytes of the file hashed so far, from byte 0 */
    struct quanta_sha256 sha;
};

static void input_start(struct input *in, const struct st_file *f)
{
    in->f = f;
    long page = sysconf(_SC_PAGESIZE);
    in->page = page > 0 ? (size_t)page : 4096;
    in->released = 0;
    in->hashed = 0;
    quanta_sha256_init(&in->sha);
    madvise(f->map, f->map_size, MADV_SEQUENTIAL); /* advice only: failure is harmless */
}

/* To be called before the bytes of the mapping up to `upto` are used:
 * hashes what is not hashed yet, at least HASH_AHEAD at a time, so the
 * digest covers the file in order, each byte once, and the bytes are in
 * the cache when the conversion reads them right after. */
static void input_need(struct input *in, uint64_t upto)
{
    if (upto <= in->hashed)
        return;
    uint64_t to = in->hashed + HASH_AHEAD > upto ? in->hashed + HASH_AHEAD : upto;
    to = to < in->f->map_size ? to : in->f->map_size;
    quanta_sha256_update(&in->sha, (const char *)in->f->map + in->hashed,
                         (size_t)(to - in->hashed));
    in->hashed = to;
}

/* The digest of the whole file (the bytes not used yet are hashed now). */
static void input_digest(struct input *in, char hex[QUANTA_SHA256_HEX_SIZE])
{
    uint8_t digest[QUANTA_SHA256_SIZE];
    input_need(in, in->f->map_size);
    quanta_sha256_final(&in->sha, digest);
    quanta_sha256_hex(digest, hex);
}

/* Drops the pages wholly before byte `upto` of the mapping, once at least
 * RELEASE_BYTES have accumulated. */
static void input_release(struct input *in, uint64_t upto)
{
    uint64_t to = upto - upto % in->page;
    if (to <= in->released || to - in->released < RELEASE_BYTES)
        return;
    madvise((char *)in->f->map + in->released, (size_t)(to - in->released), MADV_DONTNEED);
    in->released = to;
}

static uint64_t map_offset(const struct input *in, const void *p)
{
    return (uint64_t)((const char *)p - (const char *)in->f->map);
}

/* ---- writing through a buffer ---- */

struct output {
    struct st_writer *w;
    unsigned char *buf;
    size_t fill;
    struct quanta_error *err;
};

static enum quanta_status out_flush(struct output *o)
{
    enum quanta_status st = st_writer_put(o->w, o->buf, o->fill, o->err);
    o->fill = 0;
    return st;
}

static enum quanta_status out_put(struct output *o, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    while (n > 0) {
        size_t take = OUT_BUFFER_BYTES - o->fill < n ? OUT_BUFFER_BYTES - o->fill : n;
        memcpy(o->buf + o->fill, p, take);
        o->fill += take;
        p += take;
        n -= take;
        if (o->fill == OUT_BUFFER_BYTES) {
            enum quanta_status st = out_flush(o);
            if (st)
                return st;
        }
    }
    return QUANTA_OK;
}

/* ---- conversions ---- */

/* max |w| over the finite values of a row; *bad gets the first non-finite
 * index (or -1). */
static double row_absmax_c(const float *w, int64_t n, int64_t *bad)
{
    float m = 0.0f;
    *bad = -1;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(w[i]);
        if (!(a <= FLT_MAX)) { /* NaN or Inf */
            if (*bad < 0)
                *bad = i;
        } else if (a > m) {
            m = a;
        }
    }
    return m;
}

/* q = clamp(round(w / s), -127, 127), half away from zero, NaN -> 0: the
 * same as quantize_weights_i8, with round() as trunc plus one step when
 * the (exact) fractional part reaches one half. */
static void quantize_row_c(const float *w, int64_t n, float s, int8_t *q)
{
    const double ds = (double)s;
    for (int64_t i = 0; i < n; i++) {
        double x = (double)w[i] / ds;
        x = x == x ? x : 0.0;
        x = x > 127.0 ? 127.0 : x;
        x = x < -127.0 ? -127.0 : x;
        double t = (double)(int32_t)x; /* |x| <= 127: exact truncation */
        double frac = x - t;           /* exact */
        t += frac >= 0.5 ? 1.0 : 0.0;
        t -= frac <= -0.5 ? 1.0 : 0.0;
        q[i] = (int8_t)t;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2_TARGET __attribute__((target("avx2")))

/* row_absmax_c, 8 floats at a time. */
AVX2_TARGET static double row_absmax_avx2(const float *w, int64_t n, int64_t *bad)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 big = _mm256_set1_ps(FLT_MAX);
    __m256 m = _mm256_setzero_ps(), nonfinite = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(w + i), abs_mask);
        __m256 finite = _mm256_cmp_ps(a, big, _CMP_LE_OQ); /* false for NaN, Inf */
        nonfinite = _mm256_or_ps(nonfinite, _mm256_andnot_ps(finite, abs_mask));
        m = _mm256_max_ps(m, _mm256_and_ps(a, finite));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float best = _mm_cvtss_f32(h);
    int64_t tail_bad;
    float tail = (float)row_absmax_c(w + i, n - i, &tail_bad);
    best = tail > best ? tail : best;
    *bad = -1;
    if (_mm256_movemask_ps(nonfinite) != 0)
        row_absmax_c(w, i, bad);
    if (*bad < 0 && tail_bad >= 0)
        *bad = i + tail_bad;
    return best;
}

/* Four doubles: clamp(round(x), -127, 127) as int32, NaN -> 0. */
AVX2_TARGET static inline __m128i round_clamp4(__m256d x)
{
    const __m256d hi = _mm256_set1_pd(127.0), lo = _mm256_set1_pd(-127.0);
    const __m256d half = _mm256_set1_pd(0.5), mhalf = _mm256_set1_pd(-0.5);
    const __m256d one = _mm256_set1_pd(1.0);
    x = _mm256_and_pd(x, _mm256_cmp_pd(x, x, _CMP_ORD_Q)); /* NaN -> 0 */
    x = _mm256_min_pd(_mm256_max_pd(x, lo), hi);
    __m256d t = _mm256_round_pd(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256d frac = _mm256_sub_pd(x, t);
    t = _mm256_add_pd(t, _mm256_and_pd(_mm256_cmp_pd(frac, half, _CMP_GE_OQ), one));
    t = _mm256_sub_pd(t, _mm256_and_pd(_mm256_cmp_pd(frac, mhalf, _CMP_LE_OQ), one));
    return _mm256_cvttpd_epi32(t);
}

/* quantize_row_c, 16 floats at a time (the division stays in double so
 * that the results are the same to the bit). */
AVX2_TARGET static void quantize_row_avx2(const float *w, int64_t n, float s, int8_t *q)
{
    const __m256d ds = _mm256_set1_pd((double)s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(w + i), b = _mm256_loadu_ps(w + i + 8);
        __m128i q0 = round_clamp4(_mm256_div_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)), ds));
        __m128i q1 = round_clamp4(_mm256_div_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)), ds));
        __m128i q2 = round_clamp4(_mm256_div_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(b)), ds));
        __m128i q3 = round_clamp4(_mm256_div_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(b, 1)), ds));
        __m128i lo = _mm_packs_epi32(q0, q1), hi = _mm_packs_epi32(q2, q3);
        _mm_storeu_si128((__m128i *)(q + i), _mm_packs_epi16(lo, hi));
    }
    quantize_row_c(w + i, n - i, s, q + i);
}

static bool have_avx2(void)
{
    static int known = -1;
    if (known < 0)
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
    return known == 1;
}

static double row_absmax(const float *w, int64_t n, int64_t *bad)
{
    return have_avx2() ? row_absmax_avx2(w, n, bad) : row_absmax_c(w, n, bad);
}

static void quantize_row(const float *w, int64_t n, float s, int8_t *q)
{
    if (have_avx2())
        quantize_row_avx2(w, n, s, q);
    else
        quantize_row_c(w, n, s, q);
}
#else
static double row_absmax(const float *w, int64_t n, int64_t *bad)
{
    return row_absmax_c(w, n, bad);
}

static void quantize_row(const float *w, int64_t n, float s, int8_t *q)
{
    quantize_row_c(w, n, s, q);
}
#endif

static float scale_for(double absmax)
{
    float s = (float)(absmax / 127.0);
    return s > 0.0f && isfinite(s) ? s : 1.0f;
}

/* Row r of t as floats, its bytes hashed first: the mapping itself when
 * it holds aligned F32, else converted into buf. */
static const float *load_row(struct input *in, const struct st_tensor *t, int64_t r,
                             int64_t cols, float *buf)
{
    size_t esize = quanta_dtype_size(t->dtype);
    const char *src = (const char *)t->data + (size_t)r * (size_t)cols * esize;
    input_need(in, map_offset(in, src) + (uint64_t)cols * esize);
    if (t->dtype == QUANTA_F32 && (uintptr_t)src % _Alignof(float) == 0)
        return (const float *)(const void *)src;
    if (t->dtype == QUANTA_F32)
        memcpy(buf, src, (size_t)cols * sizeof *buf);
    else
        quanta_convert_to_f32(t->dtype, src, buf, (size_t)cols);
    return buf;
}

static enum quanta_status put_int8(struct output *o, struct input *in, const struct item *it,
                                   const struct quantize_tensors_options *opt, const char *source)
{
    const struct st_tensor *t = it->t;
    int64_t rows = t->shape.dims[0], cols = t->shape.dims[1];
    bool per_row = opt->weights == QUANTIZE_PER_CHANNEL;
    size_t row_bytes = (size_t)cols * quanta_dtype_size(t->dtype);
    float *row = malloc((size_t)(cols > 0 ? cols : 1) * sizeof *row);
    int8_t *q = malloc((size_t)(cols > 0 ? cols : 1));
    float *scales = malloc((size_t)(per_row && rows > 0 ? rows : 1) * sizeof *scales);
    enum quanta_status st = QUANTA_OK;
    int64_t bad;
    if (!row || !q || !scales) {
        st = quanta_fail(o->err, QUANTA_ERR_NOMEM, "%s: out of memory", source);
        goto done;
    }
    if (!per_row) { /* one scale: a first pass for max |w| */
        double m = 0.0;
        for (int64_t r = 0; r < rows; r++) {
            const float *w = load_row(in, t, r, cols, row);
            double rm = row_absmax(w, cols, &bad);
            if (bad >= 0 && !opt->allow_nonfinite) {
                st = qz_fail_nonfinite(o->err, source, t->name, t->dtype, &t->shape, t->data,
                                       r * cols + bad);
                goto done;
            }
            m = rm > m ? rm : m;
        }
        scales[0] = scale_for(m);
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *w = load_row(in, t, r, cols, row);
        float s = scales[0];
        if (per_row) {
            double rm = row_absmax(w, cols, &bad);
            if (bad >= 0 && !opt->allow_nonfinite) {
                st = qz_fail_nonfinite(o->err, source, t->name, t->dtype, &t->shape, t->data,
                                       r * cols + bad);
                goto done;
            }
            s = scales[r] = scale_for(rm);
        }
        if (OUT_BUFFER_BYTES - o->fill >= (size_t)cols) { /* straight into the buffer */
            quantize_row(w, cols, s, (int8_t *)(o->buf + o->fill));
            o->fill += (size_t)cols;
        } else {
            quantize_row(w, cols, s, q);
            if ((st = out_put(o, q, (size_t)cols)))
                goto done;
        }
        input_release(in, map_offset(in, t->data) + (uint64_t)(r + 1) * row_bytes);
    }
    st = out_put(o, scales, (size_t)(per_row ? rows : 1) * sizeof *scales);
done:
    free(row);
    free(q);
    free(scales);
    return st;
}

static enum quanta_status put_f16(struct output *o, struct input *in, const struct item *it,
                                  const struct quantize_tensors_options *opt, const char *source)
{
    const struct st_tensor *t = it->t;
    int64_t n = quanta_shape_numel(&t->shape);
    size_t esize = quanta_dtype_size(t->dtype);
    float *f = malloc(F16_BLOCK * sizeof *f);
    uint16_t *h = malloc(F16_BLOCK * sizeof *h);
    enum quanta_status st = QUANTA_OK;
    if (!f || !h) {
        st = quanta_fail(o->err, QUANTA_ERR_NOMEM, "%s: out of memory", source);
        goto done;
    }
    for (int64_t i = 0; i < n; i += F16_BLOCK) {
        int64_t k = n - i < F16_BLOCK ? n - i : F16_BLOCK;
        const char *src = (const char *)t->data + (size_t)i * esize;
        input_need(in, map_offset(in, src) + (uint64_t)k * esize);
        int64_t bad = opt->allow_nonfinite ? -1 : quantize_find_nonfinite(t->dtype, src, k);
        if (bad >= 0) {
            st = qz_fail_nonfinite(o->err, source, t->name, t->dtype, &t->shape, t->data,
                                   i + bad);
            goto done;
        }
        if (t->dtype == QUANTA_F64) {
            for (int64_t j = 0; j < k; j++) {
                double d;
                memcpy(&d, src + 8 * j, 8);
                f[j] = (float)d;
            }
        } else {
            quanta_convert_to_f32(t->dtype, src, f, (size_t)k);
        }
        for (int64_t j = 0; j < k; j++)
            h[j] = quanta_f32_to_f16(f[j]);
        if ((st = out_put(o, h, (size_t)k * sizeof *h)))
            goto done;
        input_release(in, map_offset(in, src) + (uint64_t)k * esize);
    }
done:
    free(f);
    free(h);
    return st;
}

static enum quanta_status put_copy(struct output *o, struct input *in, const struct item *it)
{
    const char *p = it->t->data;
    uint64_t size = it->t->end - it->t->begin;
    enum quanta_status st = QUANTA_OK;
    if (size < OUT_BUFFER_BYTES) {
        input_need(in, map_offset(in, p) + size);
        return out_put(o, p, (size_t)size);
    }
    if (o->fill > 0 && (st = out_flush(o)))
        return st;
    for (uint64_t done = 0; done < size;) {
        uint64_t n = size - done < COPY_PIECE ? size - done : COPY_PIECE;
        input_need(in, map_offset(in, p) + done + n);
        if ((st = st_writer_put(o->w, p + done, (size_t)n, o->err)))
            return st;
        done += n;
        input_release(in, map_offset(in, p) + done);
    }
    return QUANTA_OK;
}

/* ---- one file ---- */

/* Writes output from in by plan, with in's metadata and the provenance.
 * The source digest is known only at the end: the header gets 64 '0' in
 * its place, overwritten (same length) before the commit. */
static enum quanta_status convert_file(const struct st_file *in, const struct plan *p,
                                       const char *output,
                                       const struct quantize_tensors_options *opt,
                                       struct quanta_error *err)
{
    char sha[QUANTA_SHA256_HEX_SIZE];
    struct output o = {.err = err};
    struct input reader;
    enum quanta_status st = QUANTA_OK;
    struct st_meta *meta = calloc(in->n_meta + 3, sizeof *meta);
    o.buf = malloc(OUT_BUFFER_BYTES);
    if (!meta || !o.buf) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", in->path);
        goto done;
    }
    memset(sha, '0', QUANTA_SHA256_HEX_SIZE - 1);
    sha[QUANTA_SHA256_HEX_SIZE - 1] = '\0';
    size_t n_meta = 0;
    for (size_t i = 0; i < in->n_meta; i++)
        if (!is_provenance_key(in->meta[i].key))
            meta[n_meta++] = in->meta[i];
    meta[n_meta++] = (struct st_meta){"quanta.version", QUANTA_VERSION};
    if (opt->options_json)
        meta[n_meta++] = (struct st_meta){"quanta.quantize.options", opt->options_json};
    meta[n_meta++] = (struct st_meta){"quanta.source_sha256", sha};

    if ((st = st_writer_open(&o.w, output, p->descs, p->n_descs, meta, n_meta, err)))
        goto done;
    st_writer_write_behind(o.w);
    input_start(&reader, in);
    for (size_t i = 0; i < p->n_items && st == QUANTA_OK; i++) {
        const struct item *it = &p->items[i];
        switch (it->action) {
        case ACT_INT8:
            st = put_int8(&o, &reader, it, opt, in->path);
            break;
        case ACT_F16:
            st = put_f16(&o, &reader, it, opt, in->path);
            break;
        default:
            st = put_copy(&o, &reader, it);
            break;
        }
        if (st == QUANTA_OK)
            input_release(&reader, map_offset(&reader, it->t->data) + (it->t->end - it->t->begin));
    }
    if (st == QUANTA_OK && o.fill > 0)
        st = out_flush(&o);
    if (st == QUANTA_OK) {
        input_digest(&reader, sha);
        st = st_writer_set_meta(o.w, "quanta.source_sha256", sha, err);
    }
    if (st == QUANTA_OK) {
        st = st_writer_commit(o.w, err); /* frees the writer */
    } else {
        st_writer_abort(o.w);
    }
    o.w = NULL;
done:
    free(o.buf);
    free(meta);
    return st;
}

static enum quanta_status globs_init(struct globs *g, const struct quantize_tensors_options *opt,
                                     struct quanta_error *err)
{
    g->opt = opt;
    g->include_used = calloc((size_t)opt->n_include + 1, sizeof *g->include_used);
    g->exclude_used = calloc((size_t)opt->n_exclude + 1, sizeof *g->exclude_used);
    if (!g->include_used || !g->exclude_used) {
        free(g->include_used);
        free(g->exclude_used);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    }
    return QUANTA_OK;
}

static void globs_free(struct globs *g)
{
    free(g->include_used);
    free(g->exclude_used);
}

static enum quanta_status check_options(const struct quantize_tensors_options *opt,
                                        struct quanta_error *err)
{
    if (opt->mode != QUANTIZE_WEIGHT_ONLY && opt->mode != QUANTIZE_FP16)
        return quanta_fail(err, QUANTA_ERR_USAGE, "a checkpoint without a graph can be quantized "
                                                  "weight-only or fp16, not static (no graph to "
                                                  "calibrate)");
    return QUANTA_OK;
}

enum quanta_status quantize_tensors_file(const char *input, const char *output,
                                         const struct quantize_tensors_options *opt,
                                         struct quanta_error *err)
{
    struct st_file f;
    struct globs g;
    struct plan p;
    enum quanta_status st;
    if ((st = check_options(opt, err)) || (st = safe_file_check_not_input(output, input, err)))
        return st;
    if ((st = st_open(&f, input, err)))
        return st;
    if ((st = globs_init(&g, opt, err))) {
        st_close(&f);
        return st;
    }
    struct names ns = {.files = &f, .n_files = 1};
    if (!(st = make_plan(&f, opt, &g, &ns, &p, err))) {
        if (!(st = check_globs_used(&g, input, err)))
            st = convert_file(&f, &p, output, opt, err);
        plan_free(&p);
    }
    names_free(&ns);
    globs_free(&g);
    st_close(&f);
    return st;
}

/* ---- sharded checkpoints ---- */

static int compare_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *read_small_file(const char *path, size_t *size, struct quanta_error *err)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    if (!fp) {
        quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            if (cap >= MAX_INDEX_BYTES) {
                quanta_fail(err, QUANTA_ERR_INPUT, "%s: larger than %zu bytes", path,
                            MAX_INDEX_BYTES);
                goto fail;
            }
            cap = cap ? 2 * cap : 65536 * 2;
            char *grown = realloc(buf, cap);
            if (!grown) {
                quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
                goto fail;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) {
                quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot read", path);
                goto fail;
            }
            break;
        }
    }
    fclose(fp);
    buf[n] = '\0';
    *size = n;
    return buf;
fail:
    fclose(fp);
    free(buf);
    return NULL;
}

struct sharded {
    const char *index;
    cJSON *doc;
    const cJSON *weight_map;
    char **shard_names;        /* distinct values of weight_map, sorted (point into doc) */
    size_t n_shards;
    struct st_file *files;     /* opened, same order */
    char **out_paths;          /* output shard paths */
    struct plan *plans;
};

/* "<dir of index>/<name>" (malloc'd). */
static char *beside(const char *index, const char *name)
{
    const char *slash = strrchr(index, '/');
    size_t dir = slash ? (size_t)(slash - index) + 1 : 0;
    char *p = malloc(dir + strlen(name) + 1);
    if (p) {
        memcpy(p, index, dir);
        strcpy(p + dir, name);
    }
    return p;
}

static enum quanta_status load_index(struct sharded *s, struct quanta_error *err)
{
    size_t size;
    char *text = read_small_file(s->index, &size, err);
    if (!text)
        return err->status;
    s->doc = cJSON_ParseWithLength(text, size);
    free(text);
    if (!cJSON_IsObject(s->doc))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: not a JSON object (a shard index)",
                           s->index);
    s->weight_map = cJSON_GetObjectItemCaseSensitive(s->doc, "weight_map");
    if (!cJSON_IsObject(s->weight_map) || !s->weight_map->child)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: no \"weight_map\" object with tensors",
                           s->index);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(s->doc, "metadata");
    if (meta && !cJSON_IsObject(meta) && !cJSON_IsNull(meta))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"metadata\" is not an object", s->index);
    size_t n = 0;
    for (const cJSON *e = s->weight_map->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->valuestring[0])
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: weight_map entry '%s' is not a "
                                                      "file name", s->index, e->string);
        const char *v = e->valuestring;
        if (v[0] == '/' || strcmp(v, "..") == 0 || strncmp(v, "../", 3) == 0 || strstr(v, "/../"))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: weight_map entry '%s': shard '%s' is "
                                                      "not a path inside the index's folder",
                               s->index, e->string, v);
        n++;
    }
    s->shard_names = malloc(n * sizeof *s->shard_names);
    if (!s->shard_names)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", s->index);
    n = 0;
    for (const cJSON *e = s->weight_map->child; e; e = e->next)
        s->shard_names[n++] = e->valuestring;
    qsort(s->shard_names, n, sizeof *s->shard_names, compare_cstr);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(s->shard_names[k - 1], s->shard_names[i]) != 0)
            s->shard_names[k++] = s->shard_names[i];
    s->n_shards = k;
    return QUANTA_OK;
}

static size_t shard_index(const struct sharded *s, const char *name)
{
    const char **hit = bsearch(&name, s->shard_names, s->n_shards, sizeof *s->shard_names,
                               compare_cstr);
    return hit ? (size_t)((char **)hit - s->shard_names) : SIZE_MAX;
}

static enum quanta_status open_shards(struct sharded *s, struct quanta_error *err)
{
    enum quanta_status st;
    s->files = calloc(s->n_shards, sizeof *s->files);
    if (!s->files)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", s->index);
    for (size_t i = 0; i < s->n_shards; i++) {
        char *path = beside(s->index, s->shard_names[i]);
        if (!path)
            return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", s->index);
        st = st_open(&s->files[i], path, err);
        free(path);
        if (st)
            return st;
        if (st_meta_find(&s->files[i], "quanta.graph"))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: shard has a graph (quanta.graph); "
                                                      "shards hold tensors only",
                               s->files[i].path);
    }
    /* the index and the shards must agree tensor by tensor */
    size_t listed = 0;
    for (const cJSON *e = s->weight_map->child; e; e = e->next) {
        size_t k = shard_index(s, e->valuestring);
        if (k == SIZE_MAX || !st_find(&s->files[k], e->string))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s' is mapped to '%s', "
                                                      "which does not hold it",
                               s->index, e->string, e->valuestring);
        listed++;
    }
    size_t held = 0;
    for (size_t i = 0; i < s->n_shards; i++) {
        held += s->files[i].n_tensors;
        for (size_t t = 0; t < s->files[i].n_tensors; t++) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(s->weight_map,
                                                             s->files[i].tensors[t].name);
            if (!e || strcmp(e->valuestring, s->shard_names[i]) != 0)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s' of shard '%s' is "
                                                          "not mapped to it in weight_map",
                                   s->index, s->files[i].tensors[t].name, s->shard_names[i]);
        }
    }
    if (held != listed) /* a name listed twice in weight_map */
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: weight_map lists %zu entries for %zu "
                                                  "tensors", s->index, listed, held);
    return QUANTA_OK;
}

static enum quanta_status output_names(struct sharded *s, const char *output_index,
                                       struct quanta_error *err)
{
    if (!ends_with(output_index, SHARD_SUFFIX) ||
        strlen(base_name(output_index)) == strlen(SHARD_SUFFIX))
        return quanta_fail(err, QUANTA_ERR_USAGE, "output '%s' for a sharded checkpoint must "
                                                  "name the new index, PREFIX%s", output_index,
                           SHARD_SUFFIX);
    size_t prefix = strlen(output_index) - strlen(SHARD_SUFFIX);
    s->out_paths = calloc(s->n_shards, sizeof *s->out_paths);
    if (!s->out_paths)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n_shards; i++) {
        size_t size = prefix + 64;
        if (!(s->out_paths[i] = malloc(size)))
            return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
        snprintf(s->out_paths[i], size, "%.*s-%05zu-of-%05zu.safetensors", (int)prefix,
                 output_index, i + 1, s->n_shards);
    }
    /* no output may be an input */
    enum quanta_status st;
    for (size_t o = 0; o <= s->n_shards; o++) {
        const char *out = o < s->n_shards ? s->out_paths[o] : output_index;
        if ((st = safe_file_check_not_input(out, s->index, err)))
            return st;
        for (size_t i = 0; i < s->n_shards; i++)
            if ((st = safe_file_check_not_input(out, s->files[i].path, err)))
                return st;
    }
    return QUANTA_OK;
}

/* The new index: metadata (total_size recomputed, provenance added) and
 * weight_map (the input's order, each scale right after its tensor). */
static enum quanta_status write_index(const struct sharded *s, const char *output_index,
                                      const struct quantize_tensors_options *opt,
                                      struct quanta_error *err)
{
    char sha[QUANTA_SHA256_HEX_SIZE];
    enum quanta_status st = quanta_sha256_file(s->index, sha, err);
    if (st)
        return st;
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *map = cJSON_CreateObject();
    char *text = NULL;
    bool ok = root && meta && map;
    uint64_t total = 0;
    for (size_t i = 0; i < s->n_shards; i++)
        total += s->plans[i].data_bytes;
    const cJSON *in_meta = cJSON_GetObjectItemCaseSensitive(s->doc, "metadata");
    bool have_total = false;
    for (const cJSON *e = in_meta ? in_meta->child : NULL; ok && e; e = e->next) {
        if (is_provenance_key(e->string))
            continue;
        cJSON *v;
        if (strcmp(e->string, "total_size") == 0) {
            v = cJSON_CreateNumber((double)total);
            have_total = true;
        } else {
            v = cJSON_Duplicate(e, true);
        }
        ok = v && cJSON_AddItemToObject(meta, e->string, v);
    }
    if (ok && !have_total)
        ok = cJSON_AddNumberToObject(meta, "total_size", (double)total) != NULL;
    if (ok)
        ok = cJSON_AddStringToObject(meta, "quanta.version", QUANTA_VERSION) &&
             (!opt->options_json ||
              cJSON_AddStringToObject(meta, "quanta.quantize.options", opt->options_json)) &&
             cJSON_AddStringToObject(meta, "quanta.source_sha256", sha);
    for (const cJSON *e = s->weight_map->child; ok && e; e = e->next) {
        size_t k = shard_index(s, e->valuestring);
        const char *shard = base_name(s->out_paths[k]);
        ok = cJSON_AddStringToObject(map, e->string, shard) != NULL;
        const struct plan *p = &s->plans[k];
        for (size_t i = 0; ok && i < p->n_items; i++)
            if (p->items[i].scale_name && strcmp(p->items[i].t->name, e->string) == 0)
                ok = cJSON_AddStringToObject(map, p->items[i].scale_name, shard) != NULL;
    }
    if (ok) {
        cJSON_AddItemToObject(root, "metadata", meta);
        meta = NULL;
        cJSON_AddItemToObject(root, "weight_map", map);
        map = NULL;
        text = cJSON_Print(root);
    }
    cJSON_Delete(meta);
    cJSON_Delete(map);
    cJSON_Delete(root);
    if (!text)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", output_index);
    size_t len = strlen(text);
    text[len] = '\n'; /* the NUL becomes the last newline */
    st = safe_file_write_all(output_index, text, len + 1, err);
    free(text);
    return st;
}

enum quanta_status quantize_tensors_sharded(const char *index, const char *output_index,
                                            const struct quantize_tensors_options *opt,
                                            struct quanta_error *err)
{
    struct sharded s;
    struct globs g;
    struct names ns = {0};
    memset(&s, 0, sizeof s);
    s.index = index;
    enum quanta_status st = check_options(opt, err);
    if (st || (st = globs_init(&g, opt, err)))
        return st;
    if ((st = load_index(&s, err)) || (st = open_shards(&s, err)) ||
        (st = output_names(&s, output_index, err)))
        goto done;
    ns.files = s.files;
    ns.n_files = s.n_shards;
    if (!(s.plans = calloc(s.n_shards, sizeof *s.plans))) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", index);
        goto done;
    }
    for (size_t i = 0; i < s.n_shards && !st; i++)
        st = make_plan(&s.files[i], opt, &g, &ns, &s.plans[i], err);
    if (st || (st = check_globs_used(&g, index, err)))
        goto done;
    for (size_t i = 0; i < s.n_shards && !st; i++)
        st = convert_file(&s.files[i], &s.plans[i], s.out_paths[i], opt, err);
    if (!st)
        st = write_index(&s, output_index, opt, err);
done:
    for (size_t i = 0; i < s.n_shards; i++) {
        if (s.plans)
            plan_free(&s.plans[i]);
        if (s.files)
            st_close(&s.files[i]);
        if (s.out_paths)
            free(s.out_paths[i]);
    }
    free(s.plans);
    free(s.files);
    free(s.out_paths);
    free(s.shard_names);
    cJSON_Delete(s.doc);
    names_free(&ns);
    globs_free(&g);
    return st;
}
