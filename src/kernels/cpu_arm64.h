/* What this AArch64 CPU can run, probed once from the kernel's HWCAP words
 * (getauxval AT_HWCAP / AT_HWCAP2: Linux reports only what it enables for
 * user space, so no OS check is needed on top). Off AArch64 every field is
 * false. */
#ifndef QUANTA_CPU_ARM64_H
#define QUANTA_CPU_ARM64_H

#include <stdbool.h>
#include <stddef.h>

struct cpu_arm64 {
    bool asimd;   /* Advanced SIMD (NEON): mandatory in ARMv8-A Linux ABIs */
    bool asimddp; /* dot product, SDOT/UDOT (ARMv8.2, mandatory from 8.4) */
    bool i8mm;    /* int8 matrix multiply, SMMLA/USDOT (ARMv8.6) */
};

/* The probe, made once per process (thread-safe). */
const struct cpu_arm64 *cpu_arm64_get(void);

/* "asimd asimddp i8mm" (as much as fits in size bytes; "none" when
 * nothing). */
void cpu_arm64_describe(char *buf, size_t size);

#endif
