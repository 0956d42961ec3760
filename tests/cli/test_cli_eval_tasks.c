/* quanta eval beyond class scores, end to end: a binary model (logit and
 * sigmoid outputs), a regression against float labels, token outputs
 * [N, T, C], --metric and --max-metric-drop, and bad input (labels that
 * do not fit the output, float data for ids and ids for floats). Expected
 * figures come from a forward pass in double here and the metrics'
 * definitions (AUC by counting pairs, not ranks). */
#include "cli/cli_fixture.h"

/* image [N,2,2,1] -> flatten -> dense fc1 (relu) -> dense fc2 [1, 4] ->
 * "score" [N, 1], through a sigmoid when SIGMOID */
#define BIN_GRAPH(tail, out)                                                                 \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"bin\", "                     \
    "\"inputs\": [{\"name\": \"image\", \"shape\": [-1, 2, 2, 1], \"dtype\": \"F32\", "      \
    "\"normalize\": {\"scale\": 0.00392156862745098, \"mean\": [0.0], \"std\": [1.0]}}], "   \
    "\"outputs\": [\"" out "\"], \"nodes\": ["                                               \
    "{\"op\": \"flatten\", \"name\": \"flat\", \"inputs\": [\"image\"], "                    \
    "\"outputs\": [\"flat.out\"]}, "                                                         \
    "{\"op\": \"dense\", \"name\": \"fc1\", \"inputs\": [\"flat.out\", \"fc1.weight\", "     \
    "\"fc1.bias\"], \"outputs\": [\"fc1.out\"], \"attrs\": {\"activation\": \"relu\"}}, "    \
    "{\"op\": \"dense\", \"name\": \"fc2\", \"inputs\": [\"fc1.out\", \"fc2.weight\", "      \
    "\"fc2.bias\"], \"outputs\": [\"score\"]}" tail "]}"
#define SIGMOID_NODE                                                                         \
    ", {\"op\": \"sigmoid\", \"name\": \"sig\", \"inputs\": [\"score\"], \"outputs\": [\"prob\"]}"

static const float bin_w2[4] = {2.0f, -1.5f, 0.5f, -1.0f};

static void write_binary_model(const char *path, float bias, bool sigmoid)
{
    struct cf_weights w;
    cf_default_weights(&w);
    float b2[1] = {bias};
    struct st_tensor_desc t[4] = {
        {"fc1.weight", QUANTA_F32, {2, {4, 4}}, w.w1},
        {"fc1.bias", QUANTA_F32, {1, {4}}, w.b1},
        {"fc2.weight", QUANTA_F32, {2, {1, 4}}, bin_w2},
        {"fc2.bias", QUANTA_F32, {1, {1}}, b2},
    };
    struct st_meta meta = {"quanta.graph", sigmoid ? BIN_GRAPH(SIGMOID_NODE, "prob")
                                                   : BIN_GRAPH("", "score")};
    struct quanta_error err = {0};
    ck_assert_msg(st_write_file(path, t, 4, &meta, 1, &err) == QUANTA_OK, "%s", err.message);
}

/* The logit of sample i, in double from the ops' definitions. */
static double binary_logit(int i, float bias)
{
    struct cf_weights w;
    cf_default_weights(&w);
    double x[4], z = bias;
    for (int p = 0; p < 4; p++)
        x[p] = cf_pixel(i, p) * 0.00392156862745098;
    for (int o = 0; o < 4; o++) {
        double s = w.b1[o];
        for (int k = 0; k < 4; k++)
            s += (double)w.w1[o][k] * x[k];
        z += bin_w2[o] * (s > 0.0 ? s : 0.0);
    }
    return z;
}

static void write_npy(const char *path, enum quanta_dtype dtype, struct quanta_shape shape,
                      const void *data)
{
    struct quanta_error err = {0};
    ck_assert_msg(npy_write(path, dtype, &shape, data, &err) == QUANTA_OK, "%s", err.message);
}

/* AUC by its definition: pairs (positive, negative) ordered right, ties a half. */
static double auc_by_pairs(const double *s, const int64_t *y, int n)
{
    double wins = 0.0;
    int pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (y[i] == 1 && y[j] == 0) {
                wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
                pairs++;
            }
    return wins / pairs;
}

