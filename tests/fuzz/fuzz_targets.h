/* The fuzz entry points, shared by the libFuzzer targets
 * (tests/fuzz/fuzz_<target>.c) and the regression suite
 * (tests/unit/test_fuzz_regress.c), so that a stored reproducer goes
 * through exactly the code that found it.
 *
 * Each entry runs one input through the public API and frees everything.
 * It returns 0, or a non-zero code when an invariant that the API promises
 * does not hold (a round trip that changes or fails); the fuzzers trap on
 * that, the tests assert 0. *last receives the status of the main call
 * (st_open, graph_parse or model_open, dataset_open, calib_table_load).
 *
 * Inputs reach the readers as files: the bytes are written to a memfd and
 * opened as /proc/self/fd/N, so nothing touches the disk and the library
 * needs no in-memory variant. */
#ifndef QUANTA_FUZZ_TARGETS_H
#define QUANTA_FUZZ_TARGETS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "quanta/calib.h"
#include "quanta/data.h"
#include "quanta/graph.h"
#include "quanta/safetensors.h"
#include "import/onnx_model.h"

/* ---- input as a file ---- */

/* Path of a memfd holding data[0..size); the same memfd is reused by every
 * call (its previous content replaced). NULL if the memfd cannot be made. */
static inline const char *fuzz_input_path(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("quanta-fuzz", MFD_CLOEXEC);
        if (fd < 0)
            return NULL;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0)
        return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            return NULL;
        done += (size_t)w;
    }
    return path;
}

/* Prints err when $QUANTA_FUZZ_VERBOSE is set (for checking seeds). */
static inline void fuzz_report(const char *what, enum quanta_status st,
                               const struct quanta_error *err)
{
    if (getenv("QUANTA_FUZZ_VERBOSE"))
        fprintf(stderr, "%s: status %d: %s\n", what, (int)st, st ? err->message : "ok");
}

/* ---- safetensors ---- */

static inline int fuzz_safetensors(const uint8_t *data, size_t size, enum quanta_status *last)
{
    struct quanta_error err = {0};
    const char *path = fuzz_input_path(data, size);
    if (!path)
        return 0;
    struct st_file f;
    enum quanta_status st = st_open(&f, path, &err);
    *last = st;
    fuzz_report("st_open", st, &err);
    if (st != QUANTA_OK)
        return 0;
    int bad = 0;
    float sink[64];
    for (size_t i = 0; i < f.n_tensors; i++) {
        const struct st_tensor *t = &f.tensors[i];
        /* the first tensor of a name is the one st_find returns */
        const struct st_tensor *found = st_find(&f, t->name);
        if (!found || strcmp(found->name, t->name) != 0)
            bad = 1;
        /* touch the first and last elements through the public pointer */
        size_t esize = quanta_dtype_size(t->dtype);
        size_t n = (size_t)(t->end - t->begin) / esize;
        if ((size_t)(t->end - t->begin) != n * esize)
            bad = 2;
        if (n > 0) {
            quanta_convert_to_f32(t->dtype, t->data, sink, 1);
            quanta_convert_to_f32(t->dtype, (const uint8_t *)t->data + (n - 1) * esize, sink, 1);
        }
        if ((const uint8_t *)t->data < f.data ||
            (const uint8_t *)t->data + (t->end - t->begin) > f.data + f.data_size)
            bad = 3;
    }
    for (size_t i = 0; i < f.n_meta; i++)
        if (!st_meta_find(&f, f.meta[i].key))
            bad = 4;
    st_close(&f);
    return bad;
}

/* ---- graph ---- */

/* A small file of tensors in memory for graph_parse: the tensors of
 * tests/fixtures/ops/all_ops.safetensors (so its graph parses), quantized
 * conv parameters, an embedding table, half-precision weights; one tensor
 * deliberately misaligned (the parser must copy it). */
struct fuzz_tensor_spec {
    const char *name;
    enum quanta_dtype dtype;
    int rank;
    int64_t dims[4];
};

