/* The x86 CPU probe: cpuid leaves 1 and 7, and XCR0 through xgetbv.
 * Bit positions are those of the Intel SDM (CPUID leaf 7 sub-leaf 0 and
 * the XSAVE state components). */
#include "kernels/cpu_x86.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPU_X86 1
#else
#define CPU_X86 0
#endif

static struct cpu_x86 features;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

#if CPU_X86
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static bool bit(uint32_t word, int b)
{
    return (word >> b) & 1u;
}
#endif

static void probe(void)
{
#if CPU_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    /* leaf 1 ecx: 12 FMA, 27 OSXSAVE, 28 AVX, 29 F16C */
    bool osxsave = bit(c, 27), avx = bit(c, 28);
    bool fma = bit(c, 12), f16c = bit(c, 29);
    if (!osxsave || !avx)
        return;
    uint64_t xcr0 = read_xcr0();
    bool os_ymm = (xcr0 & 0x6) == 0x6;           /* SSE (1) + AVX (2) state */
    bool os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0; /* opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7) */
    bool os_amx = (xcr0 & 0x60000) == 0x60000;   /* XTILECFG (17), XTILEDATA (18) */
    if (__get_cpuid_max(0, NULL) < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    /* leaf 7.0 ebx: 5 AVX2, 16 AVX512F, 17 AVX512DQ, 30 AVX512BW, 31 AVX512VL;
     * ecx: 11 AVX512_VNNI; edx: 22 AMX-BF16, 24 AMX-TILE, 25 AMX-INT8 */
    if (os_ymm) {
        features.avx2 = bit(b, 5);
        features.fma = fma;
        features.f16c = f16c;
    }
    if (os_zmm) {
        features.avx512f = bit(b, 16);
        features.avx512dq = bit(b, 17);
        features.avx512bw = bit(b, 30);
        features.avx512vl = bit(b, 31);
        features.avx512vnni = features.avx512f && bit(c, 11);
    }
    if (os_amx) {
        features.amx_tile = bit(d, 24);
        features.amx_int8 = features.amx_tile && bit(d, 25);
        features.amx_bf16 = features.amx_tile && bit(d, 22);
    }
#endif
}

const struct cpu_x86 *cpu_x86_get(void)
{
    pthread_once(&probe_once, probe);
    return &features;
}

void cpu_x86_describe(char *buf, size_t size)
{
    const struct cpu_x86 *f = cpu_x86_get();
    const struct {
        bool on;
        const char *name;
    } list[] = {
        {f->avx2 && f->fma, "avx2"},
        {f->avx512f, "avx512f"},
        {f->avx512bw && f->avx512dq && f->avx512vl, "avx512bw/dq/vl"},
        {f->avx512vnni, "avx512vnni"},
        {f->amx_tile && f->amx_int8, "amx"},
    };
    if (!size)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        if (!list[i].on)
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", list[i].name);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (!used)
        snprintf(buf, size, "none");
}
