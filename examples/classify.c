/* classify: loads a model (an int8 one from quanta quantize, or a float
 * one), classifies one image of an IDX or NPY file and prints the top
 * classes with their softmax probabilities. An example of the quanta
 * runtime API (man quanta(3)); build it against the installed library:
 *
 *   cc classify.c $(pkg-config --cflags --libs quanta-rt) -lm -o classify
 *   ./classify fmnist-cnn.int8.safetensors t10k-images-idx3-ubyte 7 3
 *
 * usage: classify MODEL DATA [INDEX [TOP]]
 * DATA: uncompressed IDX (unsigned byte or float) or NPY (|u1, <f4) whose
 * samples are the model's one input without the batch (an IDX image
 * [28, 28] for an input [N, 28, 28, 1]); byte data is normalized as the
 * model says. Prints "class probability" lines, best first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <quanta/quanta.h>

/* One sample: n values as float, and whether they were integers (bytes). */
struct sample {
    float *values;
    size_t n;
    int integer;
};

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "classify: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads sample index of n values at data offset off (elements of size
 * bytes, u8 or little-endian f32). */
static int read_values(FILE *f, const char *path, long off, long index, size_t size,
                       struct sample *s)
{
    unsigned char *raw = malloc(s->n * size);
    s->values = malloc(s->n * sizeof *s->values);
    int ok = raw && s->values && fseek(f, off + index * (long)(s->n * size), SEEK_SET) == 0 &&
             fread(raw, size, s->n, f) == s->n;
    for (size_t i = 0; ok && i < s->n; i++) {
        if (size == 1) {
            s->values[i] = raw[i];
        } else {
            uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                         (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
            memcpy(&s->values[i], &u, 4);
        }
    }
    free(raw);
    return ok ? 0 : fail("%s: too short for that sample", path);
}

/* IDX: magic 0 0 type rank, rank big-endian dims; type 0x08 u8, 0x0D f32
 * (big-endian, unlike NPY's). */
static int read_idx(FILE *f, const char *path, long index, struct sample *s)
{
    unsigned char h[4 + 4 * 8];
    if (fread(h, 1, 4, f) != 4 || h[0] || h[1] || (h[2] != 0x08 && h[2] != 0x0D) || h[3] < 1 ||
        h[3] > 8 || fread(h + 4, 4, h[3], f) != h[3])
        return fail("%s: not an uncompressed IDX file of bytes or floats", path);
    long count = (long)be32(h + 4);
    s->n = 1;
    for (int d = 1; d < h[3]; d++)
        s->n *= be32(h + 4 + 4 * d);
    if (index >= count)
        return fail("%s: has fewer samples than asked for", path);
    s->integer = h[2] == 0x08;
    if (read_values(f, path, 4 + 4L * h[3], index, s->integer ? 1 : 4, s))
        return 1;
    if (!s->integer) /* IDX floats are big-endian: swap what read_values read */
        for (size_t i = 0; i < s->n; i++) {
            unsigned char b[4], r[4];
            memcpy(b, &s->values[i], 4);
            r[0] = b[3], r[1] = b[2], r[2] = b[1], r[3] = b[0];
            memcpy(&s->values[i], r, 4);
        }
    return 0;
}

/* NPY 1.0: "\x93NUMPY" 1 0, u16 header length, a dict with 'descr' '|u1'
 * or '<f4', 'fortran_order': False and 'shape': (count, ...). */
static int read_npy(FILE *f, const char *path, long index, struct sample *s)
{
    unsigned char pre[10];
    char header[4096];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY\x01", 7) != 0)
        return fail("%s: not an NPY 1.0 file", path);
    size_t len = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (len >= sizeof header || fread(header, 1, len, f) != len)
        return fail("%s: bad NPY header", path);
    header[len] = '\0';
    s->integer = strstr(header, "'|u1'") != NULL;
    if (!s->integer && !strstr(header, "'<f4'"))
        return fail("%s: NPY data is neither |u1 nor <f4", path);
    if (strstr(header, "'fortran_order': True"))
        return fail("%s: Fortran-order NPY is not read", path);
    const char *p = strstr(header, "'shape': (");
    if (!p)
        return fail("%s: NPY header has no shape", path);
    p += strlen("'shape': (");
    long count = strtol(p, (char **)&p, 10);
    s->n = 1;
    while (*p == ',' && p[1] == ' ' && p[2] >= '0' && p[2] <= '9')
        s->n *= (size_t)strtol(p + 2, (char **)&p, 10);
    if (index >= count)
        return fail("%s: has fewer samples than asked for", path);
    return read_values(f, path, 10 + (long)len, index, s->integer ? 1 : 4, s);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: classify MODEL DATA [INDEX [TOP]]\n");
        return 2;
    }
    long index = argc > 3 ? atol(argv[3]) : 0;
    int top = argc > 4 ? atoi(argv[4]) : 3;
    if (index < 0 || top < 1)
        return fail("%s", "INDEX must be >= 0 and TOP >= 1");