static const cJSON *model_at(const cJSON *doc, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "models"), i);
}

START_TEST(test_eval_binary)
{
    char *m1 = cf_tmp("bin1.safetensors"), *m2 = cf_tmp("bin2.safetensors");
    char *s1 = cf_tmp("sig1.safetensors"), *images = cf_tmp("bin-images.idx");
    char *labels = cf_tmp("bin-labels.npy"), *bad = cf_tmp("bin-bad.npy");
    const float bias2 = -0.6f;
    write_binary_model(m1, 0.0f, false);
    write_binary_model(m2, bias2, false);
    write_binary_model(s1, 0.0f, true);
    cf_write_images(images);
    double z1[CF_N], z2[CF_N];
    int64_t y[CF_N];
    for (int i = 0; i < CF_N; i++) {
        z1[i] = binary_logit(i, 0.0f);
        z2[i] = binary_logit(i, bias2);
        y[i] = i % 3 == 0 ? !(z1[i] > 0) : z1[i] > 0; /* mostly right, some wrong */
    }
    write_npy(labels, QUANTA_I64, (struct quanta_shape){1, {CF_N}}, y);

    /* expected: AUC by pairs, log loss by definition, decisions at logit 0 */
    double loss1 = 0.0, loss2 = 0.0, mean1 = 0.0;
    int right1 = 0, right2 = 0, agree = 0, pos = 0;
    for (int i = 0; i < CF_N; i++) {
        double p1 = 1.0 / (1.0 + exp(-z1[i])), p2 = 1.0 / (1.0 + exp(-z2[i]));
        loss1 -= y[i] ? log(p1) : log(1.0 - p1);
        loss2 -= y[i] ? log(p2) : log(1.0 - p2);
        mean1 += p1;
        right1 += (z1[i] > 0) == (y[i] == 1);
        right2 += (z2[i] > 0) == (y[i] == 1);
        agree += (z1[i] > 0) == (z2[i] > 0);
        pos += y[i] == 1;
    }
    ck_assert_msg(pos > 0 && pos < CF_N && agree < CF_N, "fixture: both classes, some flips");
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --labels %s --json", m1, m2, images,
                                     labels), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "task")->valuestring, "binary");
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "metric")->valuestring, "auc");
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "output_kind")->valuestring, "logit");
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "auc"), auc_by_pairs(z1, y, CF_N), 1e-12);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 1), "auc"), auc_by_pairs(z2, y, CF_N), 1e-12);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "logloss"), loss1 / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 1), "logloss"), loss2 / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "accuracy"), 100.0 * right1 / CF_N, 1e-9);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 1), "accuracy"), 100.0 * right2 / CF_N, 1e-9);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "mean_predicted"), mean1 / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "observed_rate"), (double)pos / CF_N,
                            1e-12);
    ck_assert_double_eq_tol(cf_num(doc, "agreement"), 100.0 * agree / CF_N, 1e-9);
    ck_assert_double_eq_tol(cf_num(doc, "accuracy_drop"), 100.0 * (right1 - right2) / CF_N,
                            1e-9);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "kl_divergence")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(model_at(doc, 0), "top5")));
    double sig = 0.0, noise = 0.0;
    for (int i = 0; i < CF_N; i++) {
        sig += z1[i] * z1[i];
        noise += (z1[i] - z2[i]) * (z1[i] - z2[i]);
    }
    ck_assert_double_eq_tol(cf_num(doc, "sqnr_db"), 10.0 * log10(sig / noise), 1e-4);
    ck_assert_double_eq_tol(cf_num(doc, "output_mse"), noise / CF_N, 1e-6);
    cJSON_Delete(doc);

    /* --significance on binary outputs: the exact McNemar test of the
     * decisions, b and c counted here */
    int b = 0, c = 0;
    for (int i = 0; i < CF_N; i++) {
        bool r1 = (z1[i] > 0) == (y[i] == 1), r2 = (z2[i] > 0) == (y[i] == 1);
        b += r1 && !r2;
        c += r2 && !r1;
    }
    ck_assert_msg(b + c > 0, "fixture: the models should differ on some labelled samples");
    double tail = 0.0, comb = 1.0;
    for (int j = 0; j <= (b < c ? b : c); j++) {
        tail += comb / pow(2.0, b + c);
        comb = comb * (b + c - j) / (j + 1);
    }
    double p = b == c ? 1.0 : fmin(1.0, 2.0 * tail);
    doc = cf_run_json(cf_args("eval %s %s --data %s --labels %s --json --significance 0.5", m1,
                              m2, images, labels), right1 > right2 && p < 0.5 ? 1 : 0);
    ck_assert_double_eq(cf_num(doc, "model1_only_correct"), b);
    ck_assert_double_eq(cf_num(doc, "model2_only_correct"), c);
    ck_assert_double_eq_tol(cf_num(doc, "mcnemar_p"), p, 1e-12);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "agreement_ci95")), 2);
    cJSON_Delete(doc);

    /* the sigmoid model: probabilities, same AUC and log loss */
    doc = cf_run_json(cf_args("eval %s --data %s --labels %s --json", s1, images, labels), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "output_kind")->valuestring, "prob");
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "auc"), auc_by_pairs(z1, y, CF_N), 1e-12);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "logloss"), loss1 / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "accuracy"), 100.0 * right1 / CF_N, 1e-9);
    cJSON_Delete(doc);

    /* without labels: agreement of the decisions and the SQNR only */
    doc = cf_run_json(cf_args("eval %s %s --data %s --json", m1, m2, images), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "metric")->valuestring, "agreement");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(model_at(doc, 0), "auc")));
    ck_assert_double_eq_tol(cf_num(doc, "agreement"), 100.0 * agree / CF_N, 1e-9);
    cJSON_Delete(doc);

    /* the metric gate: log loss, lower is better, drop = model 2 - model 1 */
    char *errout = NULL, expect[256];
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --labels %s --metric logloss "
                                           "--max-metric-drop 0.001", m1, m2, images, labels),
                                   NULL, &errout), 1);
    snprintf(expect, sizeof expect,
             "quanta: check failed: logloss drop %.4g exceeds --max-metric-drop 0.001\n",
             (loss2 - loss1) / CF_N);
    ck_assert_msg(loss2 > loss1 + 0.01 * CF_N, "fixture: model 2 should lose");
    ck_assert_str_eq(errout, expect);
    free(errout);
    doc = cf_run_json(cf_args("eval %s %s --data %s --labels %s --metric logloss "
                              "--max-metric-drop 5 --json", m1, m2, images, labels), 0);
    const cJSON *chk = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "checks"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(chk, "name")->valuestring, "max_metric_drop");
    ck_assert_str_eq(cJSON_GetObjectItem(chk, "metric")->valuestring, "logloss");
    ck_assert_double_eq_tol(cf_num(chk, "value"), (loss2 - loss1) / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(doc, "metric_drop"), (loss2 - loss1) / CF_N, 1e-6);
    cJSON_Delete(doc);

    /* labels outside {0, 1}: file, sample and value */
    y[3] = 2;
    write_npy(bad, QUANTA_I64, (struct quanta_shape){1, {CF_N}}, y);
    char reason[512];
    snprintf(reason, sizeof reason,
             "%s: sample 3 has label 2; labels of a binary output are 0 or 1", bad);
    cf_expect_input_error(cf_args("eval %s %s --data %s --labels %s", m1, m2, images, bad),
                          reason);
    /* options that do not fit */
    cf_expect_usage(cf_args("eval %s --data %s --metric top5", m1, images),
                    "--metric top5 does not fit binary outputs");
    cf_expect_usage(cf_args("eval %s --data %s --metric f1", m1, images),
                    "--metric 'f1' is none of");
    cf_expect_usage(cf_args("eval %s --data %s --output-kind odds", m1, images),
                    "--output-kind 'odds' is neither prob nor logit");
    cf_expect_usage(cf_args("eval %s %s --data %s --metric auc --max-metric-drop 0.01", m1, m2,
                            images), "--max-metric-drop with metric auc needs labels");
    cf_expect_usage(cf_args("eval %s --data %s --max-metric-drop 1", m1, images),
                    "--max-metric-drop needs a second model");
    cf_expect_usage(cf_args("eval %s %s --data %s --max-metric-drop -1", m1, m2, images),
                    "--max-metric-drop '-1' is not a finite number >= 0");
    free(m1);
    free(m2);
    free(s1);
    free(images);
    free(labels);
    free(bad);
}
END_TEST

