/* quantize_file (src/quant/quantize_file.c), the pipeline behind quanta
 * quantize and quanta_quantize_file, called directly on the tiny model of
 * cli_fixture.h: which options go together, the injected layer check and
 * search (their results reach the warnings, the status and the metadata),
 * and a model without a graph with and without need_graph. */
#include <unistd.h>

#include "cli/cli_fixture.h"
#include "quant/quantize_file.h"

struct warnings {
    int n;
    char text[4096];
};

static void collect(void *ctx, const char *message)
{
    struct warnings *w = ctx;
    w->n++;
    size_t len = strlen(w->text);
    snprintf(w->text + len, sizeof w->text - len, "%s\n", message);
}

/* The fake layer check: every value of the float graph compared, each at
 * sqnr_db; or fail with QUANTA_ERR_INPUT. */
struct fake_compare {
    double sqnr_db;
    bool fail;
    int calls;
};

static enum quanta_status fake_compare(void *ctx, const struct graph *f, const struct graph *q,
                                       struct data_feed *feed, struct quantize_file_layer **layers,
                                       int *n, struct quanta_error *err)
{
    struct fake_compare *fc = ctx;
    (void)q;
    (void)feed;
    fc->calls++;
    if (fc->fail)
        return quanta_fail(err, QUANTA_ERR_INPUT, "fake check failed");
    *layers = calloc((size_t)f->n_nodes, sizeof **layers);
    ck_assert_ptr_nonnull(*layers);
    for (int i = 0; i < f->n_nodes; i++)
        (*layers)[i] = (struct quantize_file_layer){.value = f->nodes[i].outputs[0],
                                                    .sqnr_db = fc->sqnr_db};
    *n = f->n_nodes;
    return QUANTA_OK;
}

struct paths {
    char *model, *bag, *images, *out;
};

static void paths_make(struct paths *p)
{
    struct cf_weights w;
    cf_default_weights(&w);
    p->model = cf_tmp("qf-model.safetensors");
    p->bag = cf_tmp("qf-bag.safetensors");
    p->images = cf_tmp("qf-images.idx");
    p->out = cf_tmp("qf-out.safetensors");
    cf_write_model(p->model, &w, true);
    cf_write_model(p->bag, &w, false);
    cf_write_images(p->images);
    unlink(p->out);
}

static void paths_free(struct paths *p)
{
    free(p->model), free(p->bag), free(p->images), free(p->out);
}

/* Static from the images, equalization off (so the check is the only
 * comparison), warnings collected. */
static void static_options(struct quantize_file_options *o, const struct paths *p,
                           struct fake_compare *fc, struct warnings *w)
{
    quantize_file_options_default(o);
    o->model = p->model;
    o->output = p->out;
    o->data = p->images;
    o->equalize = 0;
    o->compare = fake_compare;
    o->compare_ctx = fc;
    o->warn = collect;
    o->warn_ctx = w;
}

static void expect_usage(const struct quantize_file_options *o, const char *reason)
{
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_int_eq(quantize_file_check(o, &err), QUANTA_ERR_USAGE);
    ck_assert_msg(strstr(err.message, reason), "'%s' lacks '%s'", err.message, reason);
}

START_TEST(test_options_that_do_not_go_together)
{
    struct quantize_file_options o;
    struct quanta_error err;
    quantize_file_options_default(&o);
    o.model = "m.safetensors", o.output = "q.safetensors";
    expect_usage(&o, "--mode static needs --calib");
    o.calib = "t.json", o.data = "d.idx";
    expect_usage(&o, "--calib and --data exclude each other");
    o.data = NULL;
    ck_assert_int_eq(quantize_file_check(&o, &err), QUANTA_OK);
    ck_assert_ptr_null(quantize_file_check_data(&o)); /* a table alone: nothing to check on */
    o.samples = 5;
    expect_usage(&o, "--samples go with --data");
    o.samples = 0, o.equalize = 1;
    expect_usage(&o, "--equalize needs --data");
    o.equalize = -1, o.bias_correction = 1;
    expect_usage(&o, "--bias-correction needs --data");
    o.bias_correction = -1, o.strict = true;
    expect_usage(&o, "--strict needs the check");
    o.calib = NULL, o.data = "d.idx";
    ck_assert_int_eq(quantize_file_check(&o, &err), QUANTA_OK);
    ck_assert_str_eq(quantize_file_check_data(&o), "d.idx"); /* static: the check on data */
    o.check_samples = 0;
    expect_usage(&o, "--strict needs the check");
    o.strict = false, o.opt.mode = QUANTIZE_WEIGHT_ONLY;
    expect_usage(&o, "--mode weight-only takes no calibration");
    o.data = NULL;
    ck_assert_int_eq(quantize_file_check(&o, &err), QUANTA_OK);
    struct quantize_file_search s = {0};
    o.search = &s;
    expect_usage(&o, "go with --mode static");
    o.search = NULL, o.opt.mode = QUANTIZE_FP16, o.opt.embedding_bits = 4;
    expect_usage(&o, "--embedding-bits goes with");
}
END_TEST

