/* The task metrics of quanta eval: AUC with ties, log loss with clipping,
 * output errors (values from scripts/task_ref.py, which computes them by
 * their definitions with numpy), and the evaluation accumulator: the task
 * chosen from the output shape and labels, labels checked against it,
 * binary outputs as probabilities or logits, token outputs per position,
 * the metric drop and its gate. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/eval.h"

static const float bin_scores[13] = {0.9f, 0.8f, 0.8f, 0.7f, 0.6f, 0.55f, 0.5f,
                                     0.4f, 0.3f, 0.3f, 0.2f, 0.0f, 1.0f};
static const uint8_t bin_labels[13] = {1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1};
static const float logits[7] = {2.5f, -1.0f, 0.0f, 40.0f, -40.0f, 3.0f, 0.25f};
static const uint8_t logit_labels[7] = {1, 0, 1, 1, 0, 0, 1};

START_TEST(test_auc)
{
    int64_t order[13];
    /* scripts/task_ref.py: pairwise wins, ties a half */
    ck_assert_double_eq_tol(report_auc(bin_scores, bin_labels, 13, order), 0.8095238095238095,
                            1e-15);
    ck_assert_double_eq_tol(report_auc(logits, logit_labels, 7, order), 0.75, 1e-15);
    /* all tied: 0.5; perfectly ordered: 1; reversed: 0 */
    const float same[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    const uint8_t y[4] = {0, 1, 0, 1};
    ck_assert_double_eq(report_auc(same, y, 4, order), 0.5);
    const float up[4] = {0.1f, 0.9f, 0.2f, 0.8f};
    ck_assert_double_eq(report_auc(up, y, 4, order), 1.0);
    const float down[4] = {0.9f, 0.1f, 0.8f, 0.2f};
    ck_assert_double_eq(report_auc(down, y, 4, order), 0.0);
    /* one class only, or a NaN score: undefined */
    const uint8_t ones[4] = {1, 1, 1, 1};
    ck_assert(isnan(report_auc(up, ones, 4, order)));
    const float with_nan[4] = {0.1f, NAN, 0.2f, 0.8f};
    ck_assert(isnan(report_auc(with_nan, y, 4, order)));
}
END_TEST

START_TEST(test_log_loss)
{
    double sum = 0.0;
    for (int i = 0; i < 13; i++)
        sum += report_log_loss_term(report_binary_probability(bin_scores[i], false),
                                    bin_labels[i]);
    ck_assert_double_eq_tol(sum / 13, 0.5228083751528382, 1e-14);
    sum = 0.0;
    for (int i = 0; i < 7; i++)
        sum += report_log_loss_term(report_binary_probability(logits[i], true), logit_labels[i]);
    ck_assert_double_eq_tol(sum / 7, 0.6728321962604726, 1e-14);
    /* clipping: a sure wrong answer costs -ln(1e-15), not infinity */
    ck_assert_double_eq_tol(report_log_loss_term(0.0, 1), -log(1e-15), 1e-12);
    /* 1 - 1e-15 rounds in double, so 1 - p is 9.992e-16 (as in scikit-learn) */
    ck_assert_double_eq_tol(report_log_loss_term(1.0, 0), -log(1.0 - (1.0 - 1e-15)), 1e-12);
    /* the decision at 0.5: strictly above */
    ck_assert(!report_binary_decision(0.5f, false));
    ck_assert(report_binary_decision(0.50001f, false));
    ck_assert(!report_binary_decision(0.0f, true));
    ck_assert(report_binary_decision(1e-6f, true));
    ck_assert_double_eq(report_binary_probability(0.0f, true), 0.5);
    ck_assert_double_eq_tol(report_binary_probability(-800.0f, true), 0.0, 1e-300);
}
END_TEST

START_TEST(test_errors)
{
    const float ref[4][3] = {{1, 2, 3}, {0, 0, 0}, {-1, 0.5f, 2}, {0, 0, 0}};
    const float test[4][3] = {{1.5f, 1, 3}, {0, 0, 0}, {1, -0.5f, -2}, {0.25f, 0, 0}};
    struct report_errors acc = {0};
    for (int i = 0; i < 4; i++)
        report_errors_add(&acc, ref[i], test[i], 3);
    /* scripts/task_ref.py */
    ck_assert_double_eq_tol(report_errors_mse(&acc), 1.859375, 1e-15);
    ck_assert_double_eq_tol(report_errors_mae(&acc), 0.7291666666666666, 1e-15);
    ck_assert_double_eq_tol(report_errors_cosine(&acc), 0.23862610885037894, 1e-15);
    ck_assert_double_eq_tol(report_sqnr_db(&acc.sqnr), -0.6411749961174891, 1e-12);
    struct report_errors none = {0};
    ck_assert(isnan(report_errors_mse(&none)) && isnan(report_errors_cosine(&none)));
}
END_TEST