START_TEST(test_eval_regression)
{
    char *m1 = cf_tmp("reg1.safetensors"), *m2 = cf_tmp("reg2.safetensors");
    char *images = cf_tmp("reg-images.idx"), *targets = cf_tmp("reg-targets.npy");
    char *narrow = cf_tmp("reg-narrow.npy");
    struct cf_weights w1, w2;
    cf_default_weights(&w1);
    w2 = w1;
    w2.b2[1] += 0.25f;
    cf_write_model(m1, &w1, true);
    cf_write_model(m2, &w2, true);
    cf_write_images(images);
    float t[CF_N][CF_CLASSES];
    double l1[CF_N][CF_CLASSES], l2[CF_N][CF_CLASSES];
    double sq1 = 0.0, ab1 = 0.0, cos1 = 0.0, sq2 = 0.0;
    for (int i = 0; i < CF_N; i++) {
        cf_forward(&w1, i, l1[i]);
        cf_forward(&w2, i, l2[i]);
        double dot = 0.0, nl = 0.0, nt = 0.0;
        for (int c = 0; c < CF_CLASSES; c++) {
            t[i][c] = (float)(0.5 * c - 0.1 * i + 0.3);
            double d = l1[i][c] - t[i][c];
            sq1 += d * d;
            ab1 += fabs(d);
            sq2 += (l2[i][c] - t[i][c]) * (l2[i][c] - t[i][c]);
            dot += l1[i][c] * t[i][c];
            nl += l1[i][c] * l1[i][c];
            nt += (double)t[i][c] * t[i][c];
        }
        cos1 += dot / sqrt(nl * nt);
    }
    write_npy(targets, QUANTA_F32, (struct quanta_shape){2, {CF_N, CF_CLASSES}}, t);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --labels %s --json", m1, m2, images,
                                     targets), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "task")->valuestring, "regression");
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "metric")->valuestring, "mse");
    const int n = CF_N * CF_CLASSES;
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "mse"), sq1 / n, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "mae"), ab1 / n, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "cosine"), cos1 / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 1), "mse"), sq2 / n, 1e-6);
    ck_assert_double_eq_tol(cf_num(doc, "metric_drop"), (sq2 - sq1) / n, 1e-6);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "accuracy_drop")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "agreement")));
    /* model 2 against model 1: only logits[1] moves, by 0.25 */
    ck_assert_double_eq_tol(cf_num(doc, "output_mse"), 0.0625 / CF_CLASSES, 1e-6);
    ck_assert_double_eq_tol(cf_num(doc, "output_mae"), 0.25 / CF_CLASSES, 1e-6);
    cJSON_Delete(doc);

    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s --data %s --labels %s", m1, images, targets),
                                   &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "MSE"));
    ck_assert_ptr_nonnull(strstr(out, "cosine"));
    free(out);

    /* targets of another shape; class gates on float labels */
    write_npy(narrow, QUANTA_F32, (struct quanta_shape){2, {CF_N, 2}}, t);
    char reason[512];
    snprintf(reason, sizeof reason, "%s: float labels (regression targets) have 2 values a "
             "sample but the output has 3", narrow);
    cf_expect_input_error(cf_args("eval %s --data %s --labels %s", m1, images, narrow), reason);
    cf_expect_usage(cf_args("eval %s %s --data %s --labels %s --max-drop 1", m1, m2, images,
                            targets), "--max-drop needs class, binary or token outputs");
    cf_expect_usage(cf_args("eval %s --data %s --output-kind logit", m1, images),
                    "--output-kind needs one output per sample (a binary output), not class");
    cf_expect_usage(cf_args("eval %s %s --data %s --labels %s --min-agreement 90", m1, m2,
                            images, targets), "--min-agreement needs class, binary or token");
    /* --metric mse on class outputs: model 2 against model 1 */
    doc = cf_run_json(cf_args("eval %s %s --data %s --metric mse --max-metric-drop 1 --json", m1,
                              m2, images), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "task")->valuestring, "class");
    ck_assert_double_eq_tol(cf_num(doc, "metric_drop"), 0.0625 / CF_CLASSES, 1e-6);
    ck_assert_double_eq(cf_num(model_at(doc, 0), "metric_value"), 0.0);
    cJSON_Delete(doc);
    free(m1);
    free(m2);
    free(images);
    free(targets);
    free(narrow);
}
END_TEST

