/* Kernel level choice: the reference table is complete, known levels can
 * be forced, unknown ones fail with a message instead of falling back. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kernels/kernels.h"
#include "support/test_support.h"

/* "ref, avx2, ..." : the levels this CPU runs, as the messages list them. */
static const char *available_levels(void)
{
    static char list[128];
    list[0] = '\0';
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        if (!f32_kernels_for_level((enum kernels_level)l))
            continue;
        if (list[0])
            strcat(list, ", ");
        strcat(list, kernels_level_name((enum kernels_level)l));
    }
    return list;
}

START_TEST(test_ref_table_complete)
{
    struct quanta_error err = {0};
    ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
    const struct f32_kernels *k = f32_kernels_for_level(KERNELS_LEVEL_REF);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->level, "ref");
    ck_assert_str_eq(kernels_level_name(KERNELS_LEVEL_REF), "ref");
    ck_assert(k->conv2d == f32_conv2d__ref);
    ck_assert(k->embedding == f32_embedding__ref);
    /* every entry is set */
#define ENTRY_SET(name) ck_assert_msg(k->name != NULL, "ref table: " #name " is NULL");
    ENTRY_SET(conv2d) ENTRY_SET(dense) ENTRY_SET(max_pool2d) ENTRY_SET(avg_pool2d)
    ENTRY_SET(global_avg_pool) ENTRY_SET(relu) ENTRY_SET(relu6) ENTRY_SET(sigmoid)
    ENTRY_SET(tanh) ENTRY_SET(leaky_relu) ENTRY_SET(add) ENTRY_SET(mul) ENTRY_SET(softmax)
    ENTRY_SET(batch_norm) ENTRY_SET(mean) ENTRY_SET(concat) ENTRY_SET(embedding)
#undef ENTRY_SET
}
END_TEST

START_TEST(test_select)
{
    struct quanta_error err = {0};
    ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
    ck_assert_int_eq(kernels_current_level(), KERNELS_LEVEL_REF);
    ck_assert_ptr_nonnull(f32_kernels_get());
    ck_assert_str_eq(f32_kernels_get()->level, "ref");

    ck_assert_int_eq(kernels_select("avx9", &err), QUANTA_ERR_USAGE);
    char want[256];
    snprintf(want, sizeof want, "avx9: unknown kernel level (available: %s)", available_levels());
    ck_assert_str_eq(err.message, want);
    /* the earlier choice stands */
    ck_assert_str_eq(f32_kernels_get()->level, "ref");
    ck_assert_int_eq(kernels_select("", &err), QUANTA_ERR_USAGE);
    ck_assert_int_eq(kernels_select("REF", &err), QUANTA_ERR_USAGE);
}
END_TEST


/* QUANTA_ISA is read once per process, so the check runs in a fresh copy
 * of this test program (only the "isa_env" case, via CK_RUN_CASE) with
 * QUANTA_ISA=avx9 and RT_ISA_CHILD=1; the child asserts the failure. */
START_TEST(test_isa_env_unknown_level_fails)
{
    if (getenv("RT_ISA_CHILD")) {
        struct quanta_error err = {0};
        ck_assert_int_eq(kernels_init(&err), QUANTA_ERR_USAGE);
        char want[256];
        snprintf(want, sizeof want, "QUANTA_ISA=avx9: unknown kernel level (available: %s)",
                 available_levels());
        ck_assert_str_eq(err.message, want);
        ck_assert_ptr_null(f32_kernels_get()); /* no silent fallback */
        ck_assert_int_eq(kernels_init(&err), QUANTA_ERR_USAGE); /* same answer again */
        /* an explicit choice still works */
        ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
        ck_assert_ptr_nonnull(f32_kernels_get());
        return;
    }
    static const char *const env[] = {"QUANTA_ISA=avx9", "RT_ISA_CHILD=1", NULL};
    ts_rerun_case("kernels_dispatch", "isa_env", env);
}
END_TEST