static const struct fuzz_tensor_spec fuzz_graph_tensor_specs[] = {
    {"conv1.weight", QUANTA_F32, 4, {6, 3, 3, 3}},
    {"conv1.bias", QUANTA_F32, 1, {6}},
    {"bn.gamma", QUANTA_F32, 1, {6}},
    {"bn.beta", QUANTA_F32, 1, {6}},
    {"bn.mean", QUANTA_F32, 1, {6}},
    {"bn.var", QUANTA_F32, 1, {6}},
    {"dw.weight", QUANTA_F32, 4, {6, 3, 3, 1}},
    {"dw.bias", QUANTA_F32, 1, {6}},
    {"scale.b", QUANTA_F32, 1, {6}},
    {"fc1.weight", QUANTA_F32, 2, {16, 48}},
    {"fc1.bias", QUANTA_F32, 1, {16}},
    {"shift.b", QUANTA_F32, 1, {16}},
    {"fc2.weight", QUANTA_F32, 2, {5, 28}}, /* misaligned below */
    {"q.weight", QUANTA_I8, 4, {6, 3, 3, 3}},
    {"q.weight.scale", QUANTA_F32, 1, {6}},
    {"q.weight.zero_point", QUANTA_I32, 1, {6}},
    {"q.bias", QUANTA_I32, 1, {6}},
    {"q.bias.scale", QUANTA_F32, 1, {6}},
    {"q.bias.zero_point", QUANTA_I32, 1, {6}},
    {"qd.weight", QUANTA_I8, 2, {5, 28}},
    {"emb.table", QUANTA_F32, 2, {10, 4}},
    {"h.weight", QUANTA_F16, 2, {5, 28}},
    {"bf.weight", QUANTA_BF16, 2, {5, 28}},
    {"u8.weight", QUANTA_U8, 2, {5, 28}},
    {"ids.const", QUANTA_I64, 2, {1, 3}},
    {"scalar", QUANTA_F32, 0, {0}},
};

#define FUZZ_GRAPH_N_TENSORS (sizeof fuzz_graph_tensor_specs / sizeof fuzz_graph_tensor_specs[0])

static inline const struct st_file *fuzz_graph_file(void)
{
    static struct st_file file;
    static struct st_tensor tensors[FUZZ_GRAPH_N_TENSORS];
    static _Alignas(16) uint8_t pool[16384];
    static char path[] = "fuzz-tensors";
    if (file.n_tensors)
        return &file;
    uint64_t at = 0;
    for (size_t i = 0; i < FUZZ_GRAPH_N_TENSORS; i++) {
        const struct fuzz_tensor_spec *s = &fuzz_graph_tensor_specs[i];
        struct st_tensor *t = &tensors[i];
        t->name = s->name;
        t->dtype = s->dtype;
        t->shape.rank = s->rank;
        for (int k = 0; k < s->rank; k++)
            t->shape.dims[k] = s->dims[k];
        size_t esize = quanta_dtype_size(s->dtype);
        size_t n = (size_t)quanta_shape_numel(&t->shape);
        at = (at + 7) & ~(uint64_t)7;
        if (strcmp(s->name, "fc2.weight") == 0)
            at += 2; /* misaligned for F32 */
        t->begin = at;
        t->end = at + n * esize;
        t->data = pool + at;
        /* every element 0.5 (floats), 1 (I8, U8), 0 (I32, I64): valid
         * scales, zero points and ids */
        for (size_t e = 0; e < n; e++) {
            uint8_t *p = pool + at + e * esize;
            switch (s->dtype) {
            case QUANTA_F32: { float v = 0.5f; memcpy(p, &v, 4); break; }
            case QUANTA_F16: { uint16_t v = 0x3800; memcpy(p, &v, 2); break; }
            case QUANTA_BF16: { uint16_t v = 0x3f00; memcpy(p, &v, 2); break; }
            case QUANTA_I8:
            case QUANTA_U8: p[0] = 1; break;
            default: memset(p, 0, esize); break;
            }
        }
        at = t->end;
    }
    file.path = path;
    file.data = pool;
    file.data_size = at;
    file.tensors = tensors;
    file.n_tensors = FUZZ_GRAPH_N_TENSORS;
    return &file;
}

/* Checks what a parsed graph promises: graph_to_json is deterministic and
 * its text parses back (with the same tensors) to the same text. */
static inline int fuzz_graph_roundtrip(struct graph *g, const struct st_file *file)
{
    int bad = 0;
    for (int v = 0; v < g->n_values; v++) {
        struct quanta_shape s = graph_value_shape(g, v, 3);
        if (s.rank < 0 || s.rank > QUANTA_MAX_RANK)
            bad = 10;
        if (graph_find_value(g, g->values[v].name) < 0)
            bad = 11;
    }
    char *json = graph_to_json(g);
    char *again = graph_to_json(g);
    if (!json || !again) {
        free(json);
        free(again);
        return bad;
    }
    if (strcmp(json, again) != 0)
        bad = 12;
    struct graph g2;
    struct quanta_error err = {0};
    enum quanta_status st = graph_parse(&g2, json, file, "fuzz-roundtrip", &err);
    fuzz_report("graph_parse(graph_to_json)", st, &err);
    if (st == QUANTA_OK) {
        char *json2 = graph_to_json(&g2);
        if (json2 && strcmp(json, json2) != 0)
            bad = 13;
        free(json2);
        graph_free(&g2);
    } else if (st != QUANTA_ERR_NOMEM) {
        bad = 14;
    }
    free(json);
    free(again);
    return bad;
}