/* ---- token outputs: the embedding of ids [N, 3] is [N, 3, 4] ---- */

#define TOK_GRAPH                                                                            \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"tok\", "                     \
    "\"inputs\": [{\"name\": \"ids\", \"shape\": [-1, 3], \"dtype\": \"I64\"}], "            \
    "\"outputs\": [\"emb.out\"], \"nodes\": ["                                               \
    "{\"op\": \"embedding\", \"name\": \"emb\", \"inputs\": [\"ids\", \"table\"], "          \
    "\"outputs\": [\"emb.out\"]}]}"
#define TOK_N 6
#define TOK_V 5
#define TOK_C 4

static void write_token_model(const char *path, const float table[TOK_V][TOK_C])
{
    struct st_tensor_desc t = {"table", QUANTA_F32, {2, {TOK_V, TOK_C}}, table};
    struct st_meta meta = {"quanta.graph", TOK_GRAPH};
    struct quanta_error err = {0};
    ck_assert_msg(st_write_file(path, &t, 1, &meta, 1, &err) == QUANTA_OK, "%s", err.message);
}

static int row_argmax(const float *x)
{
    int best = 0;
    for (int c = 1; c < TOK_C; c++)
        if (x[c] > x[best])
            best = c;
    return best;
}

START_TEST(test_eval_tokens)
{
    char *m1 = cf_tmp("tok1.safetensors"), *m2 = cf_tmp("tok2.safetensors");
    char *ids = cf_tmp("tok-ids.npy"), *labels = cf_tmp("tok-labels.npy");
    char *bad = cf_tmp("tok-bad.npy"), *short_labels = cf_tmp("tok-short.npy");
    char *fids = cf_tmp("tok-float-ids.npy"), *half = cf_tmp("tok-half-ids.npy");
    float t1[TOK_V][TOK_C] = {
        {3, 0, 0, 0}, {0, 3, 0, 0}, {0, 0, 3, 0}, {0, 0, 0, 3}, {1, 2, 0, 0}};
    float t2[TOK_V][TOK_C];
    memcpy(t2, t1, sizeof t2);
    t2[4][0] = 2.5f; /* row 4: class 0 instead of 1 */
    write_token_model(m1, t1);
    write_token_model(m2, t2);
    int64_t id[TOK_N][3], y[TOK_N][3];
    int agree = 0, right1 = 0, right2 = 0, counted = 0;
    for (int i = 0; i < TOK_N; i++)
        for (int p = 0; p < 3; p++) {
            id[i][p] = (i * 3 + p * 2) % TOK_V;
            int a1 = row_argmax(t1[id[i][p]]), a2 = row_argmax(t2[id[i][p]]);
            y[i][p] = (i + p) % 4 == 0 ? (a1 + 1) % TOK_C : a1; /* some wrong */
            if (i == 1 && p == 2)
                y[i][p] = -100; /* skipped */
            agree += a1 == a2;
            if (y[i][p] >= 0) {
                counted++;
                right1 += a1 == y[i][p];
                right2 += a2 == y[i][p];
            }
        }
    ck_assert_msg(agree < TOK_N * 3 && right1 > right2, "fixture: row 4 should change answers");
    write_npy(ids, QUANTA_I64, (struct quanta_shape){2, {TOK_N, 3}}, id);
    write_npy(labels, QUANTA_I64, (struct quanta_shape){2, {TOK_N, 3}}, y);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --labels %s --json", m1, m2, ids,
                                     labels), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "task")->valuestring, "token");
    ck_assert_double_eq(cf_num(doc, "positions"), 3);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "accuracy"), 100.0 * right1 / counted,
                            1e-9);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 1), "accuracy"), 100.0 * right2 / counted,
                            1e-9);
    ck_assert_double_eq_tol(cf_num(doc, "agreement"), 100.0 * agree / (TOK_N * 3), 1e-9);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "mcnemar_p")));
    cJSON_Delete(doc);

    /* without labels: token agreement is the metric; its drop is 100 - agreement */
    char *errout = NULL, expect[256];
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --metric token-agreement "
                                           "--max-metric-drop 1", m1, m2, ids), NULL, &errout),
                     1);
    snprintf(expect, sizeof expect,
             "quanta: check failed: token-agreement drop %.4g exceeds --max-metric-drop 1\n",
             100.0 - 100.0 * agree / (TOK_N * 3));
    ck_assert_str_eq(errout, expect);
    free(errout);
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --min-agreement %.4f", m1, m2,
                                           ids, 100.0 * agree / (TOK_N * 3) - 0.01),
                                   NULL, NULL), 0);
    cf_expect_usage(cf_args("eval %s %s --data %s --labels %s --significance 0.05", m1, m2, ids,
                            labels), "--significance needs class or binary outputs");

    /* bad labels: a class the output lacks; [N] labels for [N, T] outputs; too few */
    y[2][1] = TOK_C;
    write_npy(bad, QUANTA_I64, (struct quanta_shape){2, {TOK_N, 3}}, y);
    char reason[512];
    snprintf(reason, sizeof reason, "%s: sample 2 position 1 has label 4, outside the output's "
             "4 classes [0, 4)", bad);
    cf_expect_input_error(cf_args("eval %s --data %s --labels %s", m1, ids, bad), reason);
    write_npy(short_labels, QUANTA_I64, (struct quanta_shape){1, {TOK_N}}, y);
    cf_expect_input_error(cf_args("eval %s --data %s --labels %s", m1, ids, short_labels),
                          "labels have shape [] a sample but token outputs take 3 a sample");
    write_npy(short_labels, QUANTA_I64, (struct quanta_shape){2, {TOK_N - 1, 3}}, y);
    snprintf(reason, sizeof reason, "%s: holds %d labels but %s has %d samples", short_labels,
             TOK_N - 1, ids, TOK_N);
    cf_expect_input_error(cf_args("eval %s --data %s --labels %s", m1, ids, short_labels),
                          reason);

    /* float data for the ids: refused with the value, whole or not */
    float f[TOK_N][3];
    for (int i = 0; i < TOK_N; i++)
        for (int p = 0; p < 3; p++)
            f[i][p] = (float)id[i][p];
    write_npy(fids, QUANTA_F32, (struct quanta_shape){2, {TOK_N, 3}}, f);
    snprintf(reason, sizeof reason, "%s: sample 0 element 0 is 0, F32 data, but input 'ids' "
             "takes integer ids (I64)", fids);
    cf_expect_input_error(cf_args("eval %s --data %s", m1, fids), reason);
    f[0][0] = 1.5f;
    write_npy(half, QUANTA_F32, (struct quanta_shape){2, {TOK_N, 3}}, f);
    snprintf(reason, sizeof reason, "%s: sample 0 element 0 is 1.5, F32 data", half);
    cf_expect_input_error(cf_args("eval %s --data %s", m1, half), reason);
    free(m1);
    free(m2);
    free(ids);
    free(labels);
    free(bad);
    free(short_labels);
    free(fids);
    free(half);
}
END_TEST