START_TEST(test_layer_check_warns_or_fails)
{
    struct paths p;
    paths_make(&p);
    struct fake_compare fc = {.sqnr_db = 5.0};
    struct warnings w = {0};
    struct quantize_file_options o;
    struct quanta_error err;
    quanta_error_clear(&err);

    /* below check_db, not strict: warned per layer, written */
    static_options(&o, &p, &fc, &w);
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_OK);
    ck_assert_int_eq(fc.calls, 1);
    ck_assert_msg(strstr(w.text, "layer 'fc1.out' (dense): SQNR 5.00 dB against float on 8 "
                                 "samples is below --check-db 10"), "%s", w.text);
    ck_assert(cf_file_exists(p.out));
    unlink(p.out);

    /* strict: QUANTA_ERR_CHECK and nothing written */
    o.strict = true;
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_ERR_CHECK);
    ck_assert_ptr_nonnull(strstr(err.message, "nothing written (--strict)"));
    ck_assert(!cf_file_exists(p.out));

    /* above check_db: no layer warning, written */
    fc.sqnr_db = 40.0, w.n = 0, w.text[0] = '\0';
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_OK);
    ck_assert_ptr_null(strstr(w.text, "layer '"));
    ck_assert(cf_file_exists(p.out));
    unlink(p.out);

    /* a check that cannot run: a warning, or with strict the failure */
    fc.fail = true;
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "fake check failed");
    ck_assert(!cf_file_exists(p.out));
    o.strict = false;
    quanta_error_clear(&err);
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_OK);
    ck_assert_msg(strstr(w.text, "the check against float did not run: fake check failed"),
                  "%s", w.text);
    ck_assert(cf_file_exists(p.out));

    /* equalization auto needs the compare hook to choose */
    o.compare = NULL, o.equalize = -1;
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_ERR_USAGE);
    paths_free(&p);
}
END_TEST

/* The fake search: every layer passes, so the chosen graph is all int8;
 * the record says so. */
static enum quanta_status always_pass(void *ctx, const struct graph *q, struct mixed_score *s,
                                      struct quanta_error *err)
{
    (void)ctx, (void)q, (void)err;
    *s = (struct mixed_score){.pass = true, .merit = 100.0, .agreement = 100.0};
    return QUANTA_OK;
}

static enum quanta_status fake_search(void *ctx, const struct graph *fg,
                                      enum quanta_layout layout, struct mixed_request *req,
                                      struct graph *q, cJSON **record, struct quanta_error *err)
{
    int *calls = ctx;
    (*calls)++;
    (void)fg, (void)layout;
    req->score = always_pass;
    struct mixed_result res;
    memset(&res, 0, sizeof res);
    enum quanta_status st = quantize_mixed(req, &res, q, err);
    *record = st == QUANTA_OK ? cJSON_CreateObject() : NULL;
    if (*record)
        cJSON_AddNumberToObject(*record, "layers", res.n);
    mixed_result_free(&res);
    return st;
}

START_TEST(test_search_record_reaches_metadata)
{
    struct paths p;
    paths_make(&p);
    struct fake_compare fc = {.sqnr_db = 40.0};
    struct warnings w = {0};
    int calls = 0;
    struct quantize_file_search s = {.run = fake_search, .ctx = &calls, .has_max_drop = true,
                                     .max_drop = 0.5, .holdout = "/some/dir/holdout.idx"};
    struct quantize_file_options o;
    struct quanta_error err;
    quanta_error_clear(&err);
    static_options(&o, &p, &fc, &w);
    o.search = &s;
    cJSON *record = NULL;
    ck_assert_int_eq(quantize_file(&o, &record, &err), QUANTA_OK);
    ck_assert_int_eq(calls, 1);
    ck_assert_ptr_nonnull(record);
    ck_assert_int_eq(cJSON_GetObjectItem(record, "layers")->valueint, 2); /* fc1, fc2 */
    cJSON_Delete(record);

    struct st_file f;
    ck_assert_int_eq(st_open(&f, p.out, &err), QUANTA_OK);
    ck_assert_str_eq(st_meta_find(&f, "quanta.quantize.mixed_precision"), "{\"layers\":2}");
    cJSON *opt = cJSON_Parse(st_meta_find(&f, "quanta.quantize.options"));
    ck_assert_ptr_nonnull(opt);
    ck_assert(cf_num(opt, "max_drop") == 0.5);
    ck_assert_str_eq(cJSON_GetObjectItem(opt, "holdout")->valuestring, "holdout.idx");
    ck_assert_ptr_null(cJSON_GetObjectItem(opt, "min_agreement"));
    ck_assert_str_eq(cJSON_GetObjectItem(opt, "data")->valuestring, "qf-images.idx");
    cJSON_Delete(opt);
    st_close(&f);
    paths_free(&p);
}
END_TEST

START_TEST(test_model_without_graph)
{
    struct paths p;
    paths_make(&p);
    struct quantize_file_options o;
    struct quanta_error err;
    quanta_error_clear(&err);
    quantize_file_options_default(&o);
    o.model = p.bag;
    o.output = p.out;
    o.opt.mode = QUANTIZE_WEIGHT_ONLY;
    /* the command's way: converted tensor by tensor */
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_OK);
    ck_assert(cf_file_exists(p.out));
    unlink(p.out);
    /* the public API's: an error */
    o.need_graph = true;
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "has no graph"));
    ck_assert(!cf_file_exists(p.out));
    /* static needs a graph either way */
    o.need_graph = false, o.opt.mode = QUANTIZE_STATIC, o.data = p.images, o.equalize = 0;
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "cannot be quantized static"));
    /* and the output may not name an input */
    o.opt.mode = QUANTIZE_WEIGHT_ONLY, o.data = NULL, o.output = p.bag;
    ck_assert_int_eq(quantize_file(&o, NULL, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "refusing to overwrite input"));
    paths_free(&p);
}
END_TEST

Suite *suite_quantize_file(void);
Suite *suite_quantize_file(void)
{
    Suite *s = suite_create("quantize_file");
    TCase *tc = tcase_create("quantize_file");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_options_that_do_not_go_together);
    tcase_add_test(tc, test_layer_check_warns_or_fails);
    tcase_add_test(tc, test_search_record_reaches_metadata);
    tcase_add_test(tc, test_model_without_graph);
    suite_add_tcase(s, tc);
    return s;
}
