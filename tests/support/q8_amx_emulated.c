/* q8_amx_emulated: the VNNI check in a file built without ISA flags, since
 * the compiler may use AVX-512 anywhere in q8_amx_emulated_vnni.c (it did:
 * zmm stores before the check, an illegal instruction on AVX2 CPUs). */
#include "support/q8_amx_emulated.h"

#if defined(__x86_64__)
const struct q8_kernels *q8_amx_emulated(void)
{
    const struct q8_kernels *vnni = q8_kernels_for_level(KERNELS_LEVEL_VNNI);
    return vnni ? q8_amx_emulated_vnni_table(vnni) : NULL;
}
#endif
