/* Throughput of the packed dense kernel (a GEMM) at every kernel level this
 * CPU runs, single thread. Built and run by scripts/bench_gemm.sh; not
 * part of the library or the tests (timings are never asserted).
 *
 *   bench_gemm [batch in_k out_n [reps]]   default 256 1024 1024 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/kernels.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    size_t batch = 256, in_k = 1024, out_n = 1024;
    int reps = 20;
    if (argc >= 4) {
        batch = strtoul(argv[1], NULL, 10);
        in_k = strtoul(argv[2], NULL, 10);
        out_n = strtoul(argv[3], NULL, 10);
    }
    if (argc >= 5)
        reps = atoi(argv[4]);
    if (!batch || !in_k || !out_n || reps < 1) {
        fprintf(stderr, "usage: bench_gemm [batch in_k out_n [reps]]\n");
        return 2;
    }
    struct f32_dense_params p = {.batch = batch, .in_k = in_k, .out_n = out_n,
                                 .out_min = -1e30f, .out_max = 1e30f};
    float *x = aligned_alloc(64, (batch * in_k * 4 + 63) / 64 * 64);
    float *w = aligned_alloc(64, (out_n * in_k * 4 + 63) / 64 * 64);
    float *b = aligned_alloc(64, (out_n * 4 + 63) / 64 * 64);
    float *y = aligned_alloc(64, (batch * out_n * 4 + 63) / 64 * 64);
    if (!x || !w || !b || !y)
        return 5;
    for (size_t i = 0; i < batch * in_k; i++)
        x[i] = (float)((i * 7919u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < out_n * in_k; i++)
        w[i] = (float)((i * 104729u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < out_n; i++)
        b[i] = 0.01f * (float)i;
    const double flops = 2.0 * (double)batch * (double)in_k * (double)out_n;
    printf("dense batch %zu, in_k %zu, out_n %zu (%.3g GFLOP per run), 1 thread\n", batch, in_k,
           out_n, flops * 1e-9);
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        const struct f32_kernels *k = f32_kernels_for_level((enum kernels_level)l);
        if (!k) {
            printf("%-7s not supported by this cpu\n", kernels_level_name((enum kernels_level)l));
            continue;
        }
        size_t n = k->dense_pack_size(&p);
        float *packed = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
        if (!packed)
            return 5;
        k->dense_pack(&p, w, b, packed);
        int r = l == KERNELS_LEVEL_REF ? (reps + 9) / 10 : reps;
        k->dense_packed(&p, x, packed, y); /* warm-up */
        double best = 1e30;
        for (int i = 0; i < r; i++) {
            double t0 = now();
            k->dense_packed(&p, x, packed, y);
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        printf("%-7s %8.2f ms  %7.1f GFLOP/s (best of %d)\n", k->level, best * 1e3,
               flops / best * 1e-9, r);
        free(packed);
    }
    free(x);
    free(w);
    free(b);
    free(y);
    return 0;
}