/* ---- the accumulator ---- */

static struct quanta_shape shape1(int64_t a)
{
    return (struct quanta_shape){.rank = 1, .dims = {a}};
}

static struct labels int_labels(int32_t *values, int64_t n, int64_t per)
{
    struct labels l = {.n = n, .values = values, .per_sample = per, .dtype = QUANTA_I32,
                       .path = (char *)"labels.npy"};
    l.sample_shape = per == 1 ? (struct quanta_shape){.rank = 0} : shape1(per);
    return l;
}

static void expect_init_fails(const struct report_eval_options *o, int n,
                              struct quanta_shape out, const struct labels *l,
                              enum quanta_status st, const char *reason)
{
    struct report_eval e;
    struct quanta_error err = {0};
    ck_assert_int_eq(report_eval_init(&e, o, n, &out, l, 8, "data.npy", &err), st);
    ck_assert_msg(strstr(err.message, reason), "'%s' is not '%s'", err.message, reason);
    report_eval_free(&e);
}

START_TEST(test_task_and_label_checks)
{
    struct report_eval_options o = {.metric = REPORT_METRIC_DEFAULT};
    struct report_eval e;
    struct quanta_error err = {0};
    int32_t cls[3] = {0, 2, 1}, bin[3] = {0, 1, 1};
    struct labels lc = int_labels(cls, 3, 1), lb = int_labels(bin, 3, 1);
    /* [C] with C >= 2: class; [1] or []: binary; [T, C]: token */
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){1, {3}}, &lc, 3, "d",
                                      &err), QUANTA_OK);
    ck_assert_int_eq(e.task, REPORT_TASK_CLASS);
    ck_assert_int_eq(e.metric, REPORT_METRIC_ACCURACY);
    report_eval_free(&e);
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){0, {0}}, &lb, 3, "d",
                                      &err), QUANTA_OK);
    ck_assert_int_eq(e.task, REPORT_TASK_BINARY);
    ck_assert_int_eq(e.metric, REPORT_METRIC_AUC);
    report_eval_free(&e);
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){1, {1}}, NULL, 3, "d",
                                      &err), QUANTA_OK);
    ck_assert_int_eq(e.task, REPORT_TASK_BINARY);
    ck_assert_int_eq(e.metric, REPORT_METRIC_AGREEMENT);
    report_eval_free(&e);
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){2, {4, 5}}, NULL, 3,
                                      "d", &err), QUANTA_OK);
    ck_assert_int_eq(e.task, REPORT_TASK_TOKEN);
    ck_assert_int_eq(e.positions, 4);
    ck_assert_int_eq(e.classes, 5);
    ck_assert_int_eq(e.metric, REPORT_METRIC_TOKEN_AGREEMENT);
    report_eval_free(&e);
    /* float labels: regression, mse by default */
    float targets[9] = {0};
    struct labels lf = {.n = 3, .targets = targets, .per_sample = 3, .dtype = QUANTA_F32,
                        .path = (char *)"t.npy", .sample_shape = shape1(3)};
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){1, {3}}, &lf, 3, "d",
                                      &err), QUANTA_OK);
    ck_assert_int_eq(e.task, REPORT_TASK_REGRESSION);
    ck_assert_int_eq(e.metric, REPORT_METRIC_MSE);
    report_eval_free(&e);

    /* labels that do not fit: file, sample and value named */
    expect_init_fails(&o, 2, shape1(2), &lc, QUANTA_ERR_INPUT,
                      "labels.npy: sample 1 has label 2, outside the output's 2 classes [0, 2)");
    int32_t neg[3] = {0, 1, -1};
    struct labels ln = int_labels(neg, 3, 1);
    expect_init_fails(&o, 2, shape1(3), &ln, QUANTA_ERR_INPUT,
                      "labels.npy: sample 2 has label -1, outside");
    expect_init_fails(&o, 2, shape1(1), &lc, QUANTA_ERR_INPUT,
                      "labels.npy: sample 1 has label 2; labels of a binary output are 0 or 1");
    int32_t tok[6] = {0, 1, -100, 4, 5, 0};
    struct labels lt = int_labels(tok, 2, 3);
    expect_init_fails(&o, 2, (struct quanta_shape){2, {3, 5}}, &lt, QUANTA_ERR_INPUT,
                      "labels.npy: sample 1 position 1 has label 5, outside the output's 5 "
                      "classes [0, 5)");
    expect_init_fails(&o, 2, (struct quanta_shape){2, {2, 5}}, &lt, QUANTA_ERR_INPUT,
                      "labels.npy: labels have shape [3] a sample but token outputs take 2 a "
                      "sample");
    expect_init_fails(&o, 2, shape1(4), &lf, QUANTA_ERR_INPUT,
                      "t.npy: float labels (regression targets) have 3 values a sample but the "
                      "output has 4");

    /* options the task cannot serve */
    o.metric = REPORT_METRIC_AUC;
    expect_init_fails(&o, 2, shape1(3), &lc, QUANTA_ERR_USAGE,
                      "--metric auc does not fit class outputs");
    o.metric = REPORT_METRIC_ACCURACY;
    expect_init_fails(&o, 2, shape1(3), &lf, QUANTA_ERR_USAGE,
                      "--metric accuracy does not fit regression outputs (float labels)");
    o.metric = REPORT_METRIC_DEFAULT;
    o.has_max_drop = true;
    expect_init_fails(&o, 2, shape1(3), &lf, QUANTA_ERR_USAGE,
                      "--max-drop needs class, binary or token outputs");
    expect_init_fails(&o, 2, shape1(3), NULL, QUANTA_ERR_USAGE,
                      "--max-drop needs labels but none were found for data.npy");
    o.has_max_drop = false;
    o.has_significance = true;
    expect_init_fails(&o, 2, (struct quanta_shape){2, {2, 5}}, NULL, QUANTA_ERR_USAGE,
                      "--significance needs labels");
    o.has_significance = false;
    o.has_max_metric_drop = true;
    o.metric = REPORT_METRIC_LOGLOSS;
    expect_init_fails(&o, 2, shape1(1), NULL, QUANTA_ERR_USAGE,
                      "--max-metric-drop with metric logloss needs labels");
}
END_TEST