    struct quanta_error err = {0};
    quanta_model *model = NULL;
    quanta_session *session = NULL;
    struct sample s = {0};
    int rc = 1;
    if (quanta_model_load(&model, argv[1], &err) != QUANTA_OK)
        goto report;
    struct quanta_shape in_shape;
    if (quanta_model_input_count(model) != 1 || quanta_model_input_dtype(model, 0) != QUANTA_F32 ||
        quanta_model_input_shape(model, 0, &in_shape, &err) != QUANTA_OK) {
        fail("%s: not a model of one float input", argv[1]);
        goto done;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fail("%s: cannot open", argv[2]);
        goto done;
    }
    unsigned char magic;
    int bad = fread(&magic, 1, 1, f) != 1 || fseek(f, 0, SEEK_SET) != 0 ||
              (magic == 0x93 ? read_npy(f, argv[2], index, &s) : read_idx(f, argv[2], index, &s));
    fclose(f);
    if (bad)
        goto done;
    size_t want = 1;
    for (int d = 1; d < in_shape.rank; d++)
        want *= (size_t)in_shape.dims[d];
    if (s.n != want) {
        fail("%s: a sample does not have the model input's element count", argv[2]);
        goto done;
    }
    /* integer data (pixels) gets the model's "normalize", as quanta run does */
    if (s.integer && quanta_model_normalize(model, 0, s.values, s.values, s.n, &err) != QUANTA_OK)
        goto report;

    struct quanta_session_options opt = {.size = sizeof opt, .threads = 1, .max_batch = 1};
    if (quanta_session_create(&session, model, &opt, &err) != QUANTA_OK)
        goto report;
    const void *inputs[1] = {s.values};
    if (quanta_session_run(session, 1, inputs, &err) != QUANTA_OK)
        goto report;
    struct quanta_shape out_shape;
    const float *y = quanta_session_output(session, 0, &out_shape);
    int n = 1;
    for (int d = 1; d < out_shape.rank; d++)
        n *= (int)out_shape.dims[d];

    /* softmax, then the top classes, ties to the lower class */
    double max = y[0], sum = 0;
    for (int i = 1; i < n; i++)
        max = y[i] > max ? y[i] : max;
    for (int i = 0; i < n; i++)
        sum += exp(y[i] - max);
    char *taken = calloc((size_t)n, 1);
    if (!taken) {
        fail("%s", "out of memory");
        goto done;
    }
    printf("model %s, kernels %s, output '%s'\n", argv[1], quanta_kernel_level(),
           quanta_model_output_name(model, 0));
    for (int k = 0; k < top && k < n; k++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!taken[i] && (best < 0 || y[i] > y[best]))
                best = i;
        taken[best] = 1;
        printf("%d %.6f\n", best, exp(y[best] - max) / sum);
    }
    free(taken);
    rc = 0;
    goto done;
report:
    fprintf(stderr, "classify: %s (%s)\n", err.message, quanta_status_message(err.status));
done:
    free(s.values);
    quanta_session_free(session);
    quanta_model_free(model);
    return rc;
}