/* Every level by name: the ones this CPU runs can be selected (and give
 * their own table); the others fail naming the rule, without changing the
 * choice. The levels form a chain: a level runs only if the one below does. */
START_TEST(test_select_every_level)
{
    struct quanta_error err = {0};
    int prev_supported = 1;
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        const char *name = kernels_level_name((enum kernels_level)l);
        int supported = f32_kernels_for_level((enum kernels_level)l) != NULL;
        ck_assert_msg(prev_supported || !supported, "%s runs but the level below does not", name);
        prev_supported = supported;
        ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
        enum quanta_status st = kernels_select(name, &err);
        if (supported) {
            ck_assert_int_eq(st, QUANTA_OK);
            ck_assert_int_eq(kernels_current_level(), l);
            ck_assert_str_eq(f32_kernels_get()->level, name);
        } else {
            ck_assert_int_eq(st, QUANTA_ERR_USAGE);
            char want[256];
            snprintf(want, sizeof want,
                     "%s: kernel level not supported by this cpu (available: %s)", name,
                     available_levels());
            ck_assert_str_eq(err.message, want);
            ck_assert_str_eq(f32_kernels_get()->level, "ref");
        }
    }
    ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
}
END_TEST

/* Without QUANTA_ISA the choice is the best level this CPU runs (fresh
 * process, as for the env case below). */
START_TEST(test_default_is_best_level)
{
    if (getenv("RT_ISA_CHILD")) {
        struct quanta_error err = {0};
        ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
        int best = 0;
        for (int l = 0; l < KERNELS_LEVEL_COUNT; l++)
            if (f32_kernels_for_level((enum kernels_level)l))
                best = l;
        ck_assert_int_eq(kernels_current_level(), best);
        return;
    }
    static const char *const env[] = {"QUANTA_ISA", "RT_ISA_CHILD=1", NULL};
    ts_rerun_case("kernels_dispatch", "isa_default", env);
}
END_TEST

/* ts_rerun_case keeps the parent's Check logs: the child gets none of the
 * log variables, so a log file named in them is not written by it. */
START_TEST(test_rerun_writes_no_parent_log)
{
    static const char *const vars[] = {"CK_LOG_FILE_NAME", "CK_XML_LOG_FILE_NAME",
                                       "CK_TAP_LOG_FILE_NAME"};
    char *old[3], *paths[3];
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        old[i] = v ? strdup(v) : NULL;
        char name[64];
        snprintf(name, sizeof name, "child-log-%d", i);
        paths[i] = strdup(ts_tmp_path(name));
        setenv(vars[i], paths[i], 1);
    }
    static const char *const env[] = {"QUANTA_ISA", "RT_ISA_CHILD=1", NULL};
    ts_rerun_case("kernels_dispatch", "isa_default", env);
    for (int i = 0; i < 3; i++) {
        if (old[i])
            setenv(vars[i], old[i], 1);
        else
            unsetenv(vars[i]);
        ck_assert_msg(access(paths[i], F_OK) != 0, "the re-run wrote %s (%s)", paths[i],
                      vars[i]);
        free(old[i]);
        free(paths[i]);
    }
}
END_TEST

Suite *suite_kernels_dispatch(void);
Suite *suite_kernels_dispatch(void)
{
    Suite *s = suite_create("kernels_dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_add_test(tc, test_ref_table_complete);
    tcase_add_test(tc, test_select);
    tcase_add_test(tc, test_select_every_level);
    tcase_add_test(tc, test_rerun_writes_no_parent_log);
    suite_add_tcase(s, tc);
    TCase *env = tcase_create("isa_env");
    tcase_add_test(env, test_isa_env_unknown_level_fails);
    suite_add_tcase(s, env);
    TCase *def = tcase_create("isa_default");
    tcase_add_test(def, test_default_is_best_level);
    suite_add_tcase(s, def);
    return s;
}
