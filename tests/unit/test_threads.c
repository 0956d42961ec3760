/* The runner's threads: the float model of support/speed_cnn.h and its
 * int8 copy give bit-identical outputs (memcmp) with 1, 2 and 3 threads,
 * at batch 1, 5 and 64 (nodes are cut by samples, by output rows at small
 * batches, or by elements; each output element is computed by one thread
 * with the same arithmetic); the pool's parts run on the thread they were
 * given; and the split of a sliding window keeps every window's rows. */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "runtime/threadpool.h"
#include "support/speed_cnn.h"

static const int64_t batches[] = {1, 5, SC_MAX_BATCH};

static void check_threads(const struct graph *g, const char *what)
{
    float *x = malloc(SC_MAX_BATCH * SC_IN * sizeof *x);
    float *want = malloc(SC_MAX_BATCH * SC_OUT * sizeof *want);
    float *got = malloc(SC_MAX_BATCH * SC_OUT * sizeof *got);
    ck_assert(x && want && got);
    sc_input(x, SC_MAX_BATCH * SC_IN);
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++)
        for (int out = 0; out < 2; out++) {
            const int64_t batch = batches[b];
            sc_run(g, 1, SC_MAX_BATCH, batch, x, out, want);
            int differ = 0;
            for (int64_t i = 1; i < batch * SC_OUT; i++)
                differ += want[i] != want[0];
            ck_assert_msg(differ > 0, "%s batch %lld: every output is %g", what,
                          (long long)batch, (double)want[0]);
            for (int threads = 2; threads <= 3; threads++) {
                memset(got, 0xff, SC_MAX_BATCH * SC_OUT * sizeof *got);
                sc_run(g, threads, SC_MAX_BATCH, batch, x, out, got);
                for (int64_t i = 0; i < batch * SC_OUT; i++)
                    ck_assert_msg(memcmp(&got[i], &want[i], sizeof *got) == 0,
                                  "%s, %d threads, batch %lld, output %d, element %lld: %.9g, "
                                  "1 thread %.9g",
                                  what, threads, (long long)batch, out, (long long)i,
                                  (double)got[i], (double)want[i]);
            }
        }
    free(x);
    free(want);
    free(got);
}

START_TEST(test_float_threads_identical)
{
    struct speed_cnn *m = sc_create();
    check_threads(sc_float(m), "float");
    sc_free(m);
}
END_TEST

START_TEST(test_int8_threads_identical)
{
    struct speed_cnn *m = sc_create();
    check_threads(sc_int8(m), "int8");
    sc_free(m);
}
END_TEST

/* ---- the pool ---- */

struct record {
    _Atomic int calls[16];
    int parts_seen[16];
    int thread_seen[16];
};

static void record_part(void *ctx, int part, int parts, int thread)
{
    struct record *r = ctx;
    atomic_fetch_add(&r->calls[part], 1);
    r->parts_seen[part] = parts;
    r->thread_seen[part] = thread;
}

/* Every part runs exactly once, on some thread of the pool, whether there
 * are fewer parts than threads or many more (the threads take turns). */
START_TEST(test_pool_runs_every_part_once)
{
    struct quanta_error err = {0};
    struct threadpool *p = NULL;
    ck_assert_int_eq(threadpool_create(&p, 3, &err), QUANTA_OK);
    ck_assert_int_eq(threadpool_size(p), 3);
    for (int parts = 0; parts <= 16; parts++) {
        for (int rep = 0; rep < 50; rep++) {
            struct record r;
            memset(&r, 0, sizeof r);
            threadpool_run(p, record_part, &r, parts);
            int used = parts < 1 ? 1 : parts;
            for (int i = 0; i < 16; i++) {
                ck_assert_int_eq(atomic_load(&r.calls[i]), i < used ? 1 : 0);
                if (i < used) {
                    ck_assert_int_eq(r.parts_seen[i], used);
                    ck_assert(r.thread_seen[i] >= 0 && r.thread_seen[i] < 3);
                }
            }
        }
    }
    threadpool_free(p);
    /* one thread: every part on the caller, in order */
    ck_assert_int_eq(threadpool_create(&p, 1, &err), QUANTA_OK);
    struct record one;
    memset(&one, 0, sizeof one);
    threadpool_run(p, record_part, &one, 5);
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(atomic_load(&one.calls[i]), i < 5 ? 1 : 0);
        if (i < 5)
            ck_assert_int_eq(one.thread_seen[i], 0);
    }
    threadpool_free(p);
    /* 0: every online core, at least one */
    ck_assert_int_eq(threadpool_create(&p, 0, &err), QUANTA_OK);
    ck_assert_int_ge(threadpool_size(p), 1);
    threadpool_free(p);
}
END_TEST