START_TEST(test_binary_eval)
{
    /* model 2 = model 1's logits with two decisions flipped */
    float z2[7];
    memcpy(z2, logits, sizeof z2);
    z2[1] = 0.5f;   /* label 0: now wrong */
    z2[6] = -0.25f; /* label 1: now wrong */
    int32_t y[7];
    for (int i = 0; i < 7; i++)
        y[i] = logit_labels[i];
    struct labels l = int_labels(y, 7, 1);
    struct report_eval_options o = {.metric = REPORT_METRIC_DEFAULT, .has_max_metric_drop = true,
                                    .max_metric_drop = 0.1};
    struct report_eval e;
    struct quanta_error err = {0};
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){1, {1}}, &l, 7, "d",
                                      &err), QUANTA_OK);
    /* two batches */
    ck_assert_int_eq(report_eval_add(&e, 0, 4, (const float *const[2]){logits, z2}, &err),
                     QUANTA_OK);
    ck_assert_int_eq(report_eval_add(&e, 4, 3, (const float *const[2]){logits + 4, z2 + 4},
                                     &err), QUANTA_OK);
    ck_assert_int_eq(report_eval_finish(&e, &err), QUANTA_OK);
    ck_assert(e.logit); /* outputs outside [0, 1] */
    ck_assert_double_eq_tol(e.model[0].auc, 0.75, 1e-15);
    ck_assert_double_eq_tol(e.model[0].log_loss, 0.6728321962604726, 1e-14);
    /* decisions z > 0: 1 0 0 1 0 1 1 against 1 0 1 1 0 0 1: 5 of 7 right */
    ck_assert_double_eq_tol(report_eval_accuracy(&e, 0), 100.0 * 5 / 7, 1e-12);
    ck_assert_double_eq_tol(report_eval_accuracy(&e, 1), 100.0 * 3 / 7, 1e-12);
    ck_assert_double_eq_tol(report_eval_agreement(&e), 100.0 * 5 / 7, 1e-12);
    ck_assert_double_eq_tol(report_eval_observed_rate(&e), 4.0 / 7, 1e-15);
    ck_assert_int_eq(e.paired.only1, 2);
    ck_assert_int_eq(e.paired.only2, 0);
    /* model 2's AUC: positives 2.5 0 40 -0.25 against negatives 0.5 -40 3,
     * pairs won: 2.5 beats two, 0 one, 40 three, -0.25 one: 7 of 12 */
    ck_assert_double_eq_tol(e.model[1].auc, 7.0 / 12, 1e-15);
    ck_assert_double_eq_tol(report_eval_metric_drop(&e), 0.75 - 7.0 / 12, 1e-15);
    ck_assert(!e.pass);
    ck_assert_str_eq(e.reason, "auc drop 0.1667 exceeds --max-metric-drop 0.1");
    report_eval_free(&e);

    /* the same numbers as probabilities: AUC unchanged, decisions at 0.5 */
    float p1[7], p2[7];
    for (int i = 0; i < 7; i++) {
        p1[i] = (float)report_binary_probability(logits[i], true);
        p2[i] = (float)report_binary_probability(z2[i], true);
    }
    o.metric = REPORT_METRIC_LOGLOSS;
    o.max_metric_drop = 10.0;
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){0, {0}}, &l, 7, "d",
                                      &err), QUANTA_OK);
    ck_assert_int_eq(report_eval_add(&e, 0, 7, (const float *const[2]){p1, p2}, &err),
                     QUANTA_OK);
    ck_assert_int_eq(report_eval_finish(&e, &err), QUANTA_OK);
    ck_assert(!e.logit);
    ck_assert_double_eq_tol(e.model[0].auc, 0.75, 1e-15);
    ck_assert_double_eq_tol(e.model[0].log_loss, 0.6728321962604726, 1e-6);
    ck_assert_double_eq_tol(report_eval_accuracy(&e, 0), 100.0 * 5 / 7, 1e-12);
    /* lower is better: the drop is model 2's loss minus model 1's, > 0 here */
    ck_assert_double_eq(report_eval_metric_drop(&e), e.model[1].log_loss - e.model[0].log_loss);
    ck_assert(report_eval_metric_drop(&e) > 0.0);
    ck_assert(e.pass);
    report_eval_free(&e);
}
END_TEST

