/* Throughput of the int8 GEMM (dense 1024 -> 1024 at batch 256) at every
 * kernel level this CPU has, against the theoretical int8 peak, and of the
 * float dense GEMM of the same size. Not part of `make test` (only
 * tests/ ** /test_*.c are); build and run by hand:
 *
 *   make BUILD=build-$ME LIB=build-$ME/libquanta.a build-$ME/libquanta.a
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc tests/bench/q8_gemm_bench.c \
 *      build-$ME/libquanta.a $(pkg-config --libs libcjson zlib) -lm -pthread -o q8-bench
 *   ./q8-bench [GHz]
 *
 * GHz defaults to the "cpu MHz" of /proc/cpuinfo (often the base clock;
 * pass the sustained AVX-512 clock for a truer peak). One thread.
 *
 * Peaks per core per cycle (ops = 2 per multiply-add), for a core with two
 * 512-bit FMA/VNNI ports (Ice Lake / Sapphire Rapids server):
 *   avx2   vpmaddwd ymm: 16 MAC, 2 per cycle         ->   32 MAC =   64 op
 *   avx512 vpmaddwd zmm: 32 MAC, 2 per cycle         ->   64 MAC =  128 op
 *   vnni   vpdpbusd zmm: 64 MAC, 2 per cycle         ->  128 MAC =  256 op
 *   amx    tdpbusd: 16x16x64 = 16384 MAC / 16 cycles -> 1024 MAC = 2048 op
 *   float  vfmadd zmm: 16 FMA, 2 per cycle           ->   32 FMA =   64 flop
 *          (avx2: 8 FMA x 2 = 32 flop)
 * The int8 sums of avx2/avx512 also need a vpaddd per vpmaddwd on the same
 * ports, so ~half that peak is their practical ceiling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

#define BATCH 256
#define IN 1024
#define OUT 1024

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_ghz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
            break;
    if (f)
        fclose(f);
    return mhz > 0 ? mhz / 1000.0 : 2.0;
}

/* Peak int8 ops per cycle of a level's GEMM (see the top). */
static double q8_peak_per_cycle(const char *level)
{
    if (!strcmp(level, "avx2"))
        return 64;
    if (!strcmp(level, "avx512"))
        return 128;
    if (!strcmp(level, "vnni"))
        return 256;
    if (!strcmp(level, "amx"))
        return 2048;
    return 0;
}

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) {
        fprintf(stderr, "q8-bench: out of memory\n");
        exit(1);
    }
    memset(p, 0, n);
    return p;
}

/* Best time of reps runs (after one warm-up) of fn. */
#define BEST_OF(reps, best, stmt)                                                              \
    do {                                                                                       \
        stmt;                                                                                  \
        best = 1e30;                                                                           \
        for (int rep_ = 0; rep_ < (reps); rep_++) {                                            \
            const double t0_ = now();                                                          \
            stmt;                                                                              \
            const double t_ = now() - t0_;                                                     \
            best = t_ < best ? t_ : best;                                                      \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    const double ghz = argc > 1 ? atof(argv[1]) : cpu_ghz();
    const double ops = 2.0 * BATCH * IN * OUT;
    int8_t *x = xmalloc(BATCH * IN), *w = xmalloc((size_t)IN * OUT), *y = xmalloc(BATCH * OUT);
    int8_t *y_ref = xmalloc(BATCH * OUT);
    int32_t *bias = xmalloc(sizeof(int32_t) * OUT);
    int32_t mult[OUT], shift[OUT];
    unsigned seed = 1;
    for (int i = 0; i < BATCH * IN; i++)
        x[i] = (int8_t)((seed = seed * 1103515245u + 12345u) >> 24);
    for (int i = 0; i < IN * OUT; i++)
        w[i] = (int8_t)((seed = seed * 1103515245u + 12345u) >> 24);
    for (int o = 0; o < OUT; o++) {
        bias[o] = (int32_t)(o * 37) - 20000;
        q8_multiplier_from_double(1.0 / (4096.0 + o), &mult[o], &shift[o]);
    }
    const struct q8_requant rq = {.in_zero_point = 3, .out_zero_point = -5, .qmin = -128,
                                  .qmax = 127, .n = OUT, .multiplier = mult, .shift = shift};
    const struct q8_dense_shape d = {BATCH, IN, OUT};
    printf("int8 dense %dx%d, batch %d (%.0f Mop per run), one thread, %.2f GHz assumed\n", IN,
           OUT, BATCH, ops / 1e6, ghz);
    printf("%-8s %10s %10s %10s %8s\n", "level", "ms", "GOP/s", "peak", "of peak");
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        const struct q8_kernels *k = q8_kernels_for_level((enum kernels_level)l);
        if (!k) {
            printf("%-8s not supported by this cpu\n",
                   kernels_level_name((enum kernels_level)l));
            continue;
        }
        void *packed = xmalloc(k->dense_pack_size(&d));
        const size_t ss = k->dense_scratch_size(&d);
        void *scratch = ss ? xmalloc(ss) : NULL;
        k->dense_pack(&d, w, bias, packed);
        double best;
        const int reps = l == KERNELS_LEVEL_REF ? 1 : 10;
        BEST_OF(reps, best, k->dense_packed(&d, &rq, x, packed, scratch, y));
        if (l == KERNELS_LEVEL_REF)
            memcpy(y_ref, y, BATCH * OUT);
        const int same = memcmp(y, y_ref, BATCH * OUT) == 0;
        const double peak = q8_peak_per_cycle(k->level) * ghz;
        printf("%-8s %10.2f %10.1f", k->level, best * 1e3, ops / best / 1e9);
        if (peak > 0)
            printf(" %10.0f %7.1f%%", peak, 100.0 * ops / best / 1e9 / peak);
        printf("%s\n", same ? "" : "   OUTPUT DIFFERS FROM REF");
        free(packed);
        free(scratch);
    }

    /* the float GEMM of the same size, where the float tables have one */
    float *xf = xmalloc(sizeof(float) * BATCH * IN), *wf = xmalloc(sizeof(float) * IN * OUT);
    float *yf = xmalloc(sizeof(float) * BATCH * OUT);
    for (int i = 0; i < BATCH * IN; i++)
        xf[i] = (float)x[i] / 128.0f;
    for (int i = 0; i < IN * OUT; i++)
        wf[i] = (float)w[i] / 128.0f;
    const struct f32_dense_params fp = {BATCH, IN, OUT, -1e30f, 1e30f};
    printf("float dense, same size\n");
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        const struct f32_kernels *k = f32_kernels_for_level((enum kernels_level)l);
        if (!k || !k->dense_pack || !k->dense_packed)
            continue;
        float *packed = xmalloc(sizeof(float) * k->dense_pack_size(&fp));
        k->dense_pack(&fp, wf, NULL, packed);
        double best;
        BEST_OF(l == KERNELS_LEVEL_REF ? 1 : 5, best, k->dense_packed(&fp, xf, packed, yf));
        const double peak = (l == KERNELS_LEVEL_REF ? 0 : l == KERNELS_LEVEL_AVX2 ? 32 : 64) * ghz;
        printf("%-8s %10.2f %10.1f", k->level, best * 1e3, ops / best / 1e9);
        if (peak > 0)
            printf(" %10.0f %7.1f%%", peak, 100.0 * ops / best / 1e9 / peak);
        printf("\n");
        free(packed);
    }
    free(x), free(w), free(y), free(y_ref), free(bias), free(xf), free(wf), free(yf);
    return 0;
}
