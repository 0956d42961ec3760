/* embedding_bag: the fused operator against the unfused float graph
 * (embedding then reduce over the bag axis), the offsets form with an
 * empty bag, per-sample weights, the int8 kernel bit for bit against the
 * rule of quanta-format(5), and static / weight-only quantization. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "quanta/quantize.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

#define VOCAB 50
#define DIM 70 /* more than one 64-column chunk of the int8 kernel */
#define T 4
#define N 6

static float table[VOCAB * DIM];

static void make_table(void)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    ts_fill(&rng, table, VOCAB * DIM, -1.0f, 1.0f);
    for (int r = 0; r < VOCAB; r++)
        for (int j = 0; j < DIM; j++)
            table[r * DIM + j] *= (float)(1 + r % 7);
}

static void make_ids(int64_t *ids, int n, int seed)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int64_t)((i * 17 + seed * 11 + i * i) % VOCAB);
}

static void quantize_bag(const struct graph *g, enum quantize_mode mode, struct tr_ranges *rg,
                         int bits, struct graph *q);

static const char *mode_name[3] = {"sum", "mean", "max"};
static const char *reduce_op[3] = {"reduce_sum", "mean", "reduce_max"};

static void load_bag(struct tmodel *m, int mode)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"bag\","
             "\"inputs\":[{\"name\":\"ids\",\"shape\":[-1,%d],\"dtype\":\"I64\"}],"
             "\"outputs\":[\"y\"],\"nodes\":["
             "{\"op\":\"embedding_bag\",\"name\":\"bag\",\"inputs\":[\"ids\",\"table\"],"
             " \"outputs\":[\"y\"],\"attrs\":{\"mode\":\"%s\"}}]}",
             T, mode_name[mode]);
    memset(m, 0, sizeof *m);
    tm_tensor(m, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
    tm_load(m, json);
}

