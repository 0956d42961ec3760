/* The AArch64 CPU probe: HWCAP bits as the Linux uapi
 * (arch/arm64/include/uapi/asm/hwcap.h) numbers them. */
#include "kernels/cpu_arm64.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#define CPU_ARM64 1
#else
#define CPU_ARM64 0
#endif

static struct cpu_arm64 features;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
#if CPU_ARM64
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    /* AT_HWCAP: 1 ASIMD, 20 ASIMDDP; AT_HWCAP2: 13 I8MM */
    features.asimd = (hw >> 1) & 1u;
    features.asimddp = features.asimd && ((hw >> 20) & 1u);
    features.i8mm = features.asimd && ((hw2 >> 13) & 1u);
#endif
}

const struct cpu_arm64 *cpu_arm64_get(void)
{
    pthread_once(&probe_once, probe);
    return &features;
}

void cpu_arm64_describe(char *buf, size_t size)
{
    const struct cpu_arm64 *f = cpu_arm64_get();
    if (!size)
        return;
    int n = snprintf(buf, size, "%s%s%s", f->asimd ? " asimd" : "", f->asimddp ? " asimddp" : "",
                     f->i8mm ? " i8mm" : "");
    if (n <= 0)
        snprintf(buf, size, "none");
    else
        memmove(buf, buf + 1, strlen(buf)); /* the leading space */
}
