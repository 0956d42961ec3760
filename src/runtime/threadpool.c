/* The runner's worker threads (threadpool.h). A job is published by
 * bumping an atomic generation counter; workers and the caller spin on the
 * counters for a short while (SPIN_NS) before they sleep on a condition
 * variable. The jobs of one inference follow each other within
 * microseconds, and a futex wake-up costs tens of them and lets the
 * scheduler move the woken thread, so sleeping between jobs halved the
 * gain of a second thread. Sleeping after the spin keeps an idle runner
 * from burning a core. */
#include "runtime/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* How long a thread polls before it sleeps: a few times the gap between
 * two jobs of one inference, far below a scheduler tick. */
#define SPIN_NS 200000

struct worker {
    struct threadpool *pool;
    int index;             /* its part number, >= 1 */
};

struct threadpool {
    int size;              /* threads in all, the caller included */
    int started;           /* workers created (size - 1 after a full create) */
    pthread_t *tids;       /* [size - 1] */
    struct worker *workers;
    pthread_mutex_t mutex; /* guards the sleeps on start and done */
    pthread_cond_t start, done;
    _Atomic uint64_t generation; /* bumped per job (release: fn, ctx, parts) */
    _Atomic int pending;   /* workers still running the current job */
    /* Thread t owns parts [t * parts / size, (t + 1) * parts / size):
     * next[t] is the next of them to take, end[t] the end. */
    _Atomic int *next;
    int *end;
    _Atomic bool stop;
    threadpool_fn fn;
    void *ctx;
    int parts;
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Polls until `*gen` differs from `seen` or stop is set, at most SPIN_NS;
 * true when it did. The clock is read every 64 polls only. */
static bool spin_for_job(struct threadpool *p, uint64_t seen)
{
    const int64_t until = now_ns() + SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
            atomic_load_explicit(&p->stop, memory_order_relaxed))
            return true;
        cpu_relax();
        if (i % 64 == 0 && now_ns() > until)
            return false;
    }
}

/* Runs parts of the current job until none is left: the thread's own
 * parts first (the same samples or rows in every node, so its caches keep
 * them), then what is left of the others', which only a thread that fell
 * behind still has. */
static void take_parts(struct threadpool *p, int thread)
{
    for (int k = 0; k < p->size; k++) {
        const int t = (thread + k) % p->size;
        for (;;) {
            const int part = atomic_fetch_add_explicit(&p->next[t], 1, memory_order_relaxed);
            if (part >= p->end[t])
                break;
            p->fn(p->ctx, part, p->parts, thread);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct threadpool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_for_job(p, seen)) {
            pthread_mutex_lock(&p->mutex);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->start, &p->mutex);
            pthread_mutex_unlock(&p->mutex);
        }
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        take_parts(p, w->index);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mutex);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mutex);
        }
    }
    return NULL;
}

enum quanta_status threadpool_create(struct threadpool **out, int threads,
                                     struct quanta_error *err)
{
    *out = NULL;
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (int)(cores < 1024 ? cores : 1024) : 1;
    }
    struct threadpool *p = calloc(1, sizeof *p);
    if (!p)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory for threads");
    p->size = threads;
    if (threads == 1) {
        *out = p;
        return QUANTA_OK;
    }
    p->tids = calloc((size_t)threads - 1, sizeof *p->tids);
    p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
    p->next = calloc((size_t)threads, sizeof *p->next);
    p->end = calloc((size_t)threads, sizeof *p->end);
    if (!p->tids || !p->workers || !p->next || !p->end) {
        free(p->next);
        free(p->end);
        free(p->tids);
        free(p->workers);
        free(p);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory for threads");
    }
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < threads - 1; i++) {
        p->workers[i] = (struct worker){p, i + 1};
        if (pthread_create(&p->tids[i], NULL, worker_main, &p->workers[i]) != 0) {
            threadpool_free(p);
            return quanta_fail(err, QUANTA_ERR_NOMEM, "runner: cannot start thread %d of %d",
                               i + 2, threads);
        }
        p->started++;
    }
    *out = p;
    return QUANTA_OK;
}

void threadpool_free(struct threadpool *p)
{
    if (!p)
        return;
    if (p->size > 1) {
        pthread_mutex_lock(&p->mutex);
        atomic_store(&p->stop, true);
        pthread_cond_broadcast(&p->start);
        pthread_mutex_unlock(&p->mutex);
        for (int i = 0; i < p->started; i++)
            pthread_join(p->tids[i], NULL);
        pthread_mutex_destroy(&p->mutex);
        pthread_cond_destroy(&p->start);
        pthread_cond_destroy(&p->done);
    }
    free(p->tids);
    free(p->workers);
    free(p->next);
    free(p->end);
    free(p);
}