/* Input starting with '{': graph JSON, parsed against the
 * tensors of fuzz_graph_file(). Anything else: a whole model file for
 * model_open. */
static inline int fuzz_graph(const uint8_t *data, size_t size, enum quanta_status *last)
{
    struct quanta_error err = {0};
    int bad = 0;
    if (size > 0 && data[0] == '{') {
        char *json = malloc(size + 1);
        if (!json)
            return 0;
        memcpy(json, data, size);
        json[size] = '\0';
        const struct st_file *file = fuzz_graph_file();
        struct graph g;
        enum quanta_status st = graph_parse(&g, json, file, "fuzz", &err);
        *last = st;
        fuzz_report("graph_parse", st, &err);
        free(json);
        if (st == QUANTA_OK) {
            bad = fuzz_graph_roundtrip(&g, file);
            /* validating again must accept what was accepted */
            if (graph_validate(&g, "fuzz-revalidate", &err) != QUANTA_OK)
                bad = 15;
            graph_free(&g);
        }
        return bad;
    }
    const char *path = fuzz_input_path(data, size);
    if (!path)
        return 0;
    struct model m;
    enum quanta_status st = model_open(&m, path, &err);
    *last = st;
    fuzz_report("model_open", st, &err);
    if (st != QUANTA_OK)
        return 0;
    if (m.has_graph)
        bad = fuzz_graph_roundtrip(&m.graph, &m.file);
    model_close(&m);
    return bad;
}

/* ---- data sets (IDX, gzip IDX, NPY, safetensors) and labels ---- */

/* Reads every sample in batches, as float (plain, then normalized, the
 * way calibrate and eval read) and as ids; then loads labels from the same
 * file. The batch buffer is what a caller would allocate for the shape
 * the header claims. */
static inline int fuzz_dataset(const uint8_t *data, size_t size, enum quanta_status *last)
{
    struct quanta_error err = {0};
    const char *path = fuzz_input_path(data, size);
    if (!path)
        return 0;
    struct dataset *ds = NULL;
    enum quanta_status st = dataset_open(&ds, path, NULL, &err);
    *last = st;
    fuzz_report("dataset_open", st, &err);
    int bad = 0;
    if (st == QUANTA_OK) {
        int64_t numel = quanta_shape_numel(&ds->sample_shape);
        if (numel < 0 || ds->n_samples < 0)
            bad = 20;
        /* batches of 32, fewer if the file has fewer (as calib_run does) */
        int64_t batch = ds->n_samples < 32 ? ds->n_samples : 32;
        if (batch < 1)
            batch = 1;
        size_t elems, bytes;
        float *out = NULL;
        int64_t *ids = NULL;
        /* Nothing is read from a file without samples: no data backs its
         * sample shape, and callers (calib_run, cli_data) refuse it before
         * sizing buffers. A batch too big to address is not read either. */
        if (ds->n_samples > 0 && numel >= 0 &&
            !__builtin_mul_overflow((size_t)batch, (size_t)numel, &elems) &&
            !__builtin_mul_overflow(elems + 1, sizeof *ids, &bytes)) {
            out = malloc((elems + 1) * sizeof *out);
            ids = malloc(bytes);
        }
        static const float mean[1] = {0.5f}, std[1] = {0.25f};
        const struct quanta_normalize norm = {1.0 / 255, 1, mean, 1, std};
        for (int pass = 0; pass < 3 && out && ids && !bad; pass++) {
            for (int64_t i = 0; i < ds->n_samples; i += batch) {
                int64_t n = ds->n_samples - i < batch ? ds->n_samples - i : batch;
                if (pass == 2)
                    st = dataset_read_i64(ds, i, n, ids, &err);
                else
                    st = dataset_read_f32(ds, i, n, pass ? &norm : NULL, out, &err);
                if (st != QUANTA_OK)
                    break;
            }
            fuzz_report("dataset_read", st, &err);
            /* an out-of-range request is refused, not read */
            if (dataset_read_f32(ds, ds->n_samples, 1, NULL, out, &err) == QUANTA_OK)
                bad = 21;
        }
        if (ds->n_samples == 0) {
            float one[1];
            if (dataset_read_f32(ds, 0, 1, NULL, one, &err) == QUANTA_OK)
                bad = 21;
        }
        free(out);
        free(ids);
        dataset_close(ds);
    }
    struct labels labels;
    st = labels_load(&labels, path, &err);
    fuzz_report("labels_load", st, &err);
    if (st == QUANTA_OK && labels.n > 0 && !labels.values)
        bad = 22;
    labels_free(&labels);
    return bad;
}

