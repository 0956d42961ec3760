/* What this x86 CPU (and the operating system) can run, probed once.
 *
 * A feature counts only when the CPU reports it (cpuid) AND the OS saves
 * the register state it needs (xgetbv XCR0): YMM for AVX2, opmask + ZMM
 * for AVX-512, XTILECFG + XTILEDATA for AMX. On Linux, AMX tile data also
 * needs per-process permission (arch_prctl ARCH_REQ_XCOMP_PERM with
 * XFEATURE_XTILEDATA = 18) before the first tile instruction; this probe
 * only detects, the int8 AMX code asks for that permission. Off x86 every
 * field is false. */
#ifndef QUANTA_CPU_X86_H
#define QUANTA_CPU_X86_H

#include <stdbool.h>
#include <stddef.h>

struct cpu_x86 {
    bool avx2, fma, f16c;                       /* with OS YMM state */
    bool avx512f, avx512bw, avx512dq, avx512vl; /* with OS opmask/ZMM state */
    bool avx512vnni;
    bool amx_tile, amx_int8, amx_bf16;          /* with OS tile state in XCR0 */
};

/* The probe, made once per process (thread-safe). */
const struct cpu_x86 *cpu_x86_get(void);

/* A short list of the features found, for --version:
 * "avx2 avx512f avx512vnni amx" (as much as fits in size bytes; "none"
 * when nothing beyond the baseline). */
void cpu_x86_describe(char *buf, size_t size);

#endif