/* Parts that take 1 ms on a worker make the caller give up polling and
 * sleep until the last part is done; 1 ms gaps between jobs make the
 * workers sleep before the next one. Both sleeps must still see every
 * part run once, with its results visible to the caller. */
static void slow_worker_part(void *ctx, int part, int parts, int thread)
{
    if (thread > 0) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    record_part(ctx, part, parts, thread);
}

START_TEST(test_pool_sleeps_and_wakes)
{
    struct quanta_error err = {0};
    struct threadpool *p = NULL;
    ck_assert_int_eq(threadpool_create(&p, 3, &err), QUANTA_OK);
    for (int rep = 0; rep < 20; rep++) {
        struct record r;
        memset(&r, 0, sizeof r);
        threadpool_run(p, rep % 2 ? slow_worker_part : record_part, &r, 3);
        for (int i = 0; i < 16; i++)
            ck_assert_int_eq(atomic_load(&r.calls[i]), i < 3 ? 1 : 0);
        struct timespec gap = {0, 1000000};
        nanosleep(&gap, NULL);
    }
    threadpool_free(p);
}
END_TEST

/* split_rows: every (sample, output row) pair lands in exactly one piece,
 * in order, and a piece's input rows are those its windows read, shifted:
 * for output row oy of the piece, window row k reads input row
 * oy*stride - pad' + k*dil of the piece = (same global) - iy0. */
START_TEST(test_split_rows_covers_and_shifts)
{
    const struct split_window cases[] = {
        {1, 20, 20, 3, 1, 1, 1},  /* same padding */
        {2, 10, 5, 3, 2, 1, 1},   /* strided */
        {1, 9, 9, 1, 1, 1, 0},    /* 1x1 */
        {3, 12, 8, 3, 1, 2, 0},   /* dilated */
        {1, 4, 6, 3, 1, 1, 2},    /* more padding than rows at the edges */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const struct split_window *w = &cases[c];
        for (int parts = 1; parts <= 7; parts++) {
            int usable = split_rows_parts(w, parts);
            ck_assert_int_ge(usable, 1);
            ck_assert_int_le(usable, parts);
            int64_t next = 0; /* next (sample, row) index expected */
            for (int part = 0; part < usable; part++) {
                struct split_piece pc[3];
                int n = split_rows(w, part, usable, pc);
                ck_assert_int_ge(n, 0);
                ck_assert_int_le(n, 3);
                for (int i = 0; i < n; i++) {
                    ck_assert_int_eq(pc[i].n0 * w->out_h + pc[i].oy0, next);
                    ck_assert(pc[i].batch == 1 || (pc[i].oy0 == 0 && pc[i].out_h == w->out_h));
                    next += pc[i].batch * pc[i].out_h;
                    ck_assert_int_ge(pc[i].iy0, 0);
                    ck_assert_int_ge(pc[i].pad_top, 0);
                    ck_assert_int_le(pc[i].iy0 + pc[i].in_h, w->in_h);
                    for (int64_t oy = 0; oy < pc[i].out_h; oy++)
                        for (int64_t k = 0; k < w->kernel_h; k++) {
                            int64_t global = (pc[i].oy0 + oy) * w->stride_h - w->pad_top +
                                             k * w->dilation_h;
                            int64_t local = oy * w->stride_h - pc[i].pad_top + k * w->dilation_h;
                            bool inside = global >= 0 && global < w->in_h;
                            bool local_in = local >= 0 && local < pc[i].in_h;
                            ck_assert_int_eq(inside, local_in);
                            if (inside)
                                ck_assert_int_eq(local + pc[i].iy0, global);
                        }
                }
            }
            ck_assert_int_eq(next, w->batch * w->out_h);
        }
    }
}
END_TEST

Suite *suite_threads(void);
Suite *suite_threads(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_pool_runs_every_part_once);
    tcase_add_test(tc, test_pool_sleeps_and_wakes);
    tcase_add_test(tc, test_split_rows_covers_and_shifts);
    tcase_add_test(tc, test_float_threads_identical);
    tcase_add_test(tc, test_int8_threads_identical);
    suite_add_tcase(s, tc);
    return s;
}
