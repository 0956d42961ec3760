/* IDX files (the MNIST family), raw or gzip-compressed.
 *
 * Layout: magic 0x00 0x00 <type> <ndims>, then ndims big-endian uint32
 * dims, then the elements in C order. Only byte elements are supported:
 * type 0x08 (unsigned) and 0x09 (signed); 3-dim images [N,H,W] are given as
 * samples [H,W,1].
 *
 * Size check: a raw file must be exactly header + prod(dims) bytes. A gzip
 * file's trailer ISIZE (uncompressed size mod 2^32) must match that before
 * any data is read, and the promised size must be one that deflate can
 * reach from the file's size (at most 1032 bytes out per byte in: a
 * 258-byte match coded in 2 bits), so a small file cannot claim a huge
 * shape (which callers would allocate for) by faking its trailer; data
 * that ends early is an error when it is read. Only single-member gzip
 * files pass the ISIZE check. Reading is sequential; a read before the
 * current position rewinds and skips forward. */
#include "quanta/data.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/io_internal.h"

#define GZ_STEP (1u << 30) /* largest single gzread */
#define DEFLATE_MAX_RATIO 1032u /* 258 bytes from a 1-bit length + 1-bit distance code */
#define SKIP_BUFFER (64u * 1024u)

struct idx_source {
    struct dataset_source base;
    FILE *fp;            /* raw file, or */
    gzFile gz;           /* gzip stream */
    uint64_t pos;        /* gzip: uncompressed offset of the next byte */
    uint64_t data_offset;
    size_t sample_bytes;
    unsigned char *skip; /* gzip: buffer for skipping forward */
};

static void idx_close(struct dataset_source *base)
{
    struct idx_source *s = (struct idx_source *)base;
    if (s->fp)
        fclose(s->fp);
    if (s->gz)
        gzclose(s->gz);
    free(s->skip);
    free(s);
}

/* zlib's gzerror() message starts with "<path>: "; drop that. */
static const char *gz_message(gzFile gz, const char *path)
{
    int code;
    const char *msg = gzerror(gz, &code);
    if (code == Z_ERRNO)
        return strerror(errno);
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

/* Reads exactly n bytes at the current position. */
static enum quanta_status idx_read_bytes(struct idx_source *s, const char *path, void *buf,
                                         size_t n, struct quanta_error *err)
{
    unsigned char *p = buf;
    size_t got = 0;
    if (s->fp) {
        got = fread(p, 1, n, s->fp);
        if (got != n) {
            if (ferror(s->fp))
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot read: %s", path,
                                   strerror(errno));
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: data ends early (truncated file)",
                               path);
        }
        return QUANTA_OK;
    }
    while (got < n) {
        unsigned step = n - got > GZ_STEP ? GZ_STEP : (unsigned)(n - got);
        int r = gzread(s->gz, p + got, step);
        if (r < 0)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: corrupt gzip data: %s", path,
                               gz_message(s->gz, path));
        got += (size_t)r;
        s->pos += (uint64_t)r;
        if ((unsigned)r < step) {
            int code;
            gzerror(s->gz, &code);
            if (code != Z_OK && code != Z_BUF_ERROR)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: corrupt gzip data: %s", path,
                                   gz_message(s->gz, path));
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: gzip data ends early (truncated file)", path);
        }
    }
    return QUANTA_OK;
}

static enum quanta_status idx_read(struct dataset_source *base, const struct dataset *ds,
                                   int64_t start, int64_t count, void *raw,
                                   struct quanta_error *err)
{
    struct idx_source *s = (struct idx_source *)base;
    uint64_t target = s->data_offset + (uint64_t)start * s->sample_bytes;
    size_t n = (size_t)count * s->sample_bytes;
    if (s->fp) {
        if (fseeko(s->fp, (off_t)target, SEEK_SET) != 0)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot seek: %s", ds->path,
                               strerror(errno));
        return idx_read_bytes(s, ds->path, raw, n, err);
    }
    if (target < s->pos) {
        if (gzrewind(s->gz) != 0)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot rewind the gzip stream",
                               ds->path);
        s->pos = 0;
    }
    if (target > s->pos && !s->skip && !(s->skip = malloc(SKIP_BUFFER)))
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", ds->path);
    while (target > s->pos) {
        uint64_t left = target - s->pos;
        size_t step = left > SKIP_BUFFER ? SKIP_BUFFER : (size_t)left;
        enum quanta_status st = idx_read_bytes(s, ds->path, s->skip, step, err);
        if (st != QUANTA_OK)
            return st;
    }
    return idx_read_bytes(s, ds->path, raw, n, err);
}

