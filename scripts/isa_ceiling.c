/* Port-throughput ceiling of one core: long loops of independent
 * multiply-accumulate steps (12 accumulators, no loads), timed with
 * CLOCK_THREAD_CPUTIME_ID, median of REPS runs. Prints GMAC/s per step
 * and the int8/float ratio: the best speed-up an int8 GEMM built on that
 * step can have over a float GEMM built on FMA, at the same clock.
 * Built by scripts/isa_ceiling.sh (gcc -O2 -mavx2 -mfma). */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REPS 7
#define ITERS 20000000L /* loop trips; 12 steps each */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 12 ymm accumulators (ymm0-11), the operands in ymm12-15. */
#define ACC12(body) body(0) body(1) body(2) body(3) body(4) body(5) \
                    body(6) body(7) body(8) body(9) body(10) body(11)
#define CLOBBER12 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
                  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

/* float: one vfmadd231ps ymm = 8 MACs. */
static double loop_fma(long n)
{
#define S(i) "vfmadd231ps %%ymm12, %%ymm13, %%ymm" #i "\n\t"
    __asm__ volatile("vxorps %%ymm12, %%ymm12, %%ymm12\n\tvxorps %%ymm13, %%ymm13, %%ymm13\n\t"
                     "1:\n\t" ACC12(S) "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n) : : CLOBBER12, "cc");
#undef S
    return 8.0 * 12;
}

/* exact int8 step used by the AVX2 GEMM: int16 pairs (x - zx, w),
 * vpmaddwd into a temporary, vpaddd into the int32 accumulator = 16 MACs.
 * Odd accumulators use ymm14, even ymm15 as the temporary (register
 * renaming removes the false dependency). */
static double loop_maddwd(long n)
{
#define T(i) "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n\tvpaddd %%ymm14, %%ymm" #i ", %%ymm" #i "\n\t"
    __asm__ volatile("vpxor %%ymm12, %%ymm12, %%ymm12\n\tvpxor %%ymm13, %%ymm13, %%ymm13\n\t"
                     "1:\n\t" ACC12(T) "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n) : : CLOBBER12, "cc");
#undef T
    return 16.0 * 12;
}

/* NOT exact on full-range u8 x s8 (the int16 pair sum saturates); the
 * ceiling a vpmaddubsw kernel would have: vpmaddubsw, vpmaddwd by ones,
 * vpaddd = 32 MACs. */
static double loop_maddubsw(long n)
{
#define T(i) "vpmaddubsw %%ymm12, %%ymm13, %%ymm14\n\tvpmaddwd %%ymm15, %%ymm14, %%ymm14\n\t" \
             "vpaddd %%ymm14, %%ymm" #i ", %%ymm" #i "\n\t"
    __asm__ volatile("vpxor %%ymm12, %%ymm12, %%ymm12\n\tvpxor %%ymm13, %%ymm13, %%ymm13\n\t"
                     "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                     "1:\n\t" ACC12(T) "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n) : : CLOBBER12, "cc");
#undef T
    return 32.0 * 12;
}

/* exact u8 x s8 by nibbles: a = 16*ah + al, each vpmaddubsw pair sum is
 * at most 2*15*128 = 3840, so 8 steps add up in int16 (vpaddw) before one
 * widening vpmaddwd (by 16 or 1) + vpaddd per half. Steady state of 8
 * steps = 8 * 32 MACs: 16 vpmaddubsw, 16 vpaddw, 2 vpmaddwd, 2 vpaddd.
 * Accumulators: ymm0-5 int16 (lo, hi) x 3 columns, ymm6-8 int32. */
static double loop_nibble(long n)
{
#define P(l, h) "vpmaddubsw %%ymm12, %%ymm13, %%ymm14\n\t"                   \
                "vpaddw %%ymm14, %%ymm" #l ", %%ymm" #l "\n\t"                 \
                "vpmaddubsw %%ymm12, %%ymm13, %%ymm14\n\t"                   \
                "vpaddw %%ymm14, %%ymm" #h ", %%ymm" #h "\n\t"
#define STEP P(0, 1) P(2, 3) P(4, 5)
#define W(l, h, d) "vpmaddwd %%ymm15, %%ymm" #l ", %%ymm14\n\t"             \
                   "vpaddd %%ymm14, %%ymm" #d ", %%ymm" #d "\n\t"             \
                   "vpmaddwd %%ymm15, %%ymm" #h ", %%ymm14\n\t"             \
                   "vpaddd %%ymm14, %%ymm" #d ", %%ymm" #d "\n\t"
    __asm__ volatile("vpxor %%ymm12, %%ymm12, %%ymm12\n\tvpxor %%ymm13, %%ymm13, %%ymm13\n\t"
                     "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                     "1:\n\t" STEP STEP STEP STEP STEP STEP STEP STEP
                     W(0, 1, 6) W(2, 3, 7) W(4, 5, 8) "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n) : : CLOBBER12, "cc");
#undef P
#undef STEP
#undef W
    return 8.0 * 3 * 32;
}

/* References beyond AVX2: vpdpbusd (u8 x s8 -> s32, 4 products per lane,
 * exact), ymm (AVX-VNNI / AVX512VL) = 32 MACs, zmm = 64 MACs. */
__attribute__((target("avx512f,avx512vl,avx512vnni"))) static double loop_dpbusd_ymm(long n)
{
#define S(i) "vpdpbusd %%ymm12, %%ymm13, %%ymm" #i "\n\t"
    __asm__ volatile("vpxor %%ymm12, %%ymm12, %%ymm12\n\tvpxor %%ymm13, %%ymm13, %%ymm13\n\t"
                     "1:\n\t" ACC12(S) "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n) : : CLOBBER12, "cc");
#undef S
    return 32.0 * 12;
}

__attribute__((target("avx512f,avx512vnni"))) static double loop_dpbusd_zmm(long n)
{
#define S(i) "vpdpbusd %%zmm12, %%zmm13, %%zmm" #i "\n\t"
    __asm__ volatile("vpxorq %%zmm12, %%zmm12, %%zmm12\n\tvpxorq %%zmm13, %%zmm13, %%zmm13\n\t"
                     "1:\n\t" ACC12(S) "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n) : : CLOBBER12, "cc");
#undef S
    return 64.0 * 12;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median GMAC/s of REPS timed runs of fn. */
static double gmacs(double (*fn)(long))
{
    double r[REPS];
    fn(ITERS / 20); /* warm up (clock, power state of the vector units) */
    for (int i = 0; i < REPS; i++) {
        const double t0 = now();
        const double macs = fn(ITERS) * (double)ITERS;
        r[i] = macs / (now() - t0) * 1e-9;
    }
    qsort(r, REPS, sizeof r[0], cmp_double);
    return r[REPS / 2];
}

int main(void)
{
    __builtin_cpu_init();
    const double f = gmacs(loop_fma);
    const double w = gmacs(loop_maddwd);
    printf("f32  vfmadd231ps ymm                          %7.1f GMAC/s\n", f);
    printf("s16  vpmaddwd+vpaddd ymm (exact, used)         %7.1f GMAC/s  int8/float %.2fx\n", w,
           w / f);
    const double nb = gmacs(loop_nibble);
    printf("u8s8 vpmaddubsw nibble split (exact)           %7.1f GMAC/s  int8/float %.2fx\n", nb,
           nb / f);
    const double ub = gmacs(loop_maddubsw);
    printf("u8s8 vpmaddubsw+vpmaddwd+vpaddd (saturates!)   %7.1f GMAC/s  int8/float %.2fx\n", ub,
           ub / f);
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")) {
        const double vy = gmacs(loop_dpbusd_ymm), vz = gmacs(loop_dpbusd_zmm);
        printf("ref  vpdpbusd ymm (not AVX2)                   %7.1f GMAC/s  int8/float %.2fx\n",
               vy, vy / f);
        printf("ref  vpdpbusd zmm (not AVX2)                   %7.1f GMAC/s  int8/float %.2fx\n",
               vz, vz / f);
    } else {
        printf("ref  vpdpbusd: this CPU has no AVX512-VNNI\n");
    }
    return 0;
}