static const float *run1(struct runner *r, int64_t batch, const void *const *in)
{
    struct quanta_error err = {0};
    ck_assert_msg(runner_run(r, batch, in, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape s;
    return runner_output(r, 0, &s);
}

START_TEST(test_fused_matches_unfused)
{
    int mode = _i;
    static struct tmodel fused, plain;
    make_table();
    load_bag(&fused, mode);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"plain\","
             "\"inputs\":[{\"name\":\"ids\",\"shape\":[-1,%d],\"dtype\":\"I64\"}],"
             "\"outputs\":[\"y\"],\"nodes\":["
             "{\"op\":\"embedding\",\"name\":\"emb\",\"inputs\":[\"ids\",\"table\"],"
             " \"outputs\":[\"e\"]},"
             "{\"op\":\"%s\",\"name\":\"red\",\"inputs\":[\"e\"],\"outputs\":[\"y\"],"
             " \"attrs\":{\"axes\":[1]}}]}",
             T, reduce_op[mode]);
    memset(&plain, 0, sizeof plain);
    tm_tensor(&plain, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
    tm_load(&plain, json);
    int64_t ids[N * T];
    make_ids(ids, N * T, mode);
    const void *in[1] = {ids};
    struct runner *rf = tm_new_runner(&fused.g, N), *rp = tm_new_runner(&plain.g, N);
    const float *yf = run1(rf, N, in), *yp = run1(rp, N, in);
    for (int i = 0; i < N * DIM; i++)
        ck_assert_msg(fabsf(yf[i] - yp[i]) <= 1e-5f * (1.0f + fabsf(yp[i])),
                      "%s [%d]: fused %g, unfused %g", mode_name[mode], i, (double)yf[i],
                      (double)yp[i]);
    runner_free(rf);
    runner_free(rp);
    graph_free(&fused.g);
    graph_free(&plain.g);
}
END_TEST

#define OFFSETS_JSON                                                                      \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"bag\","                       \
    "\"inputs\":[{\"name\":\"ids\",\"shape\":[7],\"dtype\":\"I64\"},"                     \
    "{\"name\":\"offsets\",\"shape\":[-1],\"dtype\":\"I64\"},"                            \
    "{\"name\":\"w\",\"shape\":[7]}],"                                                    \
    "\"outputs\":[\"y\"],\"nodes\":["                                                    \
    "{\"op\":\"embedding_bag\",\"name\":\"bag\",\"inputs\":[\"ids\",\"table\",\"offsets\"," \
    "\"w\"], \"outputs\":[\"y\"],\"attrs\":{\"mode\":\"sum\"}}]}"

/* ids [7] with offsets [3] = {0, 2, 2}: bags {0, 1}, {} and {2..6}, each
 * id weighted; the empty bag gives zeros. */
START_TEST(test_offsets_and_weights)
{
    static struct tmodel m;
    memset(&m, 0, sizeof m);
    make_table();
    tm_tensor(&m, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
    tm_load(&m, OFFSETS_JSON);
    int64_t ids[7] = {3, 9, 0, 49, 3, 3, 20}, off[3] = {0, 2, 2};
    float w[7] = {0.5f, -2.0f, 1.0f, 0.25f, 3.0f, -1.0f, 0.0f};
    const void *in[3] = {ids, off, w};
    struct runner *r = tm_new_runner(&m.g, 3);
    const float *y = run1(r, 3, in);
    for (int j = 0; j < DIM; j++) {
        float b0 = 0.5f * table[3 * DIM + j] + -2.0f * table[9 * DIM + j];
        float b2 = 0.0f;
        for (int t = 2; t < 7; t++)
            b2 += w[t] * table[ids[t] * DIM + j];
        ck_assert_float_eq_tol(y[j], b0, 1e-5f);
        ck_assert_float_eq(y[DIM + j], 0.0f);
        ck_assert_float_eq_tol(y[2 * DIM + j], b2, 1e-4f);
    }
    /* offsets that fall back or run past the ids are refused */
    int64_t bad[3] = {0, 5, 4};
    in[1] = bad;
    struct quanta_error err = {0};
    ck_assert_int_eq(runner_run(r, 3, in, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "offsets[2] = 4"));
    int64_t past[2] = {0, 8};
    in[1] = past;
    ck_assert_int_eq(runner_run(r, 2, in, &err), QUANTA_ERR_INPUT);
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

/* Static int8 of the offsets form with float per-sample weights: ids,
 * offsets and weights stay as they are, the bag runs int8. */
START_TEST(test_offsets_weights_static)
{
    static struct tmodel m;
    memset(&m, 0, sizeof m);
    make_table();
    tm_tensor(&m, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
    tm_load(&m, OFFSETS_JSON);
    int64_t ids[7] = {3, 9, 0, 49, 3, 3, 20}, off[3] = {0, 2, 2};
    float w[7] = {0.5f, -2.0f, 1.0f, 0.25f, 3.0f, -1.0f, 0.0f};
    const void *in[3] = {ids, off, w};
    struct tr_ranges rg;
    memset(&rg, 0, sizeof rg);
    struct runner *rc = tm_new_runner(&m.g, 3);
    runner_set_hook(rc, tr_hook, &rg);
    static float want[3 * DIM];
    memcpy(want, run1(rc, 3, in), sizeof want);
    runner_free(rc);
    struct graph q;
    quantize_bag(&m.g, QUANTIZE_STATIC, &rg, 8, &q);
    const struct graph_node *bag = NULL;
    for (int i = 0; i < q.n_nodes; i++)
        if (q.nodes[i].op == GRAPH_OP_EMBEDDING_BAG)
            bag = &q.nodes[i];
    ck_assert_ptr_nonnull(bag);
    ck_assert_int_eq(q.values[bag->outputs[0]].quant.dtype, QUANTA_I8);
    float out_step = q.values[bag->outputs[0]].quant.scale;
    struct runner *r = tm_new_runner(&q, 3);
    const float *y = run1(r, 3, in);
    for (int i = 0; i < 3 * DIM; i++) /* |weights| of a bag sum to at most 4.25 */
        ck_assert_msg(fabsf(y[i] - want[i]) <= 0.5001f * out_step + 4.25f * 0.5001f * 7 / 127,
                      "[%d]: %g, float %g", i, (double)y[i], (double)want[i]);
    runner_free(r);
    graph_free(&q);
    graph_free(&m.g);
}
END_TEST

/* Weights outside sum mode and a 2-D ids with offsets are refused at load. */
START_TEST(test_shape_rules)
{
    static const char *bad[] = {
        "\"inputs\":[\"ids\",\"table\",\"w2\"],\"outputs\":[\"y\"],\"attrs\":{\"mode\":\"mean\"}",
        "\"inputs\":[\"ids\",\"table\",\"off\"],\"outputs\":[\"y\"],\"attrs\":{\"mode\":\"sum\"}",
        "\"inputs\":[\"ids\",\"table\"],\"outputs\":[\"y\"],\"attrs\":{\"mode\":\"constant\"}",
    };
    static const char *why[] = {"need mode \"sum\"", "must be 1-D", "attr 'mode' must be"};
    make_table();
    for (int i = 0; i < 3; i++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"bag\","
                 "\"inputs\":[{\"name\":\"ids\",\"shape\":[-1,%d],\"dtype\":\"I64\"},"
                 "{\"name\":\"off\",\"shape\":[-1],\"dtype\":\"I64\"},"
                 "{\"name\":\"w2\",\"shape\":[-1,%d]}],"
                 "\"outputs\":[\"y\"],\"nodes\":[{\"op\":\"embedding_bag\",\"name\":\"bag\",%s}]}",
                 T, T, bad[i]);
        struct tmodel m;
        memset(&m, 0, sizeof m);
        tm_tensor(&m, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
        struct quanta_error err = {0};
        ck_assert_int_eq(graph_parse(&m.g, json, &m.file, "test", &err), QUANTA_ERR_INPUT);
        ck_assert_msg(strstr(err.message, why[i]), "%s", err.message);
    }
}
END_TEST

/* The rule of quanta-format(5), written out apart from the kernel. */
static int8_t rule(const struct q8_embedding_bag_params *p, const int64_t *ids, int64_t start,
                   int64_t end, const int8_t *tab, int j)
{
    int64_t stride = p->bits == 8 ? p->dim : (p->dim + 1) / 2;
    double a = 0.0;
    for (int64_t t = start; t < end; t++) {
        const int8_t *row = tab + ids[t] * stride;
        int q;
        if (p->bits == 8) {
            q = row[j];
        } else {
            int byte = (uint8_t)row[j / 2];
            q = j % 2 ? byte >> 4 : byte & 15;
            if (q > 7)
                q -= 16;
        }
        int64_t r = p->per_row ? ids[t] : 0;
        double v = (double)p->scale[r] * (double)(q - (p->zero_point ? p->zero_point[r] : 0));
        double w = p->weights ? (double)p->weights[t] : 1.0;
        if (p->mode == F32_BAG_MAX)
            a = t == start ? v : fmax(a, v);
        else
            a += w * v;
    }
    if (p->mode == F32_BAG_MEAN && end > start)
        a /= (double)(end - start);
    double y = round(a / (double)p->out_scale) + p->out_zero_point;
    return (int8_t)fmin(127.0, fmax(-128.0, y));
}

START_TEST(test_q8_kernel_rule)
{
    int mode = _i % 3, bits = _i < 3 ? 8 : 4;
    uint64_t rng = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
    static int8_t tab[VOCAB * DIM];
    static float scale[VOCAB], wts[N * T];
    static int32_t zp[VOCAB];
    ts_fill(&rng, scale, VOCAB, 0.001f, 0.05f);
    ts_fill(&rng, wts, N * T, -2.0f, 2.0f);
    for (int i = 0; i < VOCAB * DIM; i++) {
        rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
        tab[i] = (int8_t)(rng * 0x2545f4914f6cdd1dull >> 56);
    }
    for (int i = 0; i < VOCAB; i++)
        zp[i] = bits == 8 ? (i % 5) - 2 : 0;
    int64_t ids[N * T], off[N] = {0, 3, 3, 10, 11, 20};
    make_ids(ids, N * T, _i);
    for (int form = 0; form < 2; form++) {
        for (int weighted = 0; weighted < (mode == F32_BAG_SUM ? 2 : 1); weighted++) {
            struct q8_embedding_bag_params p = {
                .n_bags = N, .n_ids = N * T, .bag = form ? 0 : T, .vocab = VOCAB,
                .dim = bits == 4 ? DIM - 1 : DIM, .bits = bits, /* 4-bit: odd rows */ .mode = mode, .per_row = true, .scale = scale,
                .zero_point = zp, .weights = weighted ? wts : NULL, .out_scale = 0.013f,
                .out_zero_point = -3};
            int8_t y[N * DIM];
            ck_assert_int_eq(q8_embedding_bag__ref(&p, ids, form ? off : NULL, tab, y), -1);
            for (int b = 0; b < N; b++) {
                int64_t s = form ? off[b] : b * T;
                int64_t e = form ? (b + 1 < N ? off[b + 1] : N * T) : s + T;
                for (int j = 0; j < p.dim; j++)
                    ck_assert_msg(y[b * p.dim + j] == rule(&p, ids, s, e, tab, j),
                                  "bits %d mode %d form %d w %d bag %d col %d: %d, rule %d",
                                  bits, mode, form, weighted, b, j, y[b * p.dim + j],
                                  rule(&p, ids, s, e, tab, j));
            }
        }
    }
    int64_t bad_ids[N * T];
    memcpy(bad_ids, ids, sizeof ids);
    bad_ids[7] = VOCAB;
    struct q8_embedding_bag_params p = {.n_bags = N, .n_ids = N * T, .bag = T, .vocab = VOCAB,
                                        .dim = DIM, .bits = bits, .mode = mode,
                                        .scale = scale, .out_scale = 1.0f};
    int8_t y[N * DIM];
    ck_assert_int_eq(q8_embedding_bag__ref(&p, bad_ids, NULL, tab, y), 7);
}
END_TEST

static void quantize_bag(const struct graph *g, enum quantize_mode mode, struct tr_ranges *rg,
                         int bits, struct graph *q)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.mode = mode;
    opt.embedding_bits = bits;
    struct quantize_ranges qr = {tr_find, rg};
    struct quanta_error err = {0};
    ck_assert_msg(quantize_model(g, &opt, mode == QUANTIZE_STATIC ? &qr : NULL, q, "test",
                                 &err) == QUANTA_OK,
                  "%s", err.message);
}

/* Static int8: each output within half an output step plus the rows' own
 * rounding (half a row step each, times the bag's weight) of float. */
START_TEST(test_static_and_weight_only)
{
    int mode = _i % 3, bits = _i < 3 ? 8 : 4;
    static struct tmodel m;
    make_table();
    load_bag(&m, mode);
    int64_t ids[N * T];
    make_ids(ids, N * T, 1);
    const void *in[1] = {ids};
    struct tr_ranges rg;
    memset(&rg, 0, sizeof rg);
    struct runner *rc = tm_new_runner(&m.g, N);
    runner_set_hook(rc, tr_hook, &rg);
    static float want[N * DIM];
    memcpy(want, run1(rc, N, in), sizeof want);
    runner_free(rc);
    for (int wo = 0; wo < 2; wo++) {
        struct graph q;
        quantize_bag(&m.g, wo ? QUANTIZE_WEIGHT_ONLY : QUANTIZE_STATIC, &rg, bits, &q);
        int t = -1;
        for (int v = 0; v < q.n_values; v++)
            if (q.values[v].kind == GRAPH_VALUE_CONST && q.values[v].shape.rank == 2)
                t = v;
        ck_assert_int_ge(t, 0);
        ck_assert_int_eq(q.values[t].dtype, bits == 8 ? QUANTA_I8 : QUANTA_I4);
        ck_assert_int_eq(q.values[t].quant.axis, 0);
        const struct graph_quant *qy = &q.values[q.nodes[0].outputs[0]].quant;
        ck_assert_int_eq(qy->dtype, wo ? QUANTA_DTYPE_INVALID : QUANTA_I8);
        float out_step = wo ? 0.0f : qy->scale;
        struct runner *r = tm_new_runner(&q, N);
        const float *y = run1(r, N, in);
        for (int b = 0; b < N; b++)
            for (int j = 0; j < DIM; j++) {
                /* rows of magnitude up to 7: a row step 7 / 127 (8-bit) or 7 / 7 (4-bit) */
                float row_step = 7.0f / (bits == 8 ? 127.0f : 7.0f);
                float tol = 0.5001f * out_step + 0.5001f * row_step * (mode == 0 ? T : 1);
                ck_assert_msg(fabsf(y[b * DIM + j] - want[b * DIM + j]) <= tol,
                              "%s bits %d %s [%d,%d]: %g, float %g", mode_name[mode], bits,
                              wo ? "weight-only" : "static", b, j, (double)y[b * DIM + j],
                              (double)want[b * DIM + j]);
            }
        runner_free(r);
        graph_free(&q);
    }
    graph_free(&m.g);
}
END_TEST

static long file_size(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (long)sb.st_size;
}

/* A model whose parameters are mostly embeddings (table [4000, D] and a
 * dense [4, D]): weight-only files at <= 30% (8-bit) and <= 17% (4-bit)
 * of the float file for D = 32 and 64, per row D (or D / 2) bytes and one
 * F32 scale, no zero point; the 4-bit file read back runs as in memory. */
START_TEST(test_size_ratios)
{
    enum { V = 4000 };
    int d = _i ? 64 : 32;
    float *tab = malloc((size_t)V * (size_t)d * sizeof *tab), *w = malloc(4 * (size_t)d * 4);
    ck_assert(tab && w);
    uint64_t rng = 77;
    ts_fill(&rng, tab, (size_t)V * (size_t)d, -1.0f, 1.0f);
    ts_fill(&rng, w, 4 * (size_t)d, -0.5f, 0.5f);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"rec\","
             "\"inputs\":[{\"name\":\"ids\",\"shape\":[-1,%d],\"dtype\":\"I64\"}],"
             "\"outputs\":[\"y\"],\"nodes\":["
             "{\"op\":\"embedding_bag\",\"name\":\"bag\",\"inputs\":[\"ids\",\"table\"],"
             " \"outputs\":[\"e\"],\"attrs\":{\"mode\":\"sum\"}},"
             "{\"op\":\"dense\",\"name\":\"fc\",\"inputs\":[\"e\",\"w\"],\"outputs\":[\"y\"]}]}",
             T);
    static struct tmodel m;
    memset(&m, 0, sizeof m);
    tm_tensor(&m, "table", QUANTA_F32, SHAPE(V, d), tab);
    tm_tensor(&m, "w", QUANTA_F32, SHAPE(4, d), w);
    tm_load(&m, json);
    struct quanta_error err = {0};
    char *fpath = strdup(ts_tmp_path("f.safetensors"));
    ck_assert_msg(graph_save(&m.g, fpath, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
    long fsize = file_size(fpath);
    int64_t ids[N * T];
    make_ids(ids, N * T, 3);
    const void *in[1] = {ids};
    for (int bits = 8; bits >= 4; bits -= 4) {
        struct graph q;
        quantize_bag(&m.g, QUANTIZE_WEIGHT_ONLY, NULL, bits, &q);
        char *qpath = strdup(ts_tmp_path(bits == 8 ? "q8.safetensors" : "q4.safetensors"));
        ck_assert_msg(graph_save(&q, qpath, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
        double ratio = (double)file_size(qpath) / (double)fsize;
        printf("size D=%d %d-bit: %ld / %ld bytes = %.1f%%\n", d, bits, file_size(qpath), fsize,
               100.0 * ratio);
        ck_assert_msg(ratio <= (bits == 8 ? 0.30 : 0.17), "D=%d %d-bit: %.3f", d, bits, ratio);
        /* read back: the same outputs as the graph in memory */
        struct st_file f;
        ck_assert_msg(st_open(&f, qpath, &err) == QUANTA_OK, "%s", err.message);
        struct graph g2;
        ck_assert_msg(graph_load(&g2, &f, &err) == QUANTA_OK, "%s", err.message);
        int t = graph_find_value(&g2, "table");
        ck_assert_int_ge(t, 0);
        ck_assert_int_eq(g2.values[t].dtype, bits == 8 ? QUANTA_I8 : QUANTA_I4);
        ck_assert_ptr_null(g2.values[t].quant.zero_points);
        struct runner *r1 = tm_new_runner(&q, N), *r2 = tm_new_runner(&g2, N);
        static float y1[N * 4];
        memcpy(y1, run1(r1, N, in), sizeof y1);
        const float *y2 = run1(r2, N, in);
        ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
        runner_free(r1);
        runner_free(r2);
        graph_free(&g2);
        st_close(&f);
        graph_free(&q);
        free(qpath);
    }
    graph_free(&m.g);
    free(fpath);
    free(tab);
    free(w);
}
END_TEST

/* Static int8 of a plain embedding with a 4-bit table: the rows gathered
 * through the bag kernel (bags of one id) within half an output step plus
 * half a row step of float. */
START_TEST(test_embedding_4bit_static)
{
    static struct tmodel m;
    memset(&m, 0, sizeof m);
    make_table();
    tm_tensor(&m, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"emb\","
             "\"inputs\":[{\"name\":\"ids\",\"shape\":[-1,%d],\"dtype\":\"I64\"}],"
             "\"outputs\":[\"e\"],\"nodes\":["
             "{\"op\":\"embedding\",\"name\":\"emb\",\"inputs\":[\"ids\",\"table\"],"
             " \"outputs\":[\"e\"]}]}",
             T);
    tm_load(&m, json);
    int64_t ids[N * T];
    make_ids(ids, N * T, 2);
    const void *in[1] = {ids};
    struct tr_ranges rg;
    memset(&rg, 0, sizeof rg);
    struct runner *rc = tm_new_runner(&m.g, N);
    runner_set_hook(rc, tr_hook, &rg);
    run1(rc, N, in);
    runner_free(rc);
    struct graph q;
    quantize_bag(&m.g, QUANTIZE_STATIC, &rg, 4, &q);
    float out_step = q.values[q.nodes[0].outputs[0]].quant.scale;
    struct runner *r = tm_new_runner(&q, N);
    const float *y = run1(r, N, in);
    for (int i = 0; i < N * T; i++)
        for (int j = 0; j < DIM; j++) {
            float want = table[ids[i] * DIM + j];
            float row_step = (float)(1 + ids[i] % 7) / 7.0f;
            ck_assert_msg(fabsf(y[i * DIM + j] - want) <= 0.5001f * (out_step + row_step),
                          "[%d,%d]: %g, float %g", i, j, (double)y[i * DIM + j], (double)want);
        }
    runner_free(r);
    graph_free(&q);
    graph_free(&m.g);
}
END_TEST

Suite *suite_embedding_bag(void);
Suite *suite_embedding_bag(void)
{
    Suite *s = suite_create("embedding_bag");
    TCase *tc = tcase_create("bag");
    tcase_add_loop_test(tc, test_fused_matches_unfused, 0, 3);
    tcase_add_test(tc, test_offsets_and_weights);
    tcase_add_test(tc, test_shape_rules);
    tcase_add_test(tc, test_offsets_weights_static);
    tcase_add_loop_test(tc, test_q8_kernel_rule, 0, 6);
    tcase_add_loop_test(tc, test_static_and_weight_only, 0, 6);
    tcase_add_loop_test(tc, test_size_ratios, 0, 2);
    tcase_add_test(tc, test_embedding_4bit_static);
    suite_add_tcase(s, tc);
    return s;
}