/* ---- calibration table ---- */

/* calib_table_load on the file, and calib_table_parse on an exactly sized
 * (unterminated) copy; an accepted table must print and read back to the
 * same text. */
static inline int fuzz_calib_table(const uint8_t *data, size_t size, enum quanta_status *last)
{
    struct quanta_error err = {0};
    int bad = 0;
    const char *path = fuzz_input_path(data, size);
    if (!path)
        return 0;
    struct calib_table t;
    enum quanta_status st = calib_table_load(&t, path, &err);
    *last = st;
    fuzz_report("calib_table_load", st, &err);
    if (st == QUANTA_OK)
        calib_table_free(&t);

    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    struct calib_table t2;
    enum quanta_status st2 = calib_table_parse(&t2, copy, size, "fuzz", &err);
    free(copy);
    if (st2 != st && st != QUANTA_ERR_NOMEM && st2 != QUANTA_ERR_NOMEM)
        bad = 30; /* the same bytes from a file or from memory */
    if (st2 != QUANTA_OK)
        return bad;
    char *json = calib_table_to_json(&t2);
    if (json) {
        struct calib_table t3;
        enum quanta_status st3 = calib_table_parse(&t3, json, strlen(json), "fuzz-roundtrip", &err);
        fuzz_report("calib_table_parse(calib_table_to_json)", st3, &err);
        if (st3 == QUANTA_OK) {
            char *json3 = calib_table_to_json(&t3);
            if (json3 && strcmp(json, json3) != 0)
                bad = 31;
            free(json3);
            calib_table_free(&t3);
        } else if (st3 != QUANTA_ERR_NOMEM) {
            bad = 32;
        }
        free(json);
    }
    calib_table_free(&t2);
    return bad;
}

/* ---- ONNX import (src/import) ---- */

/* onnx_model_decode on an exactly sized copy (external data refused: no
 * folder), then onnx_model_load on the same bytes as a file in a private
 * temporary folder (removed at exit), which must agree. */
static char fuzz_onnx_dir[64], fuzz_onnx_path[96];

static inline void fuzz_onnx_cleanup(void)
{
    unlink(fuzz_onnx_path);
    rmdir(fuzz_onnx_dir);
}

static inline int fuzz_onnx(const uint8_t *data, size_t size, enum quanta_status *last)
{
    struct quanta_error err = {0};
    int bad = 0;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    struct onnx_model m;
    enum quanta_status st = onnx_model_decode(&m, copy, size, "fuzz", NULL, &err);
    *last = st;
    fuzz_report("onnx_model_decode", st, &err);
    free(copy);
    if (st == QUANTA_OK) {
        for (int i = 0; m.has_graph && i < m.graph.n_nodes; i++)
            for (int a = 0; a < m.graph.nodes[i].n_attrs; a++)
                if (onnx_node_attr(&m.graph.nodes[i], m.graph.nodes[i].attrs[a].name) == NULL)
                    bad = 40;
        onnx_model_free(&m);
    }
    /* a real folder (not /proc/self/fd, whose entries are this process's
     * descriptors) so that external data names resolve to nothing */
    char *dir = fuzz_onnx_dir, *path = fuzz_onnx_path;
    if (!dir[0]) {
        snprintf(dir, sizeof fuzz_onnx_dir, "/tmp/quanta-fuzz-onnx-XXXXXX");
        if (!mkdtemp(dir)) {
            dir[0] = '\0';
            return bad;
        }
        snprintf(path, sizeof fuzz_onnx_path, "%s/model.onnx", dir);
        atexit(fuzz_onnx_cleanup);
    }
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return bad;
    bool written = fwrite(data, 1, size, fp) == size;
    if (fclose(fp) != 0 || !written)
        return bad;
    struct onnx_model m2;
    enum quanta_status st2 = onnx_model_load(&m2, path, &err);
    fuzz_report("onnx_model_load", st2, &err);
    if (st2 == QUANTA_OK)
        onnx_model_free(&m2);
    /* without external data both readers see the same bytes */
    if (st == QUANTA_OK && st2 != QUANTA_OK && st2 != QUANTA_ERR_NOMEM)
        bad = 41;
    return bad;
}

#endif