static const char *idx_type_name(unsigned type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0b: return "short";
    case 0x0c: return "int";
    case 0x0d: return "float";
    case 0x0e: return "double";
    default: return NULL;
    }
}

/* Reads the gzip trailer's ISIZE and the compressed (file) size. */
static enum quanta_status gzip_trailer(const char *path, uint32_t *isize, uint64_t *file_size,
                                       struct quanta_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char t[4];
    /* 10-byte header + 8-byte trailer at the least */
    off_t end = -1;
    bool ok = fseeko(f, 0, SEEK_END) == 0 && (end = ftello(f)) >= 18 &&
              fseeko(f, -4, SEEK_END) == 0 && fread(t, 1, 4, f) == 4;
    fclose(f);
    if (!ok)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: gzip file is truncated", path);
    *file_size = (uint64_t)end;
    *isize = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    return QUANTA_OK;
}

/* Decompresses the first n bytes of a gzip file with inflate, which stops
 * when its output is full, so the IDX header can be checked against the
 * trailer before the stream proper is read (gzread would buffer ahead and
 * may verify the trailer itself). *got is less than n if the stream is. */
static enum quanta_status gzip_peek(const char *path, unsigned char *out, size_t n, size_t *got,
                                    struct quanta_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        fclose(f);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for gzip", path);
    }
    unsigned char in[512];
    z.next_out = out;
    z.avail_out = (uInt)n;
    int rc = Z_OK;
    while (z.avail_out > 0 && rc == Z_OK) {
        if (z.avail_in == 0) {
            size_t r = fread(in, 1, sizeof in, f);
            if (r == 0)
                break;
            z.next_in = in;
            z.avail_in = (uInt)r;
        }
        rc = inflate(&z, Z_NO_FLUSH);
    }
    *got = n - z.avail_out;
    enum quanta_status st = QUANTA_OK;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: corrupt gzip data: %s", path,
                         z.msg ? z.msg : "inflate failed");
    inflateEnd(&z);
    fclose(f);
    return st;
}

