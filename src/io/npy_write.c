/* NPY writer: version 1.0 header, C order, little-endian, with the header
 * padded by spaces and a final newline so the data starts at a multiple of
 * 64 bytes (numpy's own alignment), written through safe_file. */
#include "quanta/data.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"
#include "quanta/safe_file.h"

#define NPY_ALIGN 64

enum quanta_status npy_write(const char *path, enum quanta_dtype dtype,
                             const struct quanta_shape *shape, const void *data,
                             struct quanta_error *err)
{
    const char *descr = io_npy_descr(dtype);
    if (!descr)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: NPY files of %s are not supported",
                           path, quanta_dtype_name(dtype));
    if (shape->rank < 0 || shape->rank > QUANTA_MAX_RANK)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: invalid shape", path);
    int64_t numel = quanta_shape_numel(shape);
    size_t esize = quanta_dtype_size(dtype);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / esize)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: invalid shape", path);
    if (!data && numel > 0)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: no data", path);

    /* 10 (preamble) + dict (<= ~250 bytes for rank 8) + padding */
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < shape->rank; i++)
        n += snprintf(header + n, sizeof header - (size_t)n, i ? ", %" PRId64 : "%" PRId64,
                      shape->dims[i]);
    n += snprintf(header + n, sizeof header - (size_t)n, shape->rank == 1 ? ",), }" : "), }");
    size_t total = 10 + (size_t)n + 1; /* + the newline */
    size_t padded = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = padded - 10;
    memset(header + n, ' ', hlen - 1 - (size_t)n);
    header[hlen - 1] = '\n';

    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    struct safe_file f;
    enum quanta_status st = safe_file_open(&f, path, err);
    if (st != QUANTA_OK)
        return st;
    st = safe_file_write(&f, pre, sizeof pre, err);
    if (st == QUANTA_OK)
        st = safe_file_write(&f, header, hlen, err);
    if (st == QUANTA_OK)
        st = safe_file_write(&f, data, (size_t)numel * esize, err);
    if (st != QUANTA_OK) {
        safe_file_abort(&f);
        return st;
    }
    return safe_file_commit(&f, err);
}