int threadpool_size(const struct threadpool *p)
{
    return p ? p->size : 1;
}

void threadpool_run(struct threadpool *p, threadpool_fn fn, void *ctx, int parts)
{
    int size = threadpool_size(p);
    if (parts < 1)
        parts = 1;
    if (parts == 1 || size == 1 || p->started < size - 1) {
        for (int i = 0; i < parts; i++)
            fn(ctx, i, parts, 0);
        return;
    }
    /* The workers are idle (pending == 0), so the plain fields are free. */
    p->fn = fn;
    p->ctx = ctx;
    p->parts = parts;
    for (int t = 0; t < size; t++) {
        atomic_store_explicit(&p->next[t], (int)((int64_t)parts * t / size),
                              memory_order_relaxed);
        p->end[t] = (int)((int64_t)parts * (t + 1) / size);
    }
    atomic_store_explicit(&p->pending, p->started, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    /* Under the mutex: a worker that checked the counter and is about to
     * sleep holds it, so it cannot miss this broadcast. */
    pthread_mutex_lock(&p->mutex);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mutex);
    take_parts(p, 0);
    const int64_t until = now_ns() + SPIN_NS;
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() > until) {
            pthread_mutex_lock(&p->mutex);
            while (atomic_load(&p->pending) > 0)
                pthread_cond_wait(&p->done, &p->mutex);
            pthread_mutex_unlock(&p->mutex);
            break;
        }
    }
}

/* ---- split_rows ---- */

/* Rows [oy0, oy1) of sample n (or whole samples when rows is all of them). */
static int piece_of(const struct split_window *w, int64_t n0, int64_t batch, int64_t oy0,
                    int64_t oy1, struct split_piece *pc)
{
    *pc = (struct split_piece){.n0 = n0, .batch = batch, .oy0 = oy0, .out_h = oy1 - oy0};
    if (oy0 == 0 && oy1 == w->out_h) {
        pc->iy0 = 0;
        pc->in_h = w->in_h;
        pc->pad_top = w->pad_top;
        return 0;
    }
    const int64_t first = oy0 * w->stride_h - w->pad_top; /* first row the windows read */
    const int64_t last = (oy1 - 1) * w->stride_h - w->pad_top +
                         (w->kernel_h - 1) * w->dilation_h; /* the last */
    const int64_t start = first > 0 ? first : 0;
    const int64_t end = last + 1 < w->in_h ? last + 1 : w->in_h;
    if (end <= start)
        return -1;
    pc->iy0 = start;
    pc->in_h = end - start;
    pc->pad_top = start - first;
    return 0;
}

int split_rows(const struct split_window *w, int part, int parts, struct split_piece piece[3])
{
    if (parts < 1)
        parts = 1;
    if (w->batch >= parts) {
        const int64_t n0 = w->batch * part / parts, n1 = w->batch * (part + 1) / parts;
        if (n1 == n0)
            return 0;
        return piece_of(w, n0, n1 - n0, 0, w->out_h, &piece[0]) < 0 ? -1 : 1;
    }
    const int64_t total = w->batch * w->out_h;
    const int64_t begin = total * part / parts, end = total * (part + 1) / parts;
    int count = 0;
    int64_t i = begin;
    while (i < end) {
        const int64_t n = i / w->out_h, oy = i % w->out_h;
        int64_t stop;
        if (oy == 0 && end - i >= w->out_h) { /* whole samples */
            const int64_t samples = (end - i) / w->out_h;
            if (piece_of(w, n, samples, 0, w->out_h, &piece[count]) < 0)
                return -1;
            stop = i + samples * w->out_h;
        } else {
            const int64_t rows_end = end - n * w->out_h < w->out_h ? end - n * w->out_h : w->out_h;
            if (piece_of(w, n, 1, oy, rows_end, &piece[count]) < 0)
                return -1;
            stop = n * w->out_h + rows_end;
        }
        count++;
        i = stop;
    }
    return count;
}

int split_rows_parts(const struct split_window *w, int parts)
{
    struct split_piece pc[3];
    const int64_t total = w->batch * w->out_h;
    if (parts > total)
        parts = total > 0 ? (int)total : 1;
    for (int p = 0; p < parts && parts > 1; p++)
        if (split_rows(w, p, parts, pc) < 0)
            return 1;
    return parts < 1 ? 1 : parts;
}