START_TEST(test_eval_bad_class_input)
{
    char *m = cf_tmp("cls.safetensors"), *images = cf_tmp("cls-images.idx");
    char *labels = cf_tmp("cls-labels.idx"), *ints = cf_tmp("cls-ints.npy");
    char *floats = cf_tmp("cls-floats.npy");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(m, &w, true);
    cf_write_images(images);
    int lab[CF_N] = {0, 1, 2, 0, 1, 5, 2, 0};
    cf_write_labels(labels, lab);
    char reason[512];
    snprintf(reason, sizeof reason,
             "%s: sample 5 has label 5, outside the output's 3 classes [0, 3)", labels);
    cf_expect_input_error(cf_args("eval %s --data %s --labels %s", m, images, labels), reason);
    /* ids (I64) for a float input */
    int64_t px[CF_N][CF_PIX];
    for (int i = 0; i < CF_N; i++)
        for (int p = 0; p < CF_PIX; p++)
            px[i][p] = cf_pixel(i, p) + 1;
    write_npy(ints, QUANTA_I64, (struct quanta_shape){4, {CF_N, 2, 2, 1}}, px);
    snprintf(reason, sizeof reason, "%s: sample 0 element 0 is %d, I64 data (ids?), but input "
             "'image' takes F32 values", ints, cf_pixel(0, 0) + 1);
    cf_expect_input_error(cf_args("eval %s --data %s", m, ints), reason);
    /* float labels [N] for class scores [3]: they would be targets of another shape */
    float fl[CF_N] = {0};
    write_npy(floats, QUANTA_F32, (struct quanta_shape){1, {CF_N}}, fl);
    snprintf(reason, sizeof reason, "%s: float labels (regression targets) have 1 values a "
             "sample but the output has 3", floats);
    cf_expect_input_error(cf_args("eval %s --data %s --labels %s", m, images, floats), reason);
    free(m);
    free(images);
    free(labels);
    free(ints);
    free(floats);
}
END_TEST