enum quanta_status dataset_open_idx(struct dataset *ds, bool gzip, struct dataset_source **out,
                                    struct quanta_error *err)
{
    const char *path = ds->path;
    enum quanta_status st;
    *out = NULL;
    struct idx_source *s = calloc(1, sizeof *s);
    if (!s)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    s->base.read = idx_read;
    s->base.close = idx_close;
    uint32_t isize = 0;
    uint64_t gz_size = 0;
    unsigned char head[4 + 4 * QUANTA_MAX_RANK];
    size_t got = 0;
    if (gzip) {
        st = gzip_trailer(path, &isize, &gz_size, err);
        if (st == QUANTA_OK)
            st = gzip_peek(path, head, 4, &got, err);
        if (st == QUANTA_OK && got == 4 && head[3] >= 1 && head[3] <= QUANTA_MAX_RANK)
            st = gzip_peek(path, head, 4 + 4 * (size_t)head[3], &got, err);
        if (st != QUANTA_OK)
            goto fail;
    } else {
        s->fp = fopen(path, "rb");
        if (!s->fp) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path,
                             strerror(errno));
            goto fail;
        }
        got = fread(head, 1, 4, s->fp);
        if (got == 4 && head[3] >= 1 && head[3] <= QUANTA_MAX_RANK)
            got += fread(head + 4, 1, 4 * (size_t)head[3], s->fp);
    }
    if (got < 4) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: data ends early in the IDX header", path);
        goto fail;
    }
    const unsigned char *magic = head;
    uint32_t magic_value = (uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 |
                           (uint32_t)magic[2] << 8 | magic[3];
    const char *type_name = idx_type_name(magic[2]);
    if (magic[0] != 0 || magic[1] != 0 || !type_name) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: not an IDX file (magic 0x%08" PRIx32 ")",
                         path, magic_value);
        goto fail;
    }
    if (magic[2] != 0x08 && magic[2] != 0x09) {
        st = quanta_fail(err, QUANTA_ERR_INPUT,
                         "%s: IDX element type 0x%02x (%s) is not supported, only bytes (0x08, "
                         "0x09)",
                         path, magic[2], type_name);
        goto fail;
    }
    int ndims = magic[3];
    if (ndims < 1 || ndims > QUANTA_MAX_RANK) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: IDX file has %d dimensions (1 to %d allowed)",
                         path, ndims, QUANTA_MAX_RANK);
        goto fail;
    }
    if (got < 4 + 4 * (size_t)ndims) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: data ends early in the IDX header", path);
        goto fail;
    }
    const unsigned char *dim_bytes = head + 4;
    struct quanta_shape full = {.rank = ndims};
    for (int i = 0; i < ndims; i++) {
        const unsigned char *b = dim_bytes + 4 * i;
        full.dims[i] = (int64_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                                 (uint32_t)b[2] << 8 | b[3]);
    }
    char shape_text[128];
    quanta_shape_format(&full, shape_text, sizeof shape_text);
    int64_t numel = quanta_shape_numel(&full);
    uint64_t header = 4 + 4 * (uint64_t)ndims;
    if (numel < 0 || (uint64_t)numel > UINT64_MAX - header) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: IDX shape %s is too large", path,
                         shape_text);
        goto fail;
    }
    uint64_t promised = header + (uint64_t)numel;
    if (gzip) {
        if ((uint32_t)promised != isize) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: gzip trailer says %" PRIu32 " bytes uncompressed (mod 2^32) "
                             "but the IDX header %s promises %" PRIu64,
                             path, isize, shape_text, promised);
            goto fail;
        }
        if (promised / DEFLATE_MAX_RATIO > gz_size) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: gzip file of %" PRIu64 " bytes cannot hold the %" PRIu64
                             " bytes the IDX header %s promises (deflate expands at most %u:1)",
                             path, gz_size, promised, shape_text, DEFLATE_MAX_RATIO);
            goto fail;
        }
    } else {
        struct stat sb = {0};
        if (fstat(fileno(s->fp), &sb) != 0 || (uint64_t)sb.st_size != promised) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: file is %lld bytes but the IDX header %s promises %" PRIu64,
                             path, (long long)sb.st_size, shape_text, promised);
            goto fail;
        }
    }

    if (gzip) {
        s->gz = gzopen(path, "rb");
        if (!s->gz) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path,
                             errno ? strerror(errno) : "out of memory");
            goto fail;
        }
        gzbuffer(s->gz, 128u * 1024u);
        s->pos = 0; /* the first read skips the header */
    }
    ds->dtype = magic[2] == 0x08 ? QUANTA_U8 : QUANTA_I8;
    ds->n_samples = full.dims[0];
    ds->sample_shape.rank = ndims - 1;
    for (int i = 1; i < ndims; i++)
        ds->sample_shape.dims[i - 1] = full.dims[i];
    if (ndims == 3) { /* [N,H,W] images are one-channel NHWC */
        ds->sample_shape.rank = 3;
        ds->sample_shape.dims[2] = 1;
    }
    s->data_offset = header;
    int64_t sample_numel = quanta_shape_numel(&ds->sample_shape);
    s->sample_bytes = sample_numel < 0 ? 0 : (size_t)sample_numel;
    *out = &s->base;
    return QUANTA_OK;
fail:
    idx_close(&s->base);
    return st;
}
