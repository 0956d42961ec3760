/* The float runner at every kernel level this CPU has: one small CNN with
 * a general conv (im2col), a depthwise conv, a 1x1 conv, a depthwise conv
 * with multiplier 2, pooling and two dense layers, compared with the same
 * runner at the ref level (1e-5 relative, scaled by sqrt(K / 256) as in
 * tests/kernels/test_f32_fast.c), and each sample alone against the batch
 * (same bits). Levels the CPU lacks are reported as skipped (TS_SKIP_HARDWARE) and
 * not counted. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "quanta/graph.h"
#include "quanta/runtime.h"
#include "support/test_support.h"

#define LV_BATCH 5
#define LV_IN (9 * 9 * 3)
#define LV_OUT 10

#define LV_JSON                                                                              \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"levels\","                       \
    "\"inputs\":[{\"name\":\"image\",\"shape\":[-1,9,9,3],\"dtype\":\"F32\"}],"              \
    "\"outputs\":[\"logits\",\"probs\"],\"nodes\":["                                         \
    "{\"op\":\"conv2d\",\"name\":\"c1\",\"inputs\":[\"image\",\"c1.w\",\"c1.b\"],"            \
    " \"outputs\":[\"c1.out\"],\"attrs\":{\"pads\":[1,1,1,1],\"activation\":\"relu\"}},"     \
    "{\"op\":\"conv2d\",\"name\":\"dw\",\"inputs\":[\"c1.out\",\"dw.w\"],"                    \
    " \"outputs\":[\"dw.out\"],\"attrs\":{\"groups\":20,\"strides\":[2,2],"                  \
    "  \"pads\":[1,1,1,1],\"activation\":\"relu6\"}},"                                       \
    "{\"op\":\"conv2d\",\"name\":\"pw\",\"inputs\":[\"dw.out\",\"pw.w\",\"pw.b\"],"           \
    " \"outputs\":[\"pw.out\"]},"                                                            \
    "{\"op\":\"conv2d\",\"name\":\"dm\",\"inputs\":[\"pw.out\",\"dm.w\",\"dm.b\"],"           \
    " \"outputs\":[\"dm.out\"],\"attrs\":{\"groups\":24,\"activation\":\"relu\"}},"          \
    "{\"op\":\"max_pool2d\",\"name\":\"p\",\"inputs\":[\"dm.out\"],"                         \
    " \"outputs\":[\"p.out\"],\"attrs\":{\"kernel\":[2,2],\"strides\":[2,2]}},"              \
    "{\"op\":\"flatten\",\"name\":\"f\",\"inputs\":[\"p.out\"],\"outputs\":[\"f.out\"]},"     \
    "{\"op\":\"dense\",\"name\":\"fc1\",\"inputs\":[\"f.out\",\"fc1.w\",\"fc1.b\"],"          \
    " \"outputs\":[\"fc1.out\"],\"attrs\":{\"activation\":\"relu\"}},"                       \
    "{\"op\":\"dense\",\"name\":\"fc2\",\"inputs\":[\"fc1.out\",\"fc2.w\",\"fc2.b\"],"        \
    " \"outputs\":[\"logits\"]},"                                                            \
    "{\"op\":\"softmax\",\"name\":\"sm\",\"inputs\":[\"logits\"],\"outputs\":[\"probs\"]}]}"

/* shapes: c1 9x9x3 -> 9x9x20; dw -> 5x5x20; pw -> 5x5x24; dm 2x2 -> 4x4x48;
 * pool -> 2x2x48 = 192; fc1 -> 37; fc2 -> 10 */
struct lv_model {
    struct st_file file;
    struct st_tensor tensors[12];
    struct graph g;
    float c1w[20 * 3 * 3 * 3], c1b[20], dww[20 * 3 * 3], pww[24 * 20], pwb[24];
    float dmw[48 * 2 * 2], dmb[48], fc1w[37 * 192], fc1b[37], fc2w[10 * 37], fc2b[10];
};

static uint64_t lv_rng = 0x243f6a8885a308d3ull;
static void lv_fill(float *x, size_t n, float scale)
{
    ts_fill(&lv_rng, x, n, -scale, scale);
}

static void lv_tensor(struct lv_model *m, const char *name, struct quanta_shape shape,
                      const float *data)
{
    struct st_tensor *t = &m->tensors[m->file.n_tensors++];
    t->name = name;
    t->dtype = QUANTA_F32;
    t->shape = shape;
    t->begin = 0;
    t->end = (uint64_t)quanta_shape_numel(&shape) * sizeof(float);
    t->data = data;
    m->file.tensors = m->tensors;
}

#define LV_SHAPE(...) ((struct quanta_shape){.rank = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .dims = {__VA_ARGS__}})