/* Class outputs: log loss is the mean -ln softmax(label), and --metric
 * logloss gates on it. */
START_TEST(test_eval_class_logloss)
{
    char *m1 = cf_tmp("ll1.safetensors"), *m2 = cf_tmp("ll2.safetensors");
    char *images = cf_tmp("ll-images.idx"), *labels = cf_tmp("ll-labels.idx");
    struct cf_weights w1, w2;
    cf_default_weights(&w1);
    w2 = w1;
    w2.b2[0] -= 0.75f;
    cf_write_model(m1, &w1, true);
    cf_write_model(m2, &w2, true);
    cf_write_images(images);
    int lab[CF_N];
    double loss[2] = {0.0, 0.0};
    for (int i = 0; i < CF_N; i++) {
        double l[2][CF_CLASSES];
        cf_forward(&w1, i, l[0]);
        cf_forward(&w2, i, l[1]);
        lab[i] = i % CF_CLASSES;
        for (int k = 0; k < 2; k++) {
            double z = 0.0;
            for (int c = 0; c < CF_CLASSES; c++)
                z += exp(l[k][c]);
            loss[k] -= log(exp(l[k][lab[i]]) / z);
        }
    }
    cf_write_labels(labels, lab);
    double drop = (loss[1] - loss[0]) / CF_N;
    ck_assert_msg(drop > 0.01, "fixture: model 2 should lose");
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --labels %s --metric logloss "
                                     "--max-metric-drop %.6f --json", m1, m2, images, labels,
                                     drop * 2), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "task")->valuestring, "class");
    ck_assert_double_eq_tol(cf_num(model_at(doc, 0), "logloss"), loss[0] / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(model_at(doc, 1), "logloss"), loss[1] / CF_N, 1e-6);
    ck_assert_double_eq_tol(cf_num(doc, "metric_drop"), drop, 1e-6);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(doc, "metric_higher_is_better")));
    cJSON_Delete(doc);
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --labels %s --metric logloss "
                                           "--max-metric-drop %.6f", m1, m2, images, labels,
                                           drop / 2), NULL, NULL), 1);
    free(m1);
    free(m2);
    free(images);
    free(labels);
}
END_TEST

Suite *suite_cli_eval_tasks(void);
Suite *suite_cli_eval_tasks(void)
{
    Suite *s = suite_create("cli_eval_tasks");
    TCase *tc = tcase_create("tasks");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_eval_binary);
    tcase_add_test(tc, test_eval_regression);
    tcase_add_test(tc, test_eval_tokens);
    tcase_add_test(tc, test_eval_bad_class_input);
    tcase_add_test(tc, test_eval_class_logloss);
    suite_add_tcase(s, tc);
    return s;
}
