/* libFuzzer target: dataset_open + reading every sample + labels_load,
 * seeded with IDX files (raw and gzip).
 * The entry point lives in fuzz_targets.h (shared with test_fuzz_regress.c). */
#include "fuzz/fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum quanta_status last = QUANTA_OK;
    if (fuzz_dataset(data, size, &last) != 0)
        __builtin_trap(); /* a promised invariant does not hold */
    return 0;
}