static void lv_init(struct lv_model *m)
{
    memset(m, 0, sizeof *m);
    lv_fill(m->c1w, sizeof m->c1w / sizeof(float), 0.5f);
    lv_fill(m->c1b, 20, 0.2f);
    lv_fill(m->dww, sizeof m->dww / sizeof(float), 1.0f);
    lv_fill(m->pww, sizeof m->pww / sizeof(float), 0.4f);
    lv_fill(m->pwb, 24, 0.2f);
    lv_fill(m->dmw, sizeof m->dmw / sizeof(float), 0.8f);
    lv_fill(m->dmb, 48, 0.2f);
    lv_fill(m->fc1w, sizeof m->fc1w / sizeof(float), 0.15f);
    lv_fill(m->fc1b, 37, 0.1f);
    lv_fill(m->fc2w, sizeof m->fc2w / sizeof(float), 0.3f);
    lv_fill(m->fc2b, 10, 0.1f);
    lv_tensor(m, "c1.w", LV_SHAPE(20, 3, 3, 3), m->c1w);
    lv_tensor(m, "c1.b", LV_SHAPE(20), m->c1b);
    lv_tensor(m, "dw.w", LV_SHAPE(20, 3, 3, 1), m->dww);
    lv_tensor(m, "pw.w", LV_SHAPE(24, 1, 1, 20), m->pww);
    lv_tensor(m, "pw.b", LV_SHAPE(24), m->pwb);
    lv_tensor(m, "dm.w", LV_SHAPE(48, 2, 2, 1), m->dmw);
    lv_tensor(m, "dm.b", LV_SHAPE(48), m->dmb);
    lv_tensor(m, "fc1.w", LV_SHAPE(37, 192), m->fc1w);
    lv_tensor(m, "fc1.b", LV_SHAPE(37), m->fc1b);
    lv_tensor(m, "fc2.w", LV_SHAPE(10, 37), m->fc2w);
    lv_tensor(m, "fc2.b", LV_SHAPE(10), m->fc2b);
    struct quanta_error err = {0};
    enum quanta_status st = graph_parse(&m->g, LV_JSON, &m->file, "levels", &err);
    ck_assert_msg(st == QUANTA_OK, "graph_parse: %s", err.message);
}

/* logits of batch LV_BATCH at the currently chosen level, and each sample
 * alone must give the same bits */
static void lv_run(const struct lv_model *m, const float *x, float *logits, const char *level)
{
    struct quanta_error err = {0};
    struct runner *r = NULL;
    struct runner_options opt = {.max_batch = LV_BATCH, .threads = 1};
    ck_assert_msg(runner_create(&r, &m->g, &opt, &err) == QUANTA_OK, "%s: %s", level,
                  err.message);
    const void *in[1] = {x};
    ck_assert_msg(runner_run(r, LV_BATCH, in, &err) == QUANTA_OK, "%s: %s", level, err.message);
    struct quanta_shape s;
    const float *y = runner_output(r, 0, &s);
    ck_assert_int_eq(s.dims[0], LV_BATCH);
    ck_assert_int_eq(s.dims[1], LV_OUT);
    memcpy(logits, y, LV_BATCH * LV_OUT * sizeof *logits);
    for (int n = 0; n < LV_BATCH; n++) {
        const void *one[1] = {x + n * LV_IN};
        ck_assert_msg(runner_run(r, 1, one, &err) == QUANTA_OK, "%s: %s", level, err.message);
        y = runner_output(r, 0, &s);
        ck_assert_msg(memcmp(y, logits + n * LV_OUT, LV_OUT * sizeof *y) == 0,
                      "%s: sample %d alone differs from the batch", level, n);
    }
    runner_free(r);
}

START_TEST(test_cnn_every_level_matches_ref)
{
    TS_REQUIRE_LEVEL(_i, false);
    struct lv_model *m = malloc(sizeof *m);
    ck_assert_ptr_nonnull(m);
    lv_init(m);
    float x[LV_BATCH * LV_IN], want[LV_BATCH * LV_OUT], got[LV_BATCH * LV_OUT];
    lv_fill(x, LV_BATCH * LV_IN, 1.0f);
    struct quanta_error err = {0};
    ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
    enum kernels_level before = kernels_current_level();

    ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
    lv_run(m, x, want, "ref");
    double biggest = 0;
    for (int i = 0; i < LV_BATCH * LV_OUT; i++)
        biggest = fmax(biggest, fabs(want[i]));
    ck_assert_msg(biggest > 0.1, "the test network's logits are all near zero");

    {
        const char *name = kernels_level_name((enum kernels_level)_i);
        ck_assert_int_eq(kernels_select(name, &err), QUANTA_OK);
        lv_run(m, x, got, name);
        /* the longest sum is fc1's: K = 192 products */
        for (int i = 0; i < LV_BATCH * LV_OUT; i++)
            ck_assert_msg(fabs((double)got[i] - want[i]) <= 1e-5 * fmax(1.0, fabs(want[i])),
                          "%s: logit %d is %.9g, ref %.9g", name, i, (double)got[i],
                          (double)want[i]);
    }
    ck_assert_int_eq(kernels_select(kernels_level_name(before), &err), QUANTA_OK);
    graph_free(&m->g);
    free(m);
}
END_TEST

Suite *suite_runner_levels(void);
Suite *suite_runner_levels(void)
{
    Suite *s = suite_create("runner_levels");
    TCase *tc = tcase_create("levels");
    /* one test per level above ref; a level this machine lacks is a skip */
    tcase_add_loop_test(tc, test_cnn_every_level_matches_ref, KERNELS_LEVEL_REF + 1,
                        KERNELS_LEVEL_COUNT);
    suite_add_tcase(s, tc);
    return s;
}