START_TEST(test_token_eval)
{
    /* 2 samples x 3 positions x 2 classes */
    const float a[12] = {1, 0, 0, 1, 1, 0, /**/ 0, 1, 0, 1, 1, 0};
    const float b[12] = {1, 0, 1, 0, 1, 0, /**/ 0, 1, 0, 1, 0, 1};
    int32_t y[6] = {0, 1, -100, 1, 1, 1};
    struct labels l = int_labels(y, 2, 3);
    struct report_eval_options o = {.metric = REPORT_METRIC_DEFAULT};
    struct report_eval e;
    struct quanta_error err = {0};
    ck_assert_int_eq(report_eval_init(&e, &o, 2, &(struct quanta_shape){2, {3, 2}}, &l, 2, "d",
                                      &err), QUANTA_OK);
    ck_assert_int_eq(report_eval_add(&e, 0, 2, (const float *const[2]){a, b}, &err), QUANTA_OK);
    ck_assert_int_eq(report_eval_finish(&e, &err), QUANTA_OK);
    /* agreement over all 6 positions: positions 1 and 5 differ */
    ck_assert_double_eq_tol(report_eval_agreement(&e), 100.0 * 4 / 6, 1e-12);
    /* accuracy over the 5 labelled positions: a gets 0 1 . 1 1 0 -> 4 of 5
     * right (the last is class 0, label 1); b gets 0 0 . 1 1 1 -> 4 of 5 */
    ck_assert_double_eq_tol(report_eval_accuracy(&e, 0), 80.0, 1e-12);
    ck_assert_double_eq_tol(report_eval_accuracy(&e, 1), 80.0, 1e-12);
    /* log loss over the labelled positions: a's rows are one-hot, so they
     * are taken as the distribution itself (as for the KL divergence):
     * four right at p = 1 cost 0, one wrong at p = 0 costs -ln 1e-12 */
    ck_assert_double_eq_tol(report_eval_log_loss(&e, 0), -log(1e-12) / 5, 1e-9);
    ck_assert_int_eq(e.metric, REPORT_METRIC_ACCURACY);
    ck_assert_double_eq(report_eval_metric_drop(&e), 0.0);
    ck_assert(isnan(report_eval_mcnemar_p(&e)));
    report_eval_free(&e);
}
END_TEST

START_TEST(test_metric_names)
{
    ck_assert_int_eq(report_metric_from_name("token-agreement"), REPORT_METRIC_TOKEN_AGREEMENT);
    ck_assert_int_eq(report_metric_from_name("logloss"), REPORT_METRIC_LOGLOSS);
    ck_assert_int_eq(report_metric_from_name("f1"), REPORT_METRIC_COUNT);
    ck_assert(!report_metric_higher_is_better(REPORT_METRIC_MSE));
    ck_assert(report_metric_higher_is_better(REPORT_METRIC_COSINE));
    ck_assert_str_eq(report_task_name(REPORT_TASK_REGRESSION), "regression");
}
END_TEST

Suite *suite_report_task(void);
Suite *suite_report_task(void)
{
    Suite *s = suite_create("report_task");
    TCase *tc = tcase_create("task");
    tcase_add_test(tc, test_auc);
    tcase_add_test(tc, test_log_loss);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_task_and_label_checks);
    tcase_add_test(tc, test_binary_eval);
    tcase_add_test(tc, test_token_eval);
    tcase_add_test(tc, test_metric_names);
    suite_add_tcase(s, tc);
    return s;
}
